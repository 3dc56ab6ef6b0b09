// TCP_CHECK: a TCP connection within connect_timeout, then close
// (keepalived check_tcp.c: success as soon as connect() completes; nothing is
// sent). Refused, reset, unreachable and timeout are reported apart. The
// connection is a bare socket (connect.ts): no node stream per check.
import type { TcpChecker } from '../../model/types.js';
import { UV_WRITABLE } from '../../native/constants.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { done, targetPortMissing, timeoutOf } from './common.js';
import { connectError, errnoWords, openConnection } from './connect.js';

export function runTcpCheck(c: TcpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = performance.now();
  const missing = targetPortMissing(t);
  if (missing) return Promise.resolve(missing);
  if (opts.signal?.aborted) return Promise.resolve(done(false, 'aborted', t0));
  const o = openConnection(t.address, t.port!, t.family, c);
  if ('error' in o) return Promise.resolve(done(false, o.error, t0));
  const { A, fd } = o;
  if (o.connected) {
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
      const errno = connectError(A, fd);
      if (status < 0 && errno === 0) finish(false, `poll: error ${status}`);
      else finish(errno === 0, errno === 0 ? 'ok' : errnoWords(errno));
    });
    const timer = setTimeout(() => finish(false, `timeout after ${ms} ms (connecting)`), ms);
    const onAbort = () => finish(false, 'aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    poller.start(UV_WRITABLE);
  });
}
