// DNS_CHECK: one UDP query (keepalived check_dns.c): random id, RD set, one
// question <name> <type> IN. Success is a reply with our id, QR set and
// rcode 0 — keepalived does not look at the answer count, nor do we (an
// authoritative NOERROR/NODATA answer still proves the server answers).
// Replies with another id or without QR are ignored while the deadline runs.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { DnsChecker } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { deadline, done, errorReason, now, timeoutOf, settleOnce, unsupportedOptions } from './common.js';

export const DNS_TYPES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, RRSIG: 46, DNSKEY: 48 };
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** The query packet; undefined with a reason for a bad name or type. */
export function dnsQuery(id: number, name: string, type: string): Buffer | string {
  const qtype = DNS_TYPES[type.toUpperCase()];
  if (qtype === undefined) return `unknown DNS type ${type}`;
  const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD (keepalived DNS_SET_RD)
  header.writeUInt16BE(1, 4); // qdcount
  parts.push(header);
  for (const l of labels) {
    const b = Buffer.from(l, 'latin1');
    if (b.length === 0 || b.length > 63) return `bad DNS name "${name}"`;
    parts.push(Buffer.from([b.length]), b);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1);
  tail.writeUInt16BE(1, 3); // class IN
  parts.push(tail);
  return Buffer.concat(parts);
}

export function runDnsCheck(c: DnsChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const unsupported = unsupportedOptions(c);
  if (unsupported) return Promise.resolve(done(false, unsupported, t0));
  const id = randomInt(0, 0x10000);
  const query = dnsQuery(id, c.name ?? '', c.queryType || 'SOA');
  if (typeof query === 'string') return Promise.resolve(done(false, query, t0));
  const port = t.port ?? 53;
  const ms = timeoutOf(c.connectTimeout);
  return new Promise((resolve) => {
    let sock: dgram.Socket | undefined;
    const dl = deadline(ms, opts.signal, () => 'no reply');
    const finish = settleOnce(t0, dl, resolve, () => sock?.close());
    dl.onExpire((r) => finish(false, r));
    try {
      sock = dgram.createSocket(t.family === 6 ? 'udp6' : 'udp4');
      sock.on('error', (err) => finish(false, errorReason(err)));
      sock.on('message', (msg) => {
        if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
        const flags = msg.readUInt16BE(2);
        if ((flags & 0x8000) === 0) return; // not a response
        const rcode = flags & 0x0f;
        if (rcode !== 0) return finish(false, `rcode ${RCODES[rcode] ?? rcode}`);
        finish(true, 'ok');
      });
      const start = () =>
        sock!.connect(port, t.address, () => {
          sock!.send(query, (err) => {
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
