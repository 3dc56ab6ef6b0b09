#!/usr/bin/env bash
# One-time set-up on a fresh machine (Debian, Node 20+): the system packages the
# tests and the demo use, the npm dependencies, and the build. Idempotent and
# quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# keepalived: the VRRP peer and the judge of exports (keepalived -t); nginx-light,
# haproxy, openssl: real servers behind health checks, the benchmark peer, test certificates;
# nftables, iproute2, iputils (ping, arping), tcpdump: data planes and network-namespace labs;
# time: bench RSS; wrk, ethtool: the data-plane throughput bench (requests/s, offloads off);
# g++, make, python3: node-gyp builds the native addon (headers from nodejs, nodedir=/usr).
# chromium, python3-prometheus-client: the dashboard e2e (Playwright) and the /metrics parser in test/api.
# user-mode-linux, busybox-static, ipvsadm: kernel IPVS in a user-mode-linux guest (test/e2e/ipvs-uml, bench ipvs-reconcile).
APT_PACKAGES=(keepalived nginx-light haproxy openssl nftables iproute2 iputils-ping iputils-arping tcpdump time wrk ethtool g++ make python3 chromium python3-prometheus-client user-mode-linux busybox-static ipvsadm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The native addon (binding.gyp → build/Release/haldir_native.node) is built by npm ci;
# rebuild it when its sources are newer than the build.
ADDON=build/Release/haldir_native.node
if [ ! -f "$ADDON" ] || [ native/haldir_native.cc -nt "$ADDON" ] || [ binding.gyp -nt "$ADDON" ]; then
  echo "setup: building the native addon"
  npm rebuild --no-audit --no-fund --loglevel=error >/dev/null
fi

npx tsc -p tsconfig.json
