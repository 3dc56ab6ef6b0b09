// SMTP_CHECK (keepalived check_smtp.c): connect, read the greeting (must be
// 220), send "HELO <helo_name>" (must answer 250), send "QUIT" and read one
// more reply, whatever its code (keepalived does not judge it; a server that
// hangs up instead fails). Multi-line replies ("250-…") are read to their
// last line. Each `host` block is checked on its own connection, with its own
// connect options falling back to the checker's; no host block = the real
// server. One deadline = connect_timeout per host.
import net from 'node:net';
import type { SmtpChecker, SmtpHost } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { deadline, done, errorReason, hostPort, localOf, now, timeoutOf, unsupportedOptions } from './common.js';

/** keepalived's SMTP_DEFAULT_HELO. */
export const DEFAULT_HELO = 'smtpchecker.keepalived.org';

type Step = 'greeting' | 'HELO' | 'QUIT';

/** One SMTP dialogue with one host. */
export function runSmtpHost(c: SmtpChecker, host: SmtpHost, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const address = host.connectIp ?? t.address;
  const port = host.connectPort ?? t.port ?? 25;
  const unsupported = unsupportedOptions({ bindIf: host.bindIf ?? c.bindIf, fwmark: host.fwmark ?? c.fwmark });
  if (unsupported) return Promise.resolve(done(false, unsupported, t0));
  const ms = timeoutOf(host.connectTimeout ?? c.connectTimeout);
  const helo = c.heloName || DEFAULT_HELO;
  return new Promise((resolve) => {
    let settled = false;
    let step: Step | 'connect' = 'connect';
    let sock: net.Socket | undefined;
    let pending = '';
    const where = hostPort({ address, port });
    const dl = deadline(ms, opts.signal, () => (step === 'connect' ? `connecting to ${where}` : `waiting for ${step} reply from ${where}`));
    const finish = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      dl.clear();
      sock?.destroy();
      resolve(done(ok, reason, t0));
    };
    dl.onExpire((r) => finish(false, r));
    const onReply = (code: number, text: string) => {
      if (step === 'greeting') {
        if (code !== 220) return finish(false, `greeting ${code || JSON.stringify(text.slice(0, 40))} from ${where} (expected 220)`);
        step = 'HELO';
        sock!.write(`HELO ${helo}\r\n`);
      } else if (step === 'HELO') {
        if (code !== 250) return finish(false, `HELO reply ${code || JSON.stringify(text.slice(0, 40))} from ${where} (expected 250)`);
        step = 'QUIT';
        sock!.write('QUIT\r\n');
      } else finish(true, 'ok');
    };
    try {
      sock = net.connect({ host: address, port, family: net.isIPv6(address) ? 6 : 4, ...localOf({ bindTo: host.bindTo ?? c.bindTo, bindPort: host.bindPort ?? c.bindPort }) });
    } catch (err) {
      finish(false, errorReason(err));
      return;
    }
    sock.once('connect', () => (step = 'greeting'));
    sock.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      if (pending.length > 65536) return finish(false, `reply too long from ${where}`);
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        // "250-…" continues a multi-line reply; "250 …" (or a bare "250") ends it.
        if (/^\d{3}-/.test(line)) continue;
        const m = /^(\d{3})(?: |$)/.exec(line);
        onReply(m ? Number(m[1]) : 0, line);
        if (settled) return;
      }
    });
    sock.once('error', (err) => finish(false, `${errorReason(err)}${step === 'connect' ? '' : ` (waiting for ${step} reply)`}`));
    sock.once('close', () => finish(false, step === 'greeting' ? 'no reply' : `connection closed (waiting for ${step} reply)`));
  });
}

/** All host blocks of a checker in turn (no block: the target itself); the first failure decides. */
export async function runSmtpCheck(c: SmtpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const hosts: SmtpHost[] = c.hosts.length ? c.hosts : [{}];
  for (const h of hosts) {
    const r = await runSmtpHost(c, h, t, opts);
    if (!r.ok) return { ...r, latencyMs: done(false, '', t0).latencyMs };
  }
  return done(true, 'ok', t0);
}
