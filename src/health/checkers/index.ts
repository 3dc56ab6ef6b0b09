// The checkers: one attempt of any keepalived checker type against one target,
// behind the RunCheck contract (../types.ts). Dispatch only; each type lives in
// its own module. Nothing here throws: an unexpected exception becomes a
// failed result naming it, so one broken checker cannot take the engine down.
import type { Checker, TrackFile } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget, RunCheck } from '../types.js';
import { runDnsCheck } from './dns.js';
import { resolveTrackFile, runFileCheck } from './file.js';
import { runHttpCheck } from './http.js';
import { runMiscCheck } from './misc.js';
import { runPingCheck } from './ping.js';
import { runSmtpCheck } from './smtp.js';
import { runTcpCheck } from './tcp.js';
import { runUdpCheck } from './udp.js';

export { runDnsCheck } from './dns.js';
export { runFileCheck } from './file.js';
export { runHttpCheck, httpFetch, buildRequest, hostHeader, md5hex } from './http.js';
export { runMiscCheck } from './misc.js';
export { runPingCheck } from './ping.js';
export { runSmtpCheck, runSmtpHost } from './smtp.js';
export { runTcpCheck } from './tcp.js';
export { runUdpCheck } from './udp.js';

export interface RunCheckContext {
  /** The model's track_file definitions, for FILE_CHECK (it names one). */
  trackFiles?: readonly TrackFile[];
}

async function dispatch(c: Checker, t: CheckTarget, opts: AttemptOptions, ctx: RunCheckContext): Promise<CheckResult> {
  switch (c.type) {
    case 'TCP_CHECK':
      return runTcpCheck(c, t, opts);
    case 'HTTP_GET':
    case 'SSL_GET':
      return runHttpCheck(c, t, opts);
    case 'MISC_CHECK':
      return runMiscCheck(c, opts);
    case 'DNS_CHECK':
      return runDnsCheck(c, t, opts);
    case 'UDP_CHECK':
      return runUdpCheck(c, t, opts);
    case 'PING_CHECK':
      return runPingCheck(c, t, opts);
    case 'SMTP_CHECK':
      return runSmtpCheck(c, t, opts);
    case 'FILE_CHECK':
      return runFileCheck(c, ctx.trackFiles ? resolveTrackFile(c.trackFile, ctx.trackFiles) : undefined);
    default:
      return { ok: false, reason: `unknown checker type ${(c as { type?: unknown }).type as string}`, latencyMs: 0 };
  }
}

/** A RunCheck that knows the model's track files (for FILE_CHECK). */
export function createRunCheck(ctx: RunCheckContext = {}): RunCheck {
  return async (c, t, opts = {}) => {
    const t0 = performance.now();
    try {
      return await dispatch(c, t, opts, ctx);
    } catch (err) {
      return { ok: false, reason: `internal error: ${(err as Error)?.message ?? String(err)}`, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    }
  };
}

/** RunCheck without model context: FILE_CHECK then needs its trackFile to be a path. */
export const runCheck: RunCheck = createRunCheck();
