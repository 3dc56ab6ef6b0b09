// MISC_CHECK: runs misc_path without a shell (process/run.ts), killed with its
// process group at misc_timeout (keepalived default: the virtual server's
// delay_loop). keepalived check_misc.c: exit 0 = up, 1 = down; with
// misc_dynamic an exit of 2..255 is up with weight = code − 2 (0 with
// misc_dynamic keeps the configured weight); other codes and signals are down.
import type { MiscChecker } from '../../model/types.js';
import { runScript } from '../../process/run.js';
import type { AttemptOptions, CheckResult } from '../types.js';
import { done, now, timeoutOf } from './common.js';

export async function runMiscCheck(c: MiscChecker, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  if (opts.signal?.aborted) return done(false, 'aborted', t0);
  const ms = timeoutOf(c.timeout ?? c.delayLoop, 60);
  let r;
  try {
    r = await runScript(c.script, [], ms);
  } catch (err) {
    return done(false, `cannot run ${c.script.argv[0] ?? '(empty)'}: ${(err as Error).message}`, t0);
  }
  if (r.error) return done(false, `cannot run ${c.script.argv[0] ?? '(empty)'}: ${r.error}`, t0);
  if (r.timedOut) return done(false, `timeout after ${ms} ms (killed)`, t0);
  if (r.code === null) return done(false, `killed by ${r.signal ?? 'a signal'}`, t0);
  if (r.code === 0) return done(true, 'ok', t0);
  if (c.dynamic && r.code >= 2 && r.code <= 255) return done(true, `ok (exit code ${r.code}, weight ${r.code - 2})`, t0, { weight: r.code - 2 });
  return done(false, `exit code ${r.code}`, t0);
}
