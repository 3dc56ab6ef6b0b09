// The IPVS generic netlink codec against byte layouts written out by hand from the
// kernel's uapi ip_vs.h (enums IPVS_CMD_*, IPVS_SVC_ATTR_*, IPVS_DEST_ATTR_*,
// IPVS_DAEMON_ATTR_*, IPVS_STATS_ATTR_*) and ip_vs_ctl.c's policies (u16 AF/protocol,
// __be16 ports, 16-byte nf_inet_addr, struct ip_vs_flags, __be32 IPv4 netmask), and the
// controller's CTRL_CMD_GETFAMILY (genetlink.h).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daemonAttr,
  decodeDaemon,
  decodeDest,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  destAttr,
  destKey,
  FWD,
  IPVS_CMD,
  ipvsMessage,
  serviceAttr,
  serviceKey,
  SVC_F,
  timeoutAttrs,
  TUN_TYPE,
  type IpvsDest,
  type IpvsService,
} from '../../src/dataplane/ipvs/codec.js';
import { decodeFamily, getFamilyRequest } from '../../src/netlink/genetlink.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');
const zeros = (n: number): string => '00'.repeat(n);

const svc: IpvsService = { af: 4, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff };

test('a TCP service, full (NEW_SERVICE): AF, protocol, 16-byte address, big-endian port, scheduler, flags with an all-ones mask, timeout, netmask', () => {
  const inner = [
    '0600 0100 0200 0000', // AF_INET (u16 2), padded
    '0600 0200 0600 0000', // IPPROTO_TCP
    `1400 0300 0a000001 ${zeros(12)}`, // union nf_inet_addr
    '0600 0400 0050 0000', // port 80, __be16
    '0700 0600 727200 00', // "rr\0"
    '0c00 0700 00000000 ffffffff', // struct ip_vs_flags { flags, mask }
    '0800 0800 00000000', // timeout
    '0800 0900 ffffffff', // netmask 255.255.255.255 (__be32)
  ].join('');
  const body = hex(inner);
  assert.deepEqual(serviceAttr(svc, true), Buffer.concat([hex(`${(4 + body.length).toString(16).padStart(2, '0')}00 0100`), body]));
});

test('identity only (DEL_SERVICE, dest commands) stops after the port; a fwmark service sends the mark instead', () => {
  assert.equal(serviceAttr(svc, false).toString('hex'), hex(`3000 0100 0600 0100 0200 0000 0600 0200 0600 0000 1400 0300 0a000001 ${zeros(12)} 0600 0400 0050 0000`).toString('hex'));
  assert.equal(serviceAttr({ af: 6, protocol: 6, fwmark: 7 }, false).toString('hex'), hex('1400 0100 0600 0100 0a00 0000 0800 0500 07000000').toString('hex'));
});

test('persistence: PERSISTENT flag and timeout; the IPv4 mask big-endian, the IPv6 prefix as a host-order u32; the engine as a string', () => {
  const p4 = serviceAttr({ ...svc, flags: SVC_F.PERSISTENT | SVC_F.SCHED2, timeout: 300, netmask: 0xffffff00, pe: 'sip' }, true).toString('hex');
  assert.ok(p4.includes(hex('0800 0b00 73697000').toString('hex')), 'PE_NAME "sip"');
  assert.ok(p4.includes(hex('0c00 0700 11000000 ffffffff').toString('hex')), 'flags 0x11');
  assert.ok(p4.includes(hex('0800 0800 2c010000').toString('hex')), 'timeout 300');
  assert.ok(p4.endsWith(hex('0800 0900 ffffff00').toString('hex')), 'netmask 255.255.255.0');
  const p6 = serviceAttr({ af: 6, protocol: 6, address: 'fd00::10', port: 443, scheduler: 'nq', flags: 1, timeout: 60, netmask: 64 }, true).toString('hex');
  assert.ok(p6.includes(hex(`1400 0300 fd000000 ${zeros(10)} 0010`).toString('hex')), 'IPv6 address');
  assert.ok(p6.endsWith(hex('0800 0900 40000000').toString('hex')), 'prefix 64');
  assert.throws(() => serviceAttr({ ...svc, scheduler: 'x'.repeat(16) }, true), /longer than IPVS allows/);
  assert.throws(() => serviceAttr({ ...svc, address: '10.0.0.300' }, true), /not an IPv4 address/);
});

test('a destination, full (NEW/SET_DEST): family, address, port, forwarding, weight, thresholds; tunnel fields only for gue/gre', () => {
  const dr: IpvsDest = { af: 4, address: '10.0.0.21', port: 8080, fwd: FWD.DROUTE, weight: 3, uThreshold: 100, lThreshold: 10, tunType: 0, tunPort: 0, tunFlags: 0 };
  const want = ['0600 0b00 0200 0000', `1400 0100 0a000015 ${zeros(12)}`, '0600 0200 1f90 0000', '0800 0300 03000000', '0800 0400 03000000', '0800 0500 64000000', '0800 0600 0a000000'].join('');
  assert.equal(destAttr(dr, true).toString('hex'), hex(`4800 0200 ${want}`).toString('hex'));
  // Identity only for DEL_DEST.
  assert.equal(destAttr(dr, false).length, 4 + 8 + 20 + 8);
  const gue = destAttr({ ...dr, fwd: FWD.TUNNEL, tunType: TUN_TYPE.gue, tunPort: 6080, tunFlags: 1 }, true).toString('hex');
  assert.ok(gue.endsWith(hex('0500 0d00 01000000 0600 0e00 17c0 0000 0600 0f00 0100 0000').toString('hex')), gue);
  const gre = destAttr({ ...dr, fwd: FWD.TUNNEL, tunType: TUN_TYPE.gre, tunPort: 0, tunFlags: 2 }, true).toString('hex');
  assert.ok(gre.endsWith(hex('0500 0d00 02000000 0600 0f00 0200 0000').toString('hex')), gre);
  // ipip is the kernel's default tunnel: nothing extra (older kernels know no TUN_* attributes).
  assert.equal(destAttr({ ...dr, fwd: FWD.TUNNEL }, true).length, destAttr(dr, true).length);
});

test('a whole message: nlmsghdr with the family id, genlmsghdr with the command and version 1', () => {
  const m = ipvsMessage({ id: 0x1d, name: 'IPVS', version: 1, hdrsize: 0, maxattr: 6 }, IPVS_CMD.DEL_SERVICE, [serviceAttr(svc, false)]);
  assert.equal(m.readUInt32LE(0), m.length);
  assert.equal(m.subarray(4, 20).toString('hex'), hex('1d00 0000 00000000 00000000 0301 0000').toString('hex'));
});

test('sync daemon: state, interface, sync id, and the optional max length, group (big-endian), port, ttl', () => {
  const a = daemonAttr({ state: 'master', ifname: 'eth0', syncId: 51, maxLen: 1472, group: '224.0.0.81', port: 8848, ttl: 2 }).toString('hex');
  const want = ['0800 0100 01000000', '0900 0200 65746830 00 000000', '0800 0300 33000000', '0600 0400 c005 0000', '0800 0500 e0000051', '0600 0700 9022 0000', '0500 0800 02 000000'].join('');
  assert.equal(a, hex(`4000 0300 ${want}`).toString('hex'));
  assert.equal(daemonAttr({ state: 'backup', ifname: '', syncId: 0 }, true).toString('hex'), hex('0c00 0300 0800 0100 02000000').toString('hex'));
  assert.throws(() => daemonAttr({ state: 'master', ifname: 'a-very-long-ifname', syncId: 1 }), /longer than IPVS allows/);
});

test('timeouts: only the non-zero ones (SET_CONFIG keeps the others)', () => {
  assert.equal(Buffer.concat(timeoutAttrs({ tcp: 7200, udp: 300 })).toString('hex'), hex('0800 0400 201c0000 0800 0600 2c010000').toString('hex'));
  assert.deepEqual(timeoutAttrs({}), []);
});

/** A reply payload as the kernel builds it: genlmsghdr, then one nested attribute. */
const reply = (cmd: number, nestType: number, attrs: string): Buffer => {
  const body = hex(attrs);
  return Buffer.concat([hex(`${cmd.toString(16).padStart(2, '0')}01 0000`), hex(`${(4 + body.length).toString(16).padStart(4, '0').replace(/(..)(..)/, '$2$1')} ${nestType.toString(16).padStart(2, '0')}00`), body]);
};

test('decodes a service dump entry (ip_vs_genl_fill_service), with the 64-bit counters preferred', () => {
  const stats32 = ['0800 0100 05000000', '0800 0200 0a000000', '0800 0300 00000000', '0c00 0400 e803000000000000', '0c00 0500 0000000000000000'].join('');
  const stats64 = ['0c00 0100 0600000000000000', '0c00 0200 0b00000000000000', '0c00 0300 0000000000000000', '0c00 0400 0010000001000000', '0c00 0500 0000000000000000'].join('');
  const p = reply(
    IPVS_CMD.NEW_SERVICE,
    1,
    [
      '0600 0100 0200 0000',
      '0600 0200 1100 0000',
      `1400 0300 0a000001 ${zeros(12)}`,
      '0600 0400 0035 0000',
      '0700 0600 727200 00',
      '0800 0b00 73697000',
      '0c00 0700 07000000 ffffffff',
      '0800 0800 1e000000',
      '0800 0900 ffffff00',
      `${(4 + hex(stats32).length).toString(16)}00 0a00 ${stats32}`,
      `${(4 + hex(stats64).length).toString(16)}00 0c00 ${stats64}`,
    ].join(''),
  );
  const s = decodeService(p)!;
  assert.deepEqual({ ...s, stats: undefined }, { af: 4, protocol: 17, address: '10.0.0.1', port: 53, scheduler: 'rr', pe: 'sip', flags: 7, timeout: 30, netmask: 0xffffff00, stats: undefined });
  assert.equal(s.stats!.conns, 6);
  assert.equal(s.stats!.inpkts, 11);
  assert.equal(s.stats!.inbytes, 2 ** 32 + 4096);
  assert.equal(serviceKey(s), 'udp:[10.0.0.1]:53');
});

test('decodes a fwmark IPv6 service (no protocol, address or port) and a destination dump entry', () => {
  const s = decodeService(reply(IPVS_CMD.NEW_SERVICE, 1, ['0600 0100 0a00 0000', '0800 0500 09000000', '0700 0600 727200 00', '0c00 0700 02000000 ffffffff', '0800 0800 00000000', '0800 0900 80000000'].join('')))!;
  assert.deepEqual(s, { af: 6, protocol: 6, fwmark: 9, scheduler: 'rr', flags: 2, timeout: 0, netmask: 128 });
  assert.equal(serviceKey(s), 'fwmark:9:6');
  const d = decodeDest(
    reply(
      IPVS_CMD.NEW_DEST,
      2,
      [
        `1400 0100 fd000000 ${zeros(10)} 0011`,
        '0600 0200 1f90 0000',
        '0800 0300 02000000',
        '0800 0400 05000000',
        '0500 0d00 01000000',
        '0600 0e00 17c0 0000',
        '0600 0f00 0100 0000',
        '0800 0500 00000000',
        '0800 0600 00000000',
        '0800 0700 03000000',
        '0800 0800 04000000',
        '0800 0900 00000000',
        '0600 0b00 0a00 0000',
      ].join(''),
    ),
    4,
  )!;
  assert.deepEqual(d, { af: 6, address: 'fd00::11', port: 8080, fwd: FWD.TUNNEL, weight: 5, uThreshold: 0, lThreshold: 0, tunType: 1, tunPort: 6080, tunFlags: 1, activeConns: 3, inactConns: 4, persistConns: 0 });
  assert.equal(destKey(d), '[fd00::11]:8080');
});

test('decodes sync daemons, timeouts and info', () => {
  const dm = decodeDaemon(reply(IPVS_CMD.NEW_DAEMON, 3, ['0800 0100 02000000', '0900 0200 65746830 00 000000', '0800 0300 33000000', '0600 0400 c005 0000', '0600 0700 9022 0000', '0500 0800 01 000000', '0800 0500 e0000051'].join('')));
  assert.deepEqual(dm, { state: 'backup', ifname: 'eth0', syncId: 51, maxLen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 });
  const cfg = Buffer.concat([hex('0d01 0000'), hex('0800 0400 84030000 0800 0500 78000000 0800 0600 2c010000')]);
  assert.deepEqual(decodeTimeouts(cfg), { tcp: 900, tcpFin: 120, udp: 300 });
  const info = Buffer.concat([hex('0e01 0000'), hex('0800 0100 01020100 0800 0200 00100000')]);
  assert.deepEqual(decodeInfo(info), { version: 0x010201, connTabSize: 4096 });
});

test('garbage decodes to nothing instead of throwing', () => {
  assert.equal(decodeService(hex('0101 0000')), undefined);
  assert.equal(decodeDest(hex('0501 0000 0300 0200')), undefined);
  assert.equal(decodeDaemon(hex('0901')), undefined);
  const s = decodeService(reply(IPVS_CMD.NEW_SERVICE, 1, 'ffff 0100'));
  assert.ok(s === undefined || typeof s === 'object');
});

test('generic netlink controller: the GETFAMILY request and its reply', () => {
  const req = getFamilyRequest('IPVS', 7);
  assert.equal(req.toString('hex'), hex('20000000 1000 0100 07000000 00000000 0301 0000 0900 0200 49505653 00 000000').toString('hex'));
  const fam = decodeFamily(hex('0102 0000 0900 0200 49505653 00 000000 0600 0100 1d00 0000 0800 0300 01000000 0800 0400 00000000 0800 0500 06000000'));
  assert.deepEqual(fam, { id: 0x1d, name: 'IPVS', version: 1, hdrsize: 0, maxattr: 6 });
});
