// Shared pieces of the checkers: timing, result construction, the operator
// wording of socket errors, and the connection options (bindto, bind_port,
// bind_if, fwmark) that node's sockets can or cannot honour.
import { sockaddrIn, sockaddrIn6 } from '../../native/sockaddr.js';
import type { CheckerCommon } from '../../model/types.js';
import type { CheckResult, CheckTarget } from '../types.js';

export const now = (): number => performance.now();

/** Milliseconds since t0, rounded to 0.1 ms. */
export const since = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

export function done(ok: boolean, reason: string, t0: number, extra: Partial<CheckResult> = {}): CheckResult {
  return { ok, reason, latencyMs: since(t0), ...extra };
}

/** connect_timeout in ms (keepalived's default 5 s is applied by the config front ends). */
export function timeoutOf(seconds: number | undefined, fallbackSeconds = 5): number {
  const s = seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds : fallbackSeconds;
  return Math.max(1, Math.round(s * 1000));
}

export const ERRNO_WORDS_BY_NAME: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'cannot bind: address not available',
  EADDRINUSE: 'cannot bind: address in use',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
  ETIMEDOUT: 'timeout (kernel)',
};

/** "connection refused", "connection reset" … for a node/system error; the code otherwise. */
export function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  if (code && ERRNO_WORDS_BY_NAME[code]) return ERRNO_WORDS_BY_NAME[code]!;
  if (code) return `${code}${e?.message && !e.message.includes(code) ? `: ${e.message}` : ''}`;
  return e?.message ?? String(err);
}

/**
 * Connection options node's net/dgram sockets cannot apply: SO_BINDTODEVICE
 * (bind_if) and SO_MARK (fwmark). keepalived fails the check when it cannot
 * apply them (layer4.c: "Checker can't bind to device"), so do we rather than
 * silently probing through another path.
 */
export function unsupportedOptions(o: { bindIf?: string; fwmark?: number }): string | undefined {
  if (o.bindIf) return `bind_if ${o.bindIf} not supported by this checker (no SO_BINDTODEVICE in node sockets)`;
  if (o.fwmark) return `fwmark ${o.fwmark} not supported by this checker (no SO_MARK in node sockets)`;
  return undefined;
}

/** bindto / bind_port as node's localAddress / localPort. */
export function localOf(o: Pick<CheckerCommon, 'bindTo' | 'bindPort'>): { localAddress?: string; localPort?: number } {
  const r: { localAddress?: string; localPort?: number } = {};
  if (o.bindTo) r.localAddress = o.bindTo;
  if (o.bindPort) r.localPort = o.bindPort;
  return r;
}

export function hostPort(t: { address: string; port: number | undefined }): string {
  const h = t.address.includes(':') ? `[${t.address}]` : t.address;
  return t.port === undefined ? h : `${h}:${t.port}`;
}

/** One overall deadline for an attempt, plus the caller's AbortSignal. */
export interface Deadline {
  /** Fires once, on timeout or abort, with the reason to report. */
  onExpire(fn: (reason: string) => void): void;
  clear(): void;
}

export function deadline(ms: number, signal: AbortSignal | undefined, what?: () => string): Deadline {
  let fn: ((reason: string) => void) | undefined;
  let fired = false;
  const fire = (reason: string) => {
    if (fired) return;
    fired = true;
    clear();
    fn?.(reason);
  };
  const timer = setTimeout(() => {
    const phase = what?.();
    fire(`timeout after ${ms} ms${phase ? ` (${phase})` : ''}`);
  }, ms);
  const onAbort = () => fire('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  const clear = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  if (signal?.aborted) queueMicrotask(() => fire('aborted'));
  return {
    onExpire(f) {
      fn = f;
    },
    clear,
  };
}

/** Hex bytes as written in the config (spaces allowed); x/X nibbles are wildcards (keepalived read_hex_str). */
export function parseHex(hex: string): { data: Buffer; mask: Buffer } | undefined {
  const s = hex.replace(/^0x/i, '').replace(/[\s]/g, '');
  if (s.length === 0 || s.length % 2 !== 0 || !/^[0-9a-fA-FxX]+$/.test(s)) return undefined;
  const data = Buffer.alloc(s.length / 2);
  const mask = Buffer.alloc(s.length / 2);
  for (let i = 0; i < data.length; i++) {
    let v = 0;
    let m = 0;
    for (const ch of s.slice(2 * i, 2 * i + 2)) {
      v <<= 4;
      m <<= 4;
      if (ch === 'x' || ch === 'X') m |= 0xf;
      else v |= parseInt(ch, 16);
    }
    data[i] = v;
    mask[i] = m;
  }
  return { data, mask };
}

/** The filler keepalived sends when a UDP/ICMP payload is not configured (layer4.c set_buf). */
export function keepalivedFiller(len: number): Buffer {
  const str = 'keepalived check - ';
  return Buffer.from(str.repeat(Math.ceil(len / str.length)).slice(0, len), 'latin1');
}

export function targetPortMissing(t: CheckTarget): CheckResult | undefined {
  return t.port === undefined ? { ok: false, reason: 'no port to connect to (set connect_port)', latencyMs: 0 } : undefined;
}

// The same few thousand targets are checked every second: encode each sockaddr once.
const sockaddrCache = new Map<string, Uint8Array>();

/** sockaddr_in / sockaddr_in6 for a check's target or source, cached. */
export function targetSockaddr(address: string, port: number, family: 4 | 6): Uint8Array {
  const key = `${address}|${port}`;
  let sa = sockaddrCache.get(key);
  if (!sa) {
    sa = family === 4 ? sockaddrIn(address, port) : sockaddrIn6(address, 0, port);
    if (sockaddrCache.size > 100_000) sockaddrCache.clear();
    sockaddrCache.set(key, sa);
  }
  return sa;
}

/**
 * The end of an attempt, once: clears its deadline, runs `cleanup` (closing a socket
 * that may be closed already is not an error), and resolves with the result.
 */
export function settleOnce(t0: number, dl: Deadline, resolve: (r: CheckResult) => void, cleanup: () => void): (ok: boolean, reason: string) => void {
  let settled = false;
  return (ok, reason) => {
    if (settled) return;
    settled = true;
    dl.clear();
    try {
      cleanup();
    } catch {
      /* already closed */
    }
    resolve(done(ok, reason, t0));
  };
}
