// Receive validation tests: each RFC 5798 §7.1 / RFC 3768 §7.1 check and
// keepalived's additions, with the RFC 6527 / RFC 2787 counter each bumps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VrrpInstance } from '../../src/model/types.js';
import { encode, passAuthData, type VrrpPacket, type VrrpV2Packet, type VrrpV3Packet } from '../../src/vrrp/packet.js';
import { addStats, rxContextFromInstance, validateAdvert, zeroStats, type RxMeta } from '../../src/vrrp/receive.js';
import { instance, MCAST4, PEER, VIP } from './helpers.js';

const META: RxMeta = { src: PEER, dst: MCAST4, ttl: 255 };

function v2(over: Partial<VrrpV2Packet> = {}): VrrpV2Packet {
  return { version: 2, type: 1, vrid: 51, priority: 150, authType: 0, advertIntSec: 1, addresses: [VIP], authData: new Uint8Array(8), ...over };
}
function v3(over: Partial<VrrpV3Packet> = {}): VrrpV3Packet {
  return { version: 3, type: 1, vrid: 51, priority: 150, family: 4, reserved: 0, maxAdvertIntCs: 100, addresses: [VIP], ...over };
}
function check(inst: Partial<VrrpInstance>, p: VrrpPacket | Uint8Array, meta: RxMeta = META, master?: string) {
  const raw = p instanceof Uint8Array ? p : encode(p, { src: meta.src, dst: meta.dst });
  return validateAdvert(rxContextFromInstance(instance(inst)), raw, meta, master);
}

describe('vrrp receive: accepted', () => {
  it('accepts a well-formed v2 advert and counts it', () => {
    const r = check({}, v2());
    assert.equal(r.accept, true);
    assert.equal(r.reason, undefined);
    assert.deepEqual(r.counters, { vrrpv3StatisticsRcvdAdvertisements: 1 });
  });

  it('accepts a well-formed v3 advert', () => {
    assert.equal(check({ version: 3 }, v3()).accept, true);
  });

  it('counts priority 0 (RFC 6527 RcvdPriZeroPackets)', () => {
    const r = check({}, v2({ priority: 0 }));
    assert.equal(r.accept, true);
    assert.equal(r.counters.vrrpv3StatisticsRcvdPriZeroPackets, 1);
  });

  it('addStats accumulates counters', () => {
    const t = addStats(addStats(zeroStats(), { vrrpv3StatisticsRcvdAdvertisements: 1 }), { vrrpv3StatisticsRcvdAdvertisements: 2, vrrpStatsAuthFailures: 1 });
    assert.equal(t.vrrpv3StatisticsRcvdAdvertisements, 3);
    assert.equal(t.vrrpStatsAuthFailures, 1);
  });
});

describe('vrrp receive: RFC 5798 §7.1 / RFC 3768 §7.1 checks', () => {
  it('TTL must be 255 (IpTtlErrors); an unknown TTL is not checked', () => {
    const r = check({}, v2(), { ...META, ttl: 254 });
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'ttl', { vrrpv3StatisticsIpTtlErrors: 1 }]);
    assert.equal(check({}, v2(), { src: PEER, dst: MCAST4 }).accept, true);
  });

  it('the version must match ours (VersionErrors)', () => {
    const r = check({}, v3());
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'version', { vrrpv3RouterVersionErrors: 1 }]);
    const r2 = check({}, Uint8Array.from([0x41, 51, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual([r2.reason, r2.counters], ['version', { vrrpv3RouterVersionErrors: 1 }]);
  });

  it('the checksum must be right (ChecksumErrors)', () => {
    const raw = encode(v2());
    raw[7] = (raw[7] as number) ^ 0xff;
    const r = check({}, raw);
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'checksum', { vrrpv3RouterChecksumErrors: 1 }]);
  });

  it('v3 checksum covers the pseudo-header: a packet checksummed for another source fails', () => {
    const raw = encode(v3(), { src: '192.168.2.99', dst: MCAST4 });
    assert.equal(check({ version: 3 }, raw).reason, 'checksum');
  });

  it('v3_checksum_as_v2: a checksum without pseudo-header is accepted only with the option', () => {
    const raw = encode(v3(), { checksumAsV2: true });
    assert.equal(check({ version: 3 }, raw).reason, 'checksum');
    assert.equal(check({ version: 3, v3ChecksumAsV2: true }, raw).accept, true);
  });

  it('unicast v3: the pre-1.3.6 keepalived checksum (multicast group in the pseudo-header) is accepted', () => {
    const meta = { src: PEER, dst: '192.168.2.11', ttl: 255 };
    const raw = encode(v3(), { src: PEER, dst: MCAST4 });
    assert.equal(check({ version: 3, unicastPeers: [{ address: PEER }] }, raw, meta).accept, true);
  });

  it('another VRID is not our error: counted apart', () => {
    const r = check({}, v2({ vrid: 52 }));
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'otherVrid', { otherVridPackets: 1 }]);
  });

  it('v2 auth: an unknown type (InvalidAuthType), another type (AuthTypeMismatch), a wrong password (AuthFailures)', () => {
    const pass = { auth: { type: 'PASS' as const, pass: 'secret12' } };
    assert.deepEqual(check(pass, v2({ authType: 7 })).counters, { vrrpStatsInvalidAuthType: 1 });
    assert.deepEqual(check(pass, v2({ authType: 0 })).counters, { vrrpStatsAuthTypeMismatch: 1 });
    assert.deepEqual(check({}, v2({ authType: 1, authData: passAuthData('x') })).counters, { vrrpStatsAuthTypeMismatch: 1 });
    assert.deepEqual(check(pass, v2({ authType: 1, authData: passAuthData('secret13') })).counters, { vrrpStatsAuthFailures: 1 });
    assert.equal(check(pass, v2({ authType: 1, authData: passAuthData('secret12') })).accept, true);
  });

  it('v2 PASS compares the first 8 bytes only, as keepalived truncates auth_pass', () => {
    const r = check({ auth: { type: 'PASS', pass: 'secret12345' } }, v2({ authType: 1, authData: passAuthData('secret12XYZ') }));
    assert.equal(r.accept, true);
  });

  it('v2 AH is decoded but refused: haldir cannot verify it', () => {
    const r = check({ auth: { type: 'AH', pass: 'k' } }, v2({ authType: 2 }));
    assert.deepEqual([r.accept, r.reason], [false, 'authFailure']);
  });

  it('v3 ignores configured authentication (keepalived does too)', () => {
    assert.equal(check({ version: 3, auth: { type: 'PASS', pass: 'secret12' } }, v3()).accept, true);
  });

  it('v2: the advert interval must equal ours (AdvIntervalErrors, dropped)', () => {
    const r = check({}, v2({ advertIntSec: 2 }));
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'advertInterval', { vrrpv3StatisticsAdvIntervalErrors: 1 }]);
  });

  it('v3: another interval is counted, not fatal (backups adopt it); zero is refused', () => {
    const r = check({ version: 3 }, v3({ maxAdvertIntCs: 10 }));
    assert.equal(r.accept, true);
    assert.equal(r.reason, 'advertInterval');
    assert.equal(r.counters.vrrpv3StatisticsAdvIntervalErrors, 1);
    assert.equal(check({ version: 3 }, v3({ maxAdvertIntCs: 0 })).accept, false);
  });

  it('the type must be ADVERTISEMENT (RcvdInvalidTypePackets)', () => {
    const r = check({}, v2({ type: 2 }));
    assert.deepEqual([r.accept, r.reason, r.counters], [false, 'type', { vrrpv3StatisticsRcvdInvalidTypePackets: 1 }]);
  });

  it('the packet length must match Count IPvX Addr (PacketLengthErrors)', () => {
    const raw = encode(v2());
    assert.deepEqual(check({}, raw.subarray(0, raw.length - 1)).counters, { vrrpv3StatisticsPacketLengthErrors: 1 });
    assert.deepEqual(check({}, Uint8Array.from([...raw, 0, 0, 0, 0])).counters, { vrrpv3StatisticsPacketLengthErrors: 1 });
    assert.deepEqual(check({}, raw.subarray(0, 5)).counters, { vrrpv3StatisticsPacketLengthErrors: 1 });
  });

  it('an address list that differs is counted (AddressListErrors) but accepted', () => {
    for (const addresses of [['192.168.2.101'], [VIP, '192.168.2.101'], []]) {
      const r = check({}, v2({ addresses }));
      assert.equal(r.accept, true, addresses.join());
      assert.equal(r.reason, 'addressList');
      assert.equal(r.counters.vrrpv3StatisticsAddressListErrors, 1);
    }
  });

  it('vrrp_strict drops an address list that differs, unless from the address owner (RFC 3768 §7.1)', () => {
    assert.equal(check({ strictMode: true }, v2({ addresses: ['192.168.2.101'] })).accept, false);
    assert.equal(check({ strictMode: true }, v2({ addresses: ['192.168.2.101'], priority: 255 })).accept, true);
  });

  it('skip_check_adv_addr: the list is not compared for the master we already follow', () => {
    const p = v2({ addresses: ['192.168.2.101'] });
    assert.equal(check({ skipCheckAdvAddr: true }, p, META, PEER).counters.vrrpv3StatisticsAddressListErrors, undefined);
    assert.equal(check({ skipCheckAdvAddr: true }, p, META, '192.168.2.13').counters.vrrpv3StatisticsAddressListErrors, 1);
  });

  it('multicast instances take multicast adverts only, unicast instances unicast only', () => {
    assert.equal(check({}, v2(), { ...META, dst: '192.168.2.11' }).reason, 'castMismatch');
    assert.equal(check({ unicastPeers: [{ address: PEER }] }, v2(), META).reason, 'castMismatch');
  });

  it('unicast with check_unicast_src: the source must be a peer, its TTL within min/max_ttl', () => {
    const uni = { unicastPeers: [{ address: PEER, minTtl: 250, maxTtl: 255 }], checkUnicastSrc: true };
    const meta = { src: PEER, dst: '192.168.2.11', ttl: 64 };
    assert.equal(check({ ...uni, unicastPeers: [{ address: PEER }] }, v2(), meta).accept, true, 'unicast: TTL 64 fine without a range');
    assert.equal(check(uni, v2(), meta).reason, 'ttl');
    assert.equal(check(uni, v2(), { ...meta, ttl: 252 }).accept, true);
    const r = check(uni, v2(), { ...meta, src: '192.168.2.77', ttl: 255 });
    assert.deepEqual([r.accept, r.reason, r.counters.unknownUnicastSource], [false, 'unicastSource', 1]);
    assert.equal(check({ unicastPeers: [{ address: PEER }] }, v2(), { ...meta, src: '192.168.2.77' }).accept, true, 'not checked unless asked');
  });

  it('IPv6 v3: addresses compared in canonical form', () => {
    const inst = { version: 3 as const, family: 6 as const, vips: [{ address: '2001:DB8:0::64', family: 6 as const, prefix: 64 }] };
    const meta = { src: 'fe80::2%eth0', dst: 'ff02::12', ttl: 255 };
    const r = check(inst, v3({ family: 6, addresses: ['2001:db8::64'] }), meta);
    assert.deepEqual([r.accept, r.reason], [true, undefined]);
  });

  it('unusable source or destination addresses are refused, not thrown', () => {
    assert.equal(check({}, encode(v2()), { src: 'nonsense', dst: MCAST4 }).reason, 'badMeta');
  });
});
