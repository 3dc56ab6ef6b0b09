// TCP_CHECK: a TCP connection within connect_timeout, then close
// (keepalived check_tcp.c: success as soon as connect() completes; nothing is
// sent). Refused, reset, unreachable and timeout are reported apart. Done on a
// bare non-blocking socket from the native addon (connect, poll for writable,
// SO_ERROR): ten thousand checks a second must not each build a node stream.
// That also lets bind_if (SO_BINDTODEVICE) and fwmark (SO_MARK) apply. The close is
// abortive (RST, no TIME_WAIT), as HAProxy's checks close.
import { isIP } from 'node:net';
import type { TcpChecker } from '../../model/types.js';
import { addon } from '../../native/addon.js';
import { AF_INET, AF_INET6, SO_BINDTODEVICE, SO_ERROR, SOCK_STREAM, SOL_SOCKET, UV_WRITABLE } from '../../native/constants.js';
import { errnoText } from '../../native/errors.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { done, targetPortMissing, targetSockaddr, timeoutOf } from './common.js';

const EINPROGRESS = 115;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const TCP_ESTABLISHED = 1;
const SO_MARK = 36;
const SO_LINGER = 13;
/** struct linger { l_onoff = 1, l_linger = 0 }: close with a reset, as HAProxy's checks do. */
const ABORTIVE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
const REASONS: Record<number, string> = { 111: 'connection refused', 104: 'connection reset', 113: 'host unreachable', 101: 'network unreachable', 110: 'connection timed out' };

const reasonOf = (errno: number): string => REASONS[errno] ?? errnoText(errno);


export function runTcpCheck(c: TcpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = performance.now();
  const missing = targetPortMissing(t);
  if (missing) return Promise.resolve(missing);
  if (opts.signal?.aborted) return Promise.resolve(done(false, 'aborted', t0));
  if (!isIP(t.address)) return Promise.resolve(done(false, `bad address ${t.address}`, t0));
  const A = addon();
  const fd = A.socket(t.family === 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return Promise.resolve(done(false, `socket: ${errnoText(-fd)}`, t0));
  const fail = (what: string, rc: number): CheckResult => {
    A.close(fd);
    return done(false, `${what}: ${errnoText(-rc)}`, t0);
  };
  let rc: number;
  if (c.bindIf && (rc = A.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${c.bindIf}\0`))) < 0) return Promise.resolve(fail(`bind_if ${c.bindIf}`, rc));
  if (c.fwmark) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(c.fwmark);
    if ((rc = A.setsockopt(fd, SOL_SOCKET, SO_MARK, v)) < 0) return Promise.resolve(fail(`fwmark ${c.fwmark}`, rc));
  }
  if ((c.bindTo || c.bindPort) && (rc = A.bind(fd, targetSockaddr(c.bindTo ?? (t.family === 4 ? '0.0.0.0' : '::'), c.bindPort ?? 0, t.family))) < 0) {
    return Promise.resolve(fail(`bindto ${c.bindTo ?? ''}:${c.bindPort ?? 0}`, rc));
  }
  // An abortive close leaves no TIME_WAIT behind: thousands of checks a second would otherwise
  // pile up tens of thousands of them and pay for a FIN exchange each.
  A.setsockopt(fd, SOL_SOCKET, SO_LINGER, ABORTIVE);
  rc = A.connect(fd, targetSockaddr(t.address, t.port!, t.family));
  // Loopback often completes at once; otherwise wait for the socket to become writable.
  if (rc === 0) {
    A.close(fd);
    return Promise.resolve(done(true, 'ok', t0));
  }
  if (rc !== -EINPROGRESS) {
    A.close(fd);
    return Promise.resolve(done(false, reasonOf(-rc), t0));
  }
  // On loopback and fast links the handshake has often completed inside connect():
  // TCP_INFO's first byte is the state (1 = ESTABLISHED). Then no poller is needed.
  const info = A.getsockopt(fd, IPPROTO_TCP, TCP_INFO, 1);
  if (typeof info !== 'number' && info[0] === TCP_ESTABLISHED) {
    A.close(fd);
    return Promise.resolve(done(true, 'ok', t0));
  }
  const ms = timeoutOf(c.connectTimeout);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      poller.close();
      // Like keepalived, close at once: a check must not hold a connection open.
      A.close(fd);
      resolve(done(ok, reason, t0));
    };
    const poller = new A.Poller(fd, (status) => {
      const err = A.getsockopt(fd, SOL_SOCKET, SO_ERROR, 4);
      const errno = typeof err === 'number' ? -err : err.readInt32LE(0);
      if (status < 0 && errno === 0) finish(false, `poll: error ${status}`);
      else finish(errno === 0, errno === 0 ? 'ok' : reasonOf(errno));
    });
    const timer = setTimeout(() => finish(false, `timeout after ${ms} ms (connecting)`), ms);
    const onAbort = () => finish(false, 'aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    else poller.start(UV_WRITABLE);
  });
}
