// Pure encoders/decoders of the native layer against hand-checked bytes:
// sockaddr_*, ip_mreqn/ipv6_mreq, cmsg parsing, netlink messages and
// attributes, and the gratuitous-ARP / unsolicited-NA frame builders.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGratuitousArp, buildUnsolicitedNa } from '../../src/net/announce.js';
import {
  bytesToIpv6,
  decodeAncillary,
  decodeSockaddr,
  ipMreqn,
  ipv6Mreq,
  ipv6ToBytes,
  parseCmsgs,
  sockaddrIn,
  sockaddrIn6,
  sockaddrLl,
  sockaddrNl,
} from '../../src/native/sockaddr.js';
import {
  decodeAddress,
  decodeLink,
  decodeNlError,
  ifaddrmsg,
  nlmsg,
  NLM_F_ACK_TLVS,
  parseNlmsgs,
  parseRtattrs,
  rtattr,
  rtattrString,
  rtattrU32,
} from '../../src/netlink/rtnetlink.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

describe('sockaddr', () => {
  it('sockaddr_in: family (host order), port and address (network order), 8 zero bytes', () => {
    assert.deepEqual(sockaddrIn('10.99.0.100', 0x1234), hex('0200 1234 0a630064 0000000000000000'));
  });
  it('sockaddr_in6 carries the scope id for link-local destinations', () => {
    assert.deepEqual(
      sockaddrIn6('fe80::1', 3),
      hex('0a00 0000 00000000 fe800000000000000000000000000001 03000000'),
    );
  });
  it('sockaddr_ll: EtherType in network order, ifindex, halen and MAC', () => {
    assert.deepEqual(
      sockaddrLl({ ifindex: 2, protocol: 0x0806, addr: 'ff:ff:ff:ff:ff:ff' }),
      hex('1100 0806 02000000 0000 00 06 ffffffffffff0000'),
    );
  });
  it('sockaddr_nl: pid and group mask', () => {
    assert.deepEqual(sockaddrNl(0, 0x111), hex('1000 0000 00000000 11010000'));
  });
  it('decodes what it encodes, for every family', () => {
    assert.deepEqual(decodeSockaddr(sockaddrIn('192.0.2.1', 80)), { family: 'inet', address: '192.0.2.1', port: 80 });
    assert.deepEqual(decodeSockaddr(sockaddrIn6('fe80::98:ff:fe00:a', 7)), {
      family: 'inet6',
      address: 'fe80::98:ff:fe00:a',
      port: 0,
      flowinfo: 0,
      scopeId: 7,
    });
    assert.deepEqual(decodeSockaddr(sockaddrLl({ ifindex: 5, protocol: 0x86dd, addr: '02:99:00:00:00:11', pkttype: 2 })), {
      family: 'packet',
      ifindex: 5,
      protocol: 0x86dd,
      hatype: 0,
      pkttype: 2,
      addr: '02:99:00:00:00:11',
    });
    assert.deepEqual(decodeSockaddr(sockaddrNl(42, 1)), { family: 'netlink', pid: 42, groups: 1 });
    assert.equal(decodeSockaddr(Buffer.alloc(16), 0), undefined);
  });
  it('IPv6 text follows RFC 5952 as inet_ntop (and `ip`) print it', () => {
    for (const [input, text] of [
      ['::', '::'],
      ['::1', '::1'],
      ['FE80:0:0:0:98:FF:FE00:A', 'fe80::98:ff:fe00:a'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['ff02::12', 'ff02::12'],
    ] as const)
      assert.equal(bytesToIpv6(ipv6ToBytes(input)), text, input);
    assert.throws(() => ipv6ToBytes('10.0.0.1'), /not an IPv6 address/);
  });
  it('ip_mreqn and ipv6_mreq', () => {
    assert.deepEqual(ipMreqn('224.0.0.18', 4), hex('e0000012 00000000 04000000'));
    assert.deepEqual(ipv6Mreq('ff02::12', 4), hex('ff020000000000000000000000000012 04000000'));
  });
});

describe('cmsg', () => {
  it('IPv4: IP_PKTINFO then IP_TTL, each 8-byte aligned', () => {
    const control = hex(
      // cmsg_len 28 | level IPPROTO_IP | type IP_PKTINFO | ifindex 3, spec_dst 10.96.0.2, addr 224.0.0.18 | pad 4
      '1c00000000000000 00000000 08000000 03000000 0a600002 e0000012 00000000' +
        // cmsg_len 20 | level 0 | type IP_TTL | 255 | pad 4
        '1400000000000000 00000000 02000000 ff000000 00000000',
    );
    const cm = parseCmsgs(control);
    assert.equal(cm.length, 2);
    assert.deepEqual(decodeAncillary(cm), { ifindex: 3, dst: '224.0.0.18', ttl: 255 });
  });
  it('IPv6: IPV6_HOPLIMIT and IPV6_PKTINFO; a truncated tail is ignored', () => {
    const control = hex(
      '1400000000000000 29000000 34000000 ff000000 00000000' +
        '2400000000000000 29000000 32000000 ff020000000000000000000000000012 05000000 00000000' +
        '4000000000000000',
    );
    assert.deepEqual(decodeAncillary(parseCmsgs(control)), { hopLimit: 255, dst: 'ff02::12', ifindex: 5 });
    assert.deepEqual(parseCmsgs(control, 0), []);
  });
});

describe('netlink encoding', () => {
  it('rtattr pads to 4 bytes but its length field excludes the padding', () => {
    assert.deepEqual(rtattrString(3, 'eth0'), hex('0900 0300 6574683000 000000'));
    assert.deepEqual(rtattrU32(8, 0x202), hex('0800 0800 02020000'));
    assert.deepEqual(rtattr(1, hex('0a630064')), hex('0800 0100 0a630064'));
  });
  it('nlmsghdr + ifaddrmsg + attributes, as RTM_NEWADDR for 10.99.0.100/24 on ifindex 2', () => {
    const m = nlmsg(20, 0x605, 7, [ifaddrmsg({ family: 2, prefixlen: 24, index: 2 }), rtattr(2, hex('0a630064'))]);
    assert.deepEqual(m, hex('20000000 1400 0506 07000000 00000000 | 02 18 00 00 02000000 | 0800 0200 0a630064'));
    const [parsed] = parseNlmsgs(Buffer.concat([m, m]));
    assert.equal(parseNlmsgs(Buffer.concat([m, m])).length, 2);
    assert.equal(parsed!.type, 20);
    assert.equal(parsed!.seq, 7);
    assert.deepEqual(parseRtattrs(parsed!.payload, 8).get(2), hex('0a630064'));
  });
  it('an address message decodes with label, broadcast and the 32-bit IFA_FLAGS', () => {
    const payload = Buffer.concat([
      ifaddrmsg({ family: 2, prefixlen: 24, flags: 0x80, scope: 0, index: 3 }),
      rtattr(1, hex('0a630064')),
      rtattr(2, hex('0a630064')),
      rtattr(4, hex('0a6300ff')),
      rtattrString(3, 'eth0:vip'),
      rtattrU32(8, 0x280),
    ]);
    const a = decodeAddress(payload);
    assert.equal(a.address, '10.99.0.100');
    assert.equal(a.prefix, 24);
    assert.equal(a.ifindex, 3);
    assert.equal(a.label, 'eth0:vip');
    assert.equal(a.broadcast, '10.99.0.255');
    assert.equal(a.flags, 0x280);
    assert.equal(a.permanent, true);
    assert.equal(a.peer, undefined);
  });
  it('a link message decodes name, MAC and IFF flags', () => {
    const payload = Buffer.concat([
      hex('00 00 0100 05000000 43100100 00000000'), // ARPHRD_ETHER, ifindex 5, UP|RUNNING|LOWER_UP|…
      rtattrString(3, 'eth0'),
      rtattr(1, hex('029900000011')),
      rtattrU32(4, 1500),
      rtattr(16, hex('06')),
    ]);
    const l = decodeLink(payload);
    assert.deepEqual(
      { ifindex: l.ifindex, name: l.name, mac: l.mac, up: l.up, running: l.running, lowerUp: l.lowerUp, mtu: l.mtu, op: l.operstate },
      { ifindex: 5, name: 'eth0', mac: '02:99:00:00:00:11', up: true, running: true, lowerUp: true, mtu: 1500, op: 'up' },
    );
  });
  it('NLMSG_ERROR: errno and the extended-ACK message after the echoed request', () => {
    const req = nlmsg(20, 0x605, 9, [ifaddrmsg({ family: 2, prefixlen: 32, index: 2 })]);
    const err = nlmsg(2, NLM_F_ACK_TLVS, 9, [hex('efffffff'), req, rtattrString(1, 'ipv4: Address already assigned')]);
    const [m] = parseNlmsgs(err);
    assert.deepEqual(decodeNlError(m!), { errno: 17, extack: 'ipv4: Address already assigned' });
    const [ack] = parseNlmsgs(nlmsg(2, 0, 9, [hex('00000000'), req]));
    assert.deepEqual(decodeNlError(ack!), { errno: 0 });
  });
});

describe('announcement frames', () => {
  it('gratuitous ARP as keepalived sends it (RFC 5227 announcement)', () => {
    assert.deepEqual(
      buildGratuitousArp('02:99:00:00:00:11', '10.99.0.100'),
      hex(
        'ffffffffffff 029900000011 0806' + // Ethernet: broadcast, interface MAC, ARP
          '0001 0800 06 04 0001' + // Ethernet/IPv4, request
          '029900000011 0a630064' + // sender: MAC, VIP
          'ffffffffffff 0a630064', // target: broadcast, VIP
      ),
    );
    assert.equal(buildGratuitousArp('02:99:00:00:00:11', '10.99.0.100', 'reply').readUInt16BE(20), 2);
  });
  it('unsolicited NA: type 136, Override only, target, target link-layer address option', () => {
    assert.deepEqual(
      buildUnsolicitedNa('02:99:00:00:00:11', 'fd00::100'),
      hex('88 00 0000 20000000 fd000000000000000000000000000100 02 01 029900000011'),
    );
    assert.equal(buildUnsolicitedNa('02:99:00:00:00:11', 'fd00::100', { router: true })[4], 0xa0);
  });
});
