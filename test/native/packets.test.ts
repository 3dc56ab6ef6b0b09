// Packets between two test namespaces A and B joined by a veth pair: a
// gratuitous ARP from A moves B's existing neighbour entry for the VIP to A's
// MAC (and creates none); an unsolicited NA does the same for IPv6 and is
// checked on the wire; VRRP-protocol multicast (IPv4 224.0.0.18 TTL 255, IPv6
// ff02::12 hop limit 255) arrives with TTL/hop limit and ifindex from cmsg and
// a kernel-computed VRRPv3 checksum; an AF_PACKET socket whose link goes down
// reports ENETDOWN and keeps receiving after the link comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipv6ToBytes } from '../../src/native/sockaddr.js';
import { type Json, Lab, netnsUnavailable } from './lab.js';

const skip = netnsUnavailable();
const MAC_A = '02:96:00:00:00:0a';
const MAC_B = '02:96:00:00:00:0b';
const OLD_MAC = '02:96:00:00:00:99';

/** RFC 1071 one's-complement sum over the IPv6 pseudo-header (RFC 8200 §8.1) and payload. */
function ipv6Checksum(src: Buffer, dst: Buffer, proto: number, payload: Buffer): number {
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(payload.length, 32);
  pseudo.writeUInt8(proto, 39);
  const all = Buffer.concat([pseudo, payload, Buffer.alloc(payload.length % 2)]);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

describe('packets between namespaces', { skip }, () => {
  const lab = new Lab();
  let nsA = '';
  let nsB = '';
  let ifindexB = 0;

  const neigh = (ip: string): Json | undefined =>
    lab.ipJson(nsB, 'neigh', 'show', 'dev', 'eth0').find((n) => n.dst === ip);

  const waitRunning = async (ns: string): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      if (lab.ipJson(ns, 'link', 'show', 'dev', 'eth0')[0]!.operstate === 'UP') return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${ns} eth0 not up`);
  };

  before(async () => {
    nsA = lab.addNs('a');
    nsB = lab.addNs('b');
    lab.veth(nsA, 'eth0', MAC_A, nsB, 'eth0', MAC_B);
    lab.ip(nsA, 'addr', 'add', '10.96.0.1/24', 'dev', 'eth0');
    lab.ip(nsB, 'addr', 'add', '10.96.0.2/24', 'dev', 'eth0');
    lab.ip(nsA, 'addr', 'add', 'fd00:96::1/64', 'dev', 'eth0', 'nodad');
    lab.ip(nsB, 'addr', 'add', 'fd00:96::2/64', 'dev', 'eth0', 'nodad');
    ifindexB = lab.ipJson(nsB, 'link', 'show', 'dev', 'eth0')[0]!.ifindex as number;
    await waitRunning(nsA);
    await waitRunning(nsB);
  });
  after(() => lab.cleanup());

  it('gratuitous ARP from A updates the entry B already had for the VIP, and creates none', async () => {
    lab.ip(nsB, 'neigh', 'add', '10.96.0.100', 'lladdr', OLD_MAC, 'dev', 'eth0', 'nud', 'stale');
    const [r] = await lab.run(nsA, 'garp', { ifname: 'eth0', ip: '10.96.0.100', count: 2, intervalMs: 20 });
    assert.equal(r!.sent, 2);
    assert.equal(neigh('10.96.0.100')?.lladdr, MAC_A);
    await lab.run(nsA, 'garp', { ifname: 'eth0', ip: '10.96.0.101' });
    assert.equal(neigh('10.96.0.101'), undefined); // arp_accept=0: announcements never create entries
  });

  it('unsolicited NA from A updates B’s neighbour entry; on the wire it is RFC 4861 §7.2.6', async () => {
    lab.ip(nsB, 'neigh', 'add', 'fd00:96::100', 'lladdr', OLD_MAC, 'dev', 'eth0', 'nud', 'stale');
    const cap = lab.helper(nsB, 'capture', { ifname: 'eth0', protocol: 0x86dd });
    await cap.waitFor((l) => l.ready === true);
    const [r] = await lab.run(nsA, 'una', { ifname: 'eth0', ip: 'fd00:96::100' });
    assert.equal(r!.sent, 1);
    // Ethernet(14) + IPv6(40): next header 58, ICMPv6 type 136 for our target.
    const frame = await cap.waitFor(
      (l) => l.type === 'packet' && typeof l.hex === 'string' && l.hex.slice(40, 42) === '3a' && l.hex.slice(108, 110) === '88',
    );
    cap.proc.kill('SIGKILL');
    const f = Buffer.from(frame.hex as string, 'hex');
    assert.equal(f.subarray(0, 6).toString('hex'), '333300000001'); // to ff02::1's multicast MAC
    assert.equal(f.subarray(6, 12).toString('hex'), MAC_A.replaceAll(':', ''));
    assert.equal(f[21], 255); // hop limit
    assert.equal(f.subarray(22, 24).toString('hex'), 'fe80'); // source: A's link-local
    assert.equal(f.subarray(38, 54).toString('hex'), 'ff020000000000000000000000000001');
    const icmp = f.subarray(54);
    assert.equal(icmp[4], 0x20); // Override, not Solicited, not Router
    assert.equal(icmp.subarray(8, 24).toString('hex'), 'fd000096000000000000000000000100');
    assert.equal(icmp.subarray(24, 32).toString('hex'), `0201${MAC_A.replaceAll(':', '')}`);
    assert.equal(ipv6Checksum(f.subarray(22, 38), f.subarray(38, 54), 58, icmp), 0); // kernel-computed checksum verifies
    assert.equal(neigh('fd00:96::100')?.lladdr, MAC_A);
  });

  it('IPv4 VRRP multicast: 224.0.0.18 with TTL 255 arrives with TTL and ifindex from cmsg', async () => {
    const rx = lab.helper(nsB, 'recv4', { ifname: 'eth0' });
    await rx.waitFor((l) => l.ready === true);
    const [tx] = await lab.run(nsA, 'send4', { ifname: 'eth0' });
    assert.equal(tx!.sent, 20);
    const p = await rx.waitFor((l) => l.type === 'packet');
    assert.equal(p.ttl, 255);
    assert.equal(p.ifindex, ifindexB);
    assert.equal(p.dst, '224.0.0.18');
    assert.deepEqual(p.from, { family: 'inet', address: '10.96.0.1', port: 0 });
    const data = Buffer.from(p.hex as string, 'hex');
    assert.equal(data[8], 255); // the IP header's TTL agrees
    assert.equal(data[9], 112);
    assert.equal(data.subarray(20).toString('hex'), '21630164010100020a6300640000000000000000');
  });

  it('IPv6 VRRP multicast: ff02::12 with hop limit 255 read back from cmsg; kernel checksum (IPV6_CHECKSUM 6)', async () => {
    const rx = lab.helper(nsB, 'recv6', { ifname: 'eth0' });
    await rx.waitFor((l) => l.ready === true);
    const [tx] = await lab.run(nsA, 'send6', { ifname: 'eth0' });
    assert.equal(tx!.sent, 24);
    const p = await rx.waitFor((l) => l.type === 'packet');
    assert.equal(p.hopLimit, 255);
    assert.equal(p.ifindex, ifindexB);
    assert.equal(p.dst, 'ff02::12');
    const from = p.from as Json;
    assert.equal(from.family, 'inet6');
    assert.match(from.address as string, /^fe80::/);
    assert.equal(from.scopeId, ifindexB);
    const data = Buffer.from(p.hex as string, 'hex');
    const linkLocalA = lab.ipJson<{ addr_info: { local: string; scope: string }[] }[]>(nsA, 'addr', 'show', 'dev', 'eth0')[0]!
      .addr_info.find((a) => a.scope === 'link')!.local;
    assert.equal(from.address, linkLocalA);
    const src = ipv6ToBytes(linkLocalA);
    assert.notEqual(data.readUInt16BE(6), 0);
    assert.equal(ipv6Checksum(src, ipv6ToBytes('ff02::12'), 112, data), 0);
  });

  it('AF_PACKET: link down is reported (ENETDOWN) and the socket keeps receiving after link up', async () => {
    const cap = lab.helper(nsA, 'capture', { ifname: 'eth0', protocol: 0x0806 });
    await cap.waitFor((l) => l.ready === true);
    lab.ip(nsA, 'link', 'set', 'eth0', 'down');
    const err = await cap.waitFor((l) => l.type === 'error');
    assert.equal((err.error as Json).code, 'ENETDOWN');
    lab.ip(nsA, 'link', 'set', 'eth0', 'up');
    await waitRunning(nsA);
    await lab.run(nsB, 'garp', { ifname: 'eth0', ip: '10.96.0.222' });
    const p = await cap.waitFor((l) => l.type === 'packet');
    assert.equal((p.hex as string).slice(12 * 2, 14 * 2), '0806');
    assert.ok(cap.lines.indexOf(p) > cap.lines.indexOf(err));
    cap.proc.kill('SIGKILL');
  });
});
