// UDP_CHECK (keepalived check_udp.c, layer4.c udp_bind_connect): a connected
// UDP socket sends the payload (keepalived's 32-byte "keepalived check - …"
// filler when none is configured). Without require_reply the check passes
// unless an ICMP unreachable comes back (ECONNREFUSED on the connected socket)
// within connect_timeout; with require_reply a reply must arrive, its length
// within min/max_reply_length (default 0..255) and its first bytes equal to
// the require_reply bytes (x nibbles are wildcards; only the shorter of reply
// and pattern is compared, as keepalived does).
import dgram from 'node:dgram';
import type { UdpChecker } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { deadline, done, errorReason, keepalivedFiller, now, parseHex, targetPortMissing, timeoutOf, settleOnce, unsupportedOptions } from './common.js';

/** Why a reply does not satisfy require_reply, or undefined when it does. */
export function udpReplyMismatch(reply: Buffer, c: Pick<UdpChecker, 'requireReply' | 'minReplyLength' | 'maxReplyLength'>): string | undefined {
  const min = c.minReplyLength ?? 0;
  const max = c.maxReplyLength ?? 255;
  if (reply.length < min || reply.length > max) return `reply length ${reply.length} (expected ${min}-${max})`;
  if (!c.requireReply) return undefined;
  const want = parseHex(c.requireReply);
  if (!want) return `bad require_reply hex "${c.requireReply}"`;
  const n = Math.min(reply.length, want.data.length);
  for (let i = 0; i < n; i++) {
    if (((reply[i]! ^ want.data[i]!) & ~want.mask[i]!) & 0xff) return `reply mismatch at byte ${i} (got ${reply.subarray(0, n).toString('hex')}, expected ${c.requireReply})`;
  }
  return undefined;
}

export function runUdpCheck(c: UdpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const missing = targetPortMissing(t);
  if (missing) return Promise.resolve(missing);
  const unsupported = unsupportedOptions(c);
  if (unsupported) return Promise.resolve(done(false, unsupported, t0));
  let payload: Buffer;
  if (c.payload) {
    const p = parseHex(c.payload);
    if (!p) return Promise.resolve(done(false, `bad payload hex "${c.payload}"`, t0));
    payload = p.data;
  } else payload = keepalivedFiller(32);
  const wantReply = c.requireReply !== undefined;
  const ms = timeoutOf(c.connectTimeout);
  return new Promise((resolve) => {
    let sock: dgram.Socket | undefined;
    const dl = deadline(ms, opts.signal);
    const finish = settleOnce(t0, dl, resolve, () => sock?.close());
    // Silence is success unless a reply is required (keepalived udp_socket_state).
    dl.onExpire((r) => (r !== 'aborted' && !wantReply ? finish(true, 'ok (no reply, no ICMP error)') : finish(false, wantReply && r !== 'aborted' ? `no reply: ${r}` : r)));
    try {
      sock = dgram.createSocket(t.family === 6 ? 'udp6' : 'udp4');
      // An ICMP port/host unreachable surfaces as an error on the connected socket.
      sock.on('error', (err) => finish(false, errorReason(err)));
      sock.on('message', (msg) => {
        if (!wantReply) return finish(true, 'ok');
        const why = udpReplyMismatch(msg, c);
        finish(why === undefined, why ?? 'ok');
      });
      const start = () =>
        sock!.connect(t.port!, t.address, () => {
          sock!.send(payload, (err) => {
            if (err) finish(false, errorReason(err));
          });
        });
      if (c.bindTo || c.bindPort) sock.bind({ address: c.bindTo, port: c.bindPort ?? 0 }, start);
      else start();
    } catch (err) {
      finish(false, errorReason(err));
    }
  });
}
