// haldir_native: the only C++ in haldir. Plain socket syscalls and a uv_poll
// watcher, nothing else: every protocol (sockaddr, cmsg, netlink, ARP, VRRP)
// is encoded in TypeScript (src/native, src/netlink, src/net) so it can be
// unit-tested and faked. Errors come back as negative errno values, never as
// exceptions; only wrong argument types throw (programming errors).
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
  bool ok = false;
};

// Accepts any Uint8Array (a Buffer is one); `null`/`undefined` give ok with no data
// when allowNull is set.
Bytes GetBytes(const Napi::Value& v, bool allowNull) {
  Bytes b;
  if (allowNull && (v.IsNull() || v.IsUndefined())) {
    b.ok = true;
    return b;
  }
  if (!v.IsTypedArray()) return b;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return b;
  Napi::Uint8Array u = ta.As<Napi::Uint8Array>();
  b.data = u.Data();
  b.len = u.ByteLength();
  b.ok = true;
  return b;
}

Napi::Value TypeError(const Napi::Env& env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool Ints(const Napi::CallbackInfo& info, size_t n) {
  if (info.Length() < n) return false;
  for (size_t i = 0; i < n; i++)
    if (!info[i].IsNumber()) return false;
  return true;
}

int Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

Napi::Number Result(const Napi::Env& env, long rc) {
  return Napi::Number::New(env, rc < 0 ? -errno : rc);
}

// socket(domain, type, proto) -> fd | -errno. Always non-blocking and close-on-exec:
// the event loop must never block on a read, and helpers we spawn must not inherit fds.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  if (!Ints(info, 3)) return TypeError(info.Env(), "socket(domain, type, proto)");
  int fd = socket(Int(info, 0), Int(info, 1) | SOCK_NONBLOCK | SOCK_CLOEXEC, Int(info, 2));
  return Result(info.Env(), fd);
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Bytes sa = info.Length() >= 2 ? GetBytes(info[1], false) : Bytes{};
  if (!Ints(info, 1) || !sa.ok) return TypeError(info.Env(), "bind(fd, sockaddr: Uint8Array)");
  return Result(info.Env(), bind(Int(info, 0), reinterpret_cast<sockaddr*>(sa.data), sa.len));
}

// connect(fd, sockaddr) -> 0 | -errno; on a non-blocking socket -EINPROGRESS means "poll for
// writable, then read SO_ERROR" (health checks open thousands of these a second: no streams).
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Bytes sa = info.Length() >= 2 ? GetBytes(info[1], false) : Bytes{};
  if (!Ints(info, 1) || !sa.ok) return TypeError(info.Env(), "connect(fd, sockaddr: Uint8Array)");
  return Result(info.Env(), connect(Int(info, 0), reinterpret_cast<sockaddr*>(sa.data), sa.len));
}

Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  Bytes v = info.Length() >= 4 ? GetBytes(info[3], false) : Bytes{};
  if (!Ints(info, 3) || !v.ok) return TypeError(info.Env(), "setsockopt(fd, level, name, value: Uint8Array)");
  return Result(info.Env(), setsockopt(Int(info, 0), Int(info, 1), Int(info, 2), v.data, v.len));
}

// getsockopt(fd, level, name, maxLen) -> Buffer (trimmed to the returned length) | -errno
Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  if (!Ints(info, 4) || Int(info, 3) < 0) return TypeError(info.Env(), "getsockopt(fd, level, name, maxLen)");
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(info.Env(), Int(info, 3));
  socklen_t len = buf.Length();
  if (getsockopt(Int(info, 0), Int(info, 1), Int(info, 2), buf.Data(), &len) < 0)
    return Napi::Number::New(info.Env(), -errno);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.Data(), len);
}

// sendto(fd, data, sockaddr | null) -> bytes sent | -errno
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  Bytes d = info.Length() >= 2 ? GetBytes(info[1], false) : Bytes{};
  Bytes sa = GetBytes(info[2], true);
  if (!Ints(info, 1) || !d.ok || !sa.ok) return TypeError(info.Env(), "sendto(fd, data: Uint8Array, sockaddr: Uint8Array | null)");
  ssize_t n = sendto(Int(info, 0), d.data, d.len, MSG_DONTWAIT | MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr*>(sa.data), sa.len);
  return Result(info.Env(), n);
}

// recvmsg(fd, data, name | null, control | null, flags?) -> [n, namelen, controllen, msg_flags] | -errno
Napi::Value RecvMsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = info.Length() >= 2 ? GetBytes(info[1], false) : Bytes{};
  Bytes name = GetBytes(info[2], true);
  Bytes ctl = GetBytes(info[3], true);
  if (!Ints(info, 1) || !d.ok || !name.ok || !ctl.ok)
    return TypeError(env, "recvmsg(fd, data: Uint8Array, name: Uint8Array | null, control: Uint8Array | null)");
  int flags = info.Length() >= 5 && info[4].IsNumber() ? Int(info, 4) : 0;
  iovec iov{d.data, d.len};
  msghdr msg{};
  msg.msg_name = name.data;
  msg.msg_namelen = name.len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.data;
  msg.msg_controllen = ctl.len;
  ssize_t n = recvmsg(Int(info, 0), &msg, flags | MSG_DONTWAIT);
  if (n < 0) return Napi::Number::New(env, -errno);
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::Number::New(env, n));
  out.Set(1u, Napi::Number::New(env, msg.msg_namelen));
  out.Set(2u, Napi::Number::New(env, msg.msg_controllen));
  out.Set(3u, Napi::Number::New(env, msg.msg_flags));
  return out;
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!Ints(info, 1)) return TypeError(info.Env(), "close(fd)");
  return Result(info.Env(), close(Int(info, 0)));
}

// ifNameToIndex(name) -> ifindex | -errno (ENODEV when there is no such interface)
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) return TypeError(info.Env(), "ifNameToIndex(name: string)");
  unsigned idx = if_nametoindex(info[0].As<Napi::String>().Utf8Value().c_str());
  return Napi::Number::New(info.Env(), idx == 0 ? -errno : static_cast<double>(idx));
}

// Real-time signals: Node cannot handle them and their default action kills the process
// (keepalived's scripts send SIGRTMIN+2 for its JSON dump). rtSignalPipe(offset) installs
// a handler for SIGRTMIN+offset that writes one byte to a socket pair and returns the
// non-blocking reading end (or -errno): JS polls it with a Poller. write(2) is
// async-signal-safe; errno is saved for the interrupted code. Only real-time signals, so
// libuv's own handlers for the ordinary ones are never touched.
int g_rt_pipe[2][64];

void OnRtSignal(int signo) {
  int saved = errno;
  int off = signo - SIGRTMIN;
  if (off >= 0 && off < 64 && g_rt_pipe[1][off] > 0) {
    unsigned char b = static_cast<unsigned char>(off);
    ssize_t rc = write(g_rt_pipe[1][off], &b, 1);
    (void)rc;  // a full pipe already has a wake-up pending
  }
  errno = saved;
}

Napi::Value RtSignalPipe(const Napi::CallbackInfo& info) {
  if (!Ints(info, 1)) return TypeError(info.Env(), "rtSignalPipe(offset)");
  int off = Int(info, 0);
  int signo = SIGRTMIN + off;
  if (off < 0 || off >= 64 || signo > SIGRTMAX) return Napi::Number::New(info.Env(), -EINVAL);
  if (g_rt_pipe[0][off] > 0) return Napi::Number::New(info.Env(), g_rt_pipe[0][off]);
  int fds[2];
  // A datagram socket pair rather than a pipe: JS drains it with recvmsg like any socket.
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) return Napi::Number::New(info.Env(), -errno);
  g_rt_pipe[0][off] = fds[0];
  g_rt_pipe[1][off] = fds[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnRtSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, nullptr) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), fds[0]);
}

// Poller: a uv_poll_t on an fd, calling callback(status, events) on the loop
// thread. The handle is heap-allocated and freed in uv_close's callback, so it
// outlives the JS object if that is collected first. While started, the
// object holds a reference to itself so it cannot be collected mid-watch.
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {InstanceMethod<&Poller::Start>("start"), InstanceMethod<&Poller::Stop>("stop"),
                        InstanceMethod<&Poller::CloseHandle>("close")});
  }

  explicit Poller(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Poller>(info), ctx_(info.Env(), "haldir.Poller") {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      TypeError(env, "new Poller(fd, callback(status, events))");
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "no uv loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, Int(info, 0));
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      Napi::Error::New(env, uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    handle_->data = this;
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
  }

  ~Poller() override { Release(); }

 private:
  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<Poller*>(h->data);
    if (self == nullptr) return;
    // libuv stops the handle itself on an error status (e.g. POLLERR): mirror that.
    if (status < 0) self->Unpin();
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // Keeps the wrapper (and so `self`) alive even if the callback closes and drops it.
    Napi::Object keep = self->Value();
    self->cb_.MakeCallback(keep, {Napi::Number::New(env, status), Napi::Number::New(env, events)}, self->ctx_);
    // An exception thrown by the callback becomes an ordinary uncaught exception.
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!Ints(info, 1)) return TypeError(info.Env(), "start(events)");
    if (handle_ == nullptr) return Napi::Number::New(info.Env(), UV_EBADF);
    int rc = uv_poll_start(handle_, Int(info, 0), OnPoll);
    if (rc == 0 && !pinned_) {
      Ref();
      pinned_ = true;
    }
    return Napi::Number::New(info.Env(), rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_poll_stop(handle_);
    Unpin();
    return info.Env().Undefined();
  }

  Napi::Value CloseHandle(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Unpin() {
    if (pinned_) {
      pinned_ = false;
      Unref();
    }
  }

  // Stops watching at once (the fd may be closed right after) and frees the handle later.
  void Release() {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
    Unpin();
  }

  uv_poll_t* handle_ = nullptr;
  bool pinned_ = false;
  Napi::FunctionReference cb_;
  Napi::AsyncContext ctx_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New<Socket>(env, "socket"));
  exports.Set("bind", Napi::Function::New<Bind>(env, "bind"));
  exports.Set("connect", Napi::Function::New<Connect>(env, "connect"));
  exports.Set("setsockopt", Napi::Function::New<SetSockOpt>(env, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New<GetSockOpt>(env, "getsockopt"));
  exports.Set("sendto", Napi::Function::New<SendTo>(env, "sendto"));
  exports.Set("recvmsg", Napi::Function::New<RecvMsg>(env, "recvmsg"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("ifNameToIndex", Napi::Function::New<IfNameToIndex>(env, "ifNameToIndex"));
  exports.Set("rtSignalPipe", Napi::Function::New<RtSignalPipe>(env, "rtSignalPipe"));
  exports.Set("Poller", Poller::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(haldir_native, Init)
