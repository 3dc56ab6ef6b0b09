# Builds build/Release/haldir_native.node from native/haldir_native.cc on
# `npm install` / `npm ci` (npm runs node-gyp when binding.gyp is at the root).
{
  "targets": [
    {
      "target_name": "haldir_native",
      "sources": ["native/haldir_native.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
