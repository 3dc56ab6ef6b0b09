// TCP_CHECK: a TCP connection within connect_timeout, then close
// (keepalived check_tcp.c: success as soon as connect() completes; nothing is
// sent). Refused, reset and timeout are reported apart.
import net from 'node:net';
import type { TcpChecker } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { deadline, done, errorReason, localOf, now, targetPortMissing, timeoutOf, unsupportedOptions } from './common.js';

export function runTcpCheck(c: TcpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const missing = targetPortMissing(t);
  if (missing) return Promise.resolve(missing);
  const unsupported = unsupportedOptions(c);
  if (unsupported) return Promise.resolve(done(false, unsupported, t0));
  const ms = timeoutOf(c.connectTimeout);
  return new Promise((resolve) => {
    let settled = false;
    let sock: net.Socket | undefined;
    const dl = deadline(ms, opts.signal);
    const finish = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      dl.clear();
      // Like keepalived, close at once: a check must not hold a connection open.
      sock?.destroy();
      resolve(done(ok, reason, t0));
    };
    dl.onExpire((reason) => finish(false, reason));
    try {
      sock = net.connect({ host: t.address, port: t.port!, family: t.family, ...localOf(c) });
    } catch (err) {
      finish(false, errorReason(err));
      return;
    }
    sock.once('connect', () => finish(true, 'ok'));
    sock.once('error', (err) => finish(false, errorReason(err)));
    sock.once('close', () => finish(false, 'connection closed'));
  });
}
