// PING_CHECK: one ICMP / ICMPv6 echo request, up on a matching echo reply
// within connect_timeout (keepalived check_ping.c: 128-byte filler payload,
// sequence number per checker; it uses unprivileged "ping" datagram sockets).
// We open the same datagram socket through the native addon (node has no ICMP
// sockets); when net.ipv4.ping_group_range refuses it, a raw socket (the
// daemon runs as root) with our own identifier and checksum. bind_if
// (SO_BINDTODEVICE), bindto and fwmark (SO_MARK) are honoured here.
import { randomInt } from 'node:crypto';
import { AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET } from '../../native/constants.js';
import { NativeError } from '../../native/errors.js';
import { sockaddrIn, sockaddrIn6 } from '../../native/sockaddr.js';
import { PacketSocket } from '../../native/socket.js';
import type { PingChecker } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { deadline, done, errorReason, keepalivedFiller, now, timeoutOf } from './common.js';

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const SO_MARK = 36;
const PAYLOAD = 128;

let seq = randomInt(0, 0x10000);

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function openIcmp(v6: boolean): { sock: PacketSocket; raw: boolean } {
  const domain = v6 ? AF_INET6 : AF_INET;
  const proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  try {
    return { sock: PacketSocket.open(domain, SOCK_DGRAM, proto, { bufferSize: 2048, controlSize: 256 }), raw: false };
  } catch (err) {
    if (!(err instanceof NativeError) || (err.code !== 'EACCES' && err.code !== 'EPERM')) throw err;
    return { sock: PacketSocket.open(domain, SOCK_RAW, proto, { bufferSize: 2048, controlSize: 256 }), raw: true };
  }
}

export function runPingCheck(c: PingChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  const v6 = t.family === 6;
  const ms = timeoutOf(c.connectTimeout);
  return new Promise((resolve) => {
    let settled = false;
    let sock: PacketSocket | undefined;
    const dl = deadline(ms, opts.signal, () => 'no echo reply');
    const finish = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      dl.clear();
      sock?.close();
      resolve(done(ok, reason, t0));
    };
    dl.onExpire((r) => finish(false, r));
    try {
      const o = openIcmp(v6);
      sock = o.sock;
      if (c.bindIf) sock.bindToDevice(c.bindIf);
      if (c.fwmark) sock.setOption(SOL_SOCKET, SO_MARK, c.fwmark);
      if (c.bindTo) sock.bind(v6 ? sockaddrIn6(c.bindTo) : sockaddrIn(c.bindTo, 0));
      seq = (seq + 1) & 0xffff;
      const mySeq = seq;
      // Datagram ping sockets: the kernel writes the identifier (the socket's "port")
      // and the checksum and delivers only our replies. Raw: we do both and filter.
      const id = o.raw ? randomInt(0, 0x10000) : 0;
      const pkt = Buffer.concat([Buffer.alloc(8), keepalivedFiller(PAYLOAD)]);
      pkt[0] = v6 ? 128 : 8; // echo request
      pkt.writeUInt16BE(id, 4);
      pkt.writeUInt16BE(mySeq, 6);
      if (o.raw && !v6) pkt.writeUInt16BE(inetChecksum(pkt), 2); // the kernel sums ICMPv6 itself
      sock.start(
        (p) => {
          let d = p.data;
          if (o.raw && !v6) d = d.subarray(((d[0] ?? 0x45) & 0x0f) * 4); // raw IPv4 includes the IP header
          if (d.length < 8) return;
          if (d[0] !== (v6 ? 129 : 0)) return; // not an echo reply
          if (d.readUInt16BE(6) !== mySeq) return;
          if (o.raw && d.readUInt16BE(4) !== id) return;
          finish(true, 'ok');
        },
        (err) => finish(false, errorReason(err)),
      );
      const rc = sock.trySend(pkt, v6 ? sockaddrIn6(t.address) : sockaddrIn(t.address, 0));
      if (rc < 0) finish(false, errorReason(new NativeError('sendto', rc)));
    } catch (err) {
      finish(false, errorReason(err));
    }
  });
}
