// Codec tests: golden bytes laid out by hand from RFC 3768 §5.1 / RFC 5798
// §5.1 with checksums computed independently, decode(encode(x)) = x, the
// decoder's refusals (never a throw), and the address helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIp, compareIp, formatIpv6, parseIpv6 } from '../../src/vrrp/addr.js';
import {
  computeChecksum,
  decode,
  encode,
  passAuthData,
  verifyChecksum,
  type VrrpPacket,
} from '../../src/vrrp/packet.js';
import { inetChecksum, LOCAL, MCAST4, v4, VIP } from './helpers.js';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

describe('vrrp packet: golden bytes', () => {
  it('encodes a v2 PASS advert for VRID 51, priority 100, 192.168.2.100 as RFC 3768 §5.1 lays it out', () => {
    // version 2 | type 1, VRID, priority, count, auth type PASS, advert int 1 s, checksum, address, 8 octets of password
    const body = [0x21, 51, 100, 1, 1, 1, 0, 0, ...v4(VIP), ...ascii('secret12')];
    const sum = inetChecksum(body);
    assert.equal(sum, 0x493f, 'hand-computed: words sum to 0x2b6be, folded 0xb6c0, complemented 0x493f');
    body[6] = sum >> 8;
    body[7] = sum & 0xff;
    const packet: VrrpPacket = {
      version: 2,
      type: 1,
      vrid: 51,
      priority: 100,
      authType: 1,
      advertIntSec: 1,
      addresses: [VIP],
      // keepalived sends only the first 8 bytes of auth_pass
      authData: passAuthData('secret12345'),
    };
    assert.deepEqual([...encode(packet)], body);
  });

  it('encodes a v3 IPv4 advert with the pseudo-header checksum (RFC 5798 §5.2.8)', () => {
    const body = [0x31, 51, 100, 1, 0x00, 10, 0, 0, ...v4(VIP)];
    const pseudo = [...v4(LOCAL), ...v4(MCAST4), 0, 112, 0, body.length];
    const sum = inetChecksum([...pseudo, ...body]);
    body[6] = sum >> 8;
    body[7] = sum & 0xff;
    const packet: VrrpPacket = { version: 3, type: 1, vrid: 51, priority: 100, family: 4, reserved: 0, maxAdvertIntCs: 10, addresses: [VIP] };
    assert.deepEqual([...encode(packet, { src: LOCAL, dst: MCAST4 })], body);
    // v3_checksum_as_v2: the same message checksummed without the pseudo-header
    const asV2 = [...body];
    asV2[6] = asV2[7] = 0;
    const sum2 = inetChecksum(asV2);
    assert.deepEqual([...encode(packet, { checksumAsV2: true })].slice(6, 8), [sum2 >> 8, sum2 & 0xff]);
  });

  it('encodes the 12-bit Max Adver Int across both bytes (4095 cs)', () => {
    const bytes = encode({ version: 3, type: 1, vrid: 1, priority: 1, family: 4, reserved: 0, maxAdvertIntCs: 4095, addresses: [] }, { checksumAsV2: true });
    assert.deepEqual([...bytes.subarray(4, 6)], [0x0f, 0xff]);
  });

  it('encodes a v3 IPv6 advert with the RFC 2460 §8.1 pseudo-header', () => {
    const src = [0xfe, 0x80, ...new Array<number>(13).fill(0), 1];
    const dst = [0xff, 0x02, ...new Array<number>(13).fill(0), 0x12];
    const vip = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x64];
    const body = [0x31, 7, 200, 1, 0x00, 100, 0, 0, ...vip];
    const pseudo = [...src, ...dst, 0, 0, 0, body.length, 0, 0, 0, 112];
    const sum = inetChecksum([...pseudo, ...body]);
    body[6] = sum >> 8;
    body[7] = sum & 0xff;
    const packet: VrrpPacket = { version: 3, type: 1, vrid: 7, priority: 200, family: 6, reserved: 0, maxAdvertIntCs: 100, addresses: ['2001:db8::64'] };
    assert.deepEqual([...encode(packet, { src: 'fe80::1', dst: 'ff02::12' })], body);
    assert.ok(verifyChecksum(Uint8Array.from(body), 3, 6, { src: 'fe80::1%eth0', dst: 'ff02::12' }));
  });
});

describe('vrrp packet: round trip', () => {
  const cases: [string, VrrpPacket, 4 | 6][] = [
    ['v2, no auth, 3 addresses', { version: 2, type: 1, vrid: 1, priority: 255, authType: 0, advertIntSec: 255, addresses: ['10.0.0.1', '10.0.0.2', '255.255.255.255'], authData: new Uint8Array(8) }, 4],
    ['v2, PASS', { version: 2, type: 1, vrid: 51, priority: 100, authType: 1, advertIntSec: 1, addresses: [VIP], authData: passAuthData('pw') }, 4],
    ['v2, no address', { version: 2, type: 1, vrid: 255, priority: 0, authType: 2, advertIntSec: 3, addresses: [], authData: passAuthData('12345678') }, 4],
    ['v3 IPv4', { version: 3, type: 1, vrid: 99, priority: 98, family: 4, reserved: 0, maxAdvertIntCs: 10, addresses: ['10.99.0.100'] }, 4],
    ['v3 IPv6, several', { version: 3, type: 1, vrid: 2, priority: 150, family: 6, reserved: 0, maxAdvertIntCs: 4095, addresses: ['2001:db8::1', 'fe80::abcd:1', '::', '1:2:3:4:5:6:7:8'] }, 6],
    ['v3 odd type and reserved bits', { version: 3, type: 7, vrid: 3, priority: 1, family: 4, reserved: 5, maxAdvertIntCs: 1, addresses: [] }, 4],
  ];
  for (const [name, p, family] of cases) {
    it(`decode(encode(x)) = x: ${name}`, () => {
      const bytes = encode(p, { src: family === 4 ? LOCAL : 'fe80::1', dst: family === 4 ? MCAST4 : 'ff02::12' });
      const d = decode(bytes, family);
      assert.ok(d.ok, JSON.stringify(d));
      assert.deepEqual(d.packet, p);
      assert.equal(d.checksum, (bytes[6] as number) * 256 + (bytes[7] as number));
      assert.ok(verifyChecksum(bytes, p.version, family, { src: family === 4 ? LOCAL : 'fe80::1', dst: family === 4 ? MCAST4 : 'ff02::12' }));
    });
  }

  it('detects a flipped bit with the checksum', () => {
    const bytes = encode(cases[1]?.[1] as VrrpPacket);
    bytes[2] = (bytes[2] as number) ^ 0x01;
    assert.equal(verifyChecksum(bytes, 2, 4), false);
  });

  it('computeChecksum ignores what the checksum field holds', () => {
    const bytes = encode(cases[0]?.[1] as VrrpPacket);
    const sum = computeChecksum(bytes, 2, 4);
    bytes[6] = 0xde;
    bytes[7] = 0xad;
    assert.equal(computeChecksum(bytes, 2, 4), sum);
  });
});

describe('vrrp packet: decode refuses, never throws', () => {
  const good = encode({ version: 2, type: 1, vrid: 51, priority: 100, authType: 0, advertIntSec: 1, addresses: [VIP], authData: new Uint8Array(8) });
  const bad: [string, Uint8Array, 4 | 6, string][] = [
    ['empty', new Uint8Array(0), 4, 'short'],
    ['7 bytes', good.subarray(0, 7), 4, 'short'],
    ['truncated address list', good.subarray(0, 14), 4, 'length'],
    ['one byte too many', Uint8Array.from([...good, 0]), 4, 'length'],
    ['count says 2', Uint8Array.from([...good.subarray(0, 3), 2, ...good.subarray(4)]), 4, 'length'],
    ['version 1', Uint8Array.from([0x11, ...good.subarray(1)]), 4, 'version'],
    ['version 15', Uint8Array.from([0xf1, ...good.subarray(1)]), 4, 'version'],
    ['v2 over IPv6', good, 6, 'version'],
  ];
  for (const [name, bytes, family, reason] of bad) {
    it(`${name} → ${reason}`, () => {
      const d = decode(bytes, family);
      assert.equal(d.ok, false);
      if (!d.ok) assert.equal(d.reason, reason);
    });
  }

  it('survives inputs that are not byte arrays', () => {
    for (const x of [null, undefined, 'abc', 42, {}, [1, 2, 3]]) {
      const d = decode(x as unknown as Uint8Array, 4);
      assert.equal(d.ok, false);
      assert.equal(verifyChecksum(x as unknown as Uint8Array, 3, 4, { src: LOCAL, dst: MCAST4 }), false);
    }
  });

  it('encode refuses values the wire cannot carry', () => {
    assert.throws(() => encode({ version: 3, type: 1, vrid: 1, priority: 1, family: 4, reserved: 0, maxAdvertIntCs: 4096, addresses: [] }, { checksumAsV2: true }), RangeError);
    assert.throws(() => encode({ version: 3, type: 1, vrid: 256, priority: 1, family: 4, reserved: 0, maxAdvertIntCs: 1, addresses: [] }, { checksumAsV2: true }), RangeError);
    assert.throws(() => encode({ version: 3, type: 1, vrid: 1, priority: 1, family: 4, reserved: 0, maxAdvertIntCs: 1, addresses: [] }), RangeError, 'v3 needs addresses for the pseudo-header');
    assert.throws(() => encode({ version: 2, type: 1, vrid: 1, priority: 1, authType: 0, advertIntSec: 1, addresses: ['fe80::1'], authData: new Uint8Array(8) }), RangeError);
  });
});

describe('vrrp addresses', () => {
  it('prints IPv6 as RFC 5952 says', () => {
    const cases: [string, string][] = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::ffff:192.0.2.1', '::ffff:c000:201'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalIp(input, 6), want, input);
  });

  it('refuses malformed addresses', () => {
    for (const s of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7', '']) assert.equal(parseIpv6(s), undefined, s);
    for (const s of ['1.2.3', '256.1.1.1', '1.2.3.4.5', 'a.b.c.d', '01234.1.1.1']) assert.equal(canonicalIp(s, 4), undefined, s);
  });

  it('compares addresses as unsigned integers (RFC 5798 §6.4.3)', () => {
    assert.equal(compareIp('192.168.2.12', '192.168.2.11', 4), 1);
    assert.equal(compareIp('10.0.0.255', '10.0.1.0', 4), -1);
    assert.equal(compareIp('fe80::2', 'fe80::10', 6), -1);
    assert.equal(formatIpv6(parseIpv6('fe80::10') as Uint8Array), 'fe80::10');
  });
});
