// Loads haldir's N-API addon (native/haldir_native.cc, built by `npm install`
// into build/Release) and gives it a type. The addon is plain syscalls: every
// function returns a negative errno on failure instead of throwing; only
// wrong argument types throw (TypeError).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A uv_poll watcher on one fd; the callback runs on the event loop thread. */
export interface NativePoller {
  /** Start or change watched events (UV_READABLE | UV_WRITABLE …). Returns 0 or a negative uv error. */
  start(events: number): number;
  stop(): void;
  /** Stops at once and frees the handle; the fd may be closed right after. Idempotent. */
  close(): void;
}

export interface NativePollerConstructor {
  /**
   * `status` is 0 or a negative uv error; on an error (e.g. UV_EBADF for POLLERR) libuv
   * has already stopped the watcher and `start()` must be called again.
   */
  new (fd: number, callback: (status: number, events: number) => void): NativePoller;
}

export interface NativeAddon {
  /** socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC added: fd or -errno. */
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, sockaddr: Uint8Array): number;
  /** 0, or -errno; -EINPROGRESS on a non-blocking stream socket: poll for writable, then read SO_ERROR. */
  connect(fd: number, sockaddr: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  /** The option value trimmed to the length the kernel returned, or -errno. */
  getsockopt(fd: number, level: number, name: number, maxLen: number): Buffer | number;
  /** Bytes sent or -errno (never blocks: -EAGAIN when the buffer is full). */
  sendto(fd: number, data: Uint8Array, sockaddr: Uint8Array | null): number;
  /** [bytes, namelen, controllen, msg_flags] or -errno (-EAGAIN when nothing is queued). */
  recvmsg(
    fd: number,
    data: Uint8Array,
    name: Uint8Array | null,
    control: Uint8Array | null,
    flags?: number,
  ): [number, number, number, number] | number;
  close(fd: number): number;
  /** Interface index or -errno (-ENODEV). */
  ifNameToIndex(name: string): number;
  /**
   * Handles SIGRTMIN+offset (Node cannot; its default kills the process): each arrival
   * writes a byte to a socket pair whose non-blocking reading end is returned (poll it, drain with recvmsg), or -errno.
   */
  rtSignalPipe(offset: number): number;
  Poller: NativePollerConstructor;
}

const ADDON_FILE = join('build', 'Release', 'haldir_native.node');

/** The repository root: the nearest ancestor of this module holding package.json. */
function findAddonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json'))) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let cached: NativeAddon | undefined;

/** The loaded addon (loaded once, on first use, so pure code paths never need it). */
export function addon(): NativeAddon {
  if (cached) return cached;
  const path = findAddonPath();
  if (!path) throw new Error('native addon not built: run npm install');
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new Error(`native addon not built: run npm install (${(err as Error).message})`, { cause: err });
  }
  return cached;
}
