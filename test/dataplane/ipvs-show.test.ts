// `ipvsadm -Ln [--stats]` rendering, against text real ipvsadm 1.31 printed in the
// user-mode-linux guest for the same tables (trailing spaces, its sort with the signed
// address difference, inet_ntop's IPv6 forms, counters shortened past 10^8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FWD, SVC_F, type IpvsDest, type IpvsService, type IpvsStats } from '../../src/dataplane/ipvs/codec.js';
import { cmpServices, glibcMsort, inetNtop6, largeNum, renderIpvsadm } from '../../src/dataplane/ipvs/show.js';
import { parseIpv6 } from '../../src/vrrp/addr.js';

const INFO = { version: 0x010201, connTabSize: 4096 };
const svc = (address: string, o: Partial<IpvsService> = {}): IpvsService => ({ af: address.includes(':') ? 6 : 4, protocol: 6, address, port: 80, scheduler: 'rr', flags: SVC_F.HASHED, timeout: 0, netmask: 0xffffffff, ...o });
const dest = (address: string, o: Partial<IpvsDest> = {}): IpvsDest => ({ af: 4, address, port: 80, fwd: FWD.MASQ, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0, activeConns: 0, inactConns: 0, ...o });

test("ipvsadm's order: 10.0.0.1 after 192.168.0.1 (the unsigned difference read as signed); inet_ntop's IPv6 forms", () => {
  const services = [
    { svc: svc('10.0.0.1'), dests: [dest('10.1.0.1'), dest('192.168.1.1'), dest('172.16.0.1')] },
    ...['192.168.0.1', '200.0.0.1', '127.0.0.1', '11.0.0.1', '250.0.0.1', '1.1.1.1', '::10.0.0.1', '::ffff:10.0.0.2', '1:0:0:1:0:0:0:1', '::2'].map((a) => ({ svc: svc(a), dests: [] })),
  ];
  // As ipvsadm -Ln printed it for these services, added in this order.
  const want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.0.1:80 rr
TCP  200.0.0.1:80 rr
TCP  250.0.0.1:80 rr
TCP  1.1.1.1:80 rr
TCP  10.0.0.1:80 rr
  -> 172.16.0.1:80                Masq    1      0          0         
  -> 192.168.1.1:80               Masq    1      0          0         
  -> 10.1.0.1:80                  Masq    1      0          0         
TCP  11.0.0.1:80 rr
TCP  127.0.0.1:80 rr
TCP  [::2]:80 rr
TCP  [::10.0.0.1]:80 rr
TCP  [::ffff:10.0.0.2]:80 rr
TCP  [1:0:0:1::1]:80 rr
`;
  assert.equal(renderIpvsadm(INFO, services), want);
});

test('flags, persistence, ops, engines, protocols, families and fwmarks as ipvsadm prints them', () => {
  const services = [
    { svc: svc('fd00::10', { port: 443, scheduler: 'nq', flags: SVC_F.HASHED | SVC_F.PERSISTENT, timeout: 60, netmask: 64 }), dests: [dest('fd00::11', { af: 6, port: 443, fwd: FWD.DROUTE })] },
    { svc: svc('10.0.0.60', { scheduler: 'sh', flags: SVC_F.HASHED | SVC_F.SCHED1 | SVC_F.SCHED2 }), dests: [dest('10.10.0.11', { fwd: FWD.DROUTE })] },
    { svc: svc('10.0.0.50', { port: 443, scheduler: 'wlc', flags: SVC_F.HASHED | SVC_F.PERSISTENT, timeout: 300, netmask: 0xffffff00 }), dests: [dest('10.10.0.12', { port: 443, weight: 0 }), dest('10.10.0.11', { port: 443, weight: 3 })] },
    { svc: svc('10.0.0.97', { protocol: 17, port: 5060, flags: SVC_F.HASHED | SVC_F.PERSISTENT, timeout: 30, pe: 'sip' }), dests: [] },
    { svc: svc('10.0.0.70', { protocol: 17, port: 53, flags: SVC_F.HASHED | SVC_F.ONEPACKET }), dests: [] },
    { svc: svc('10.0.0.80', { protocol: 132, port: 3868, scheduler: 'lc' }), dests: [] },
    { svc: svc('10.0.0.94', { scheduler: 'wrr', flags: SVC_F.HASHED | SVC_F.SCHED1 | SVC_F.SCHED2 | SVC_F.SCHED3 }), dests: [] },
    { svc: { ...svc('', { scheduler: 'wrr' }), af: 4 as const, fwmark: 7, address: undefined, port: undefined }, dests: [dest('10.10.0.11', { port: 0, weight: 2, fwd: FWD.DROUTE })] },
    { svc: svc('10.0.0.96'), dests: [dest('fd00::11', { af: 6, fwd: FWD.TUNNEL })] },
  ];
  // Lines as ipvsadm -Ln printed them in the guest for the same services (test/e2e/ipvs-uml.test.ts).
  const want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.50:443 wlc persistent 300 mask 255.255.255.0
  -> 10.10.0.11:443               Masq    3      0          0         
  -> 10.10.0.12:443               Masq    0      0          0         
TCP  10.0.0.60:80 sh (sh-fallback,sh-port)
  -> 10.10.0.11:80                Route   1      0          0         
TCP  10.0.0.94:80 wrr (flag-1,flag-2,flag-3)
TCP  10.0.0.96:80 rr
  -> [fd00::11]:80                Tunnel  1      0          0         
UDP  10.0.0.70:53 rr ops
UDP  10.0.0.97:5060 rr persistent 30 pe sip
SCTP 10.0.0.80:3868 lc
TCP  [fd00::10]:443 nq persistent 60 mask 64
  -> [fd00::11]:443               Route   1      0          0         
FWM  7 wrr
  -> 10.10.0.11:0                 Route   2      0          0         
`;
  assert.equal(renderIpvsadm(INFO, services), want);
});

test('--stats columns, as ipvsadm printed them after real traffic', () => {
  const st = (conns: number, inpkts: number, outpkts: number, inbytes: number, outbytes: number): IpvsStats => ({ conns, inpkts, outpkts, inbytes, outbytes, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });
  const services = [
    { svc: { ...svc('10.0.0.20'), stats: st(6, 30, 30, 1626, 1758) }, dests: [11, 12].map((n) => ({ ...dest(`10.10.0.${n}`, { port: 8080 }), stats: st(2, 10, 10, 542, 586) })) },
    { svc: { ...svc('10.0.0.10'), stats: st(6, 30, 0, 1626, 0) }, dests: [{ ...dest('10.10.0.11', { fwd: FWD.DROUTE }), stats: st(2, 10, 0, 542, 0) }] },
  ];
  const want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.0.0.10:80                        6       30        0     1626        0
  -> 10.10.0.11:80                       2       10        0      542        0
TCP  10.0.0.20:80                        6       30       30     1626     1758
  -> 10.10.0.11:8080                     2       10       10      542      586
  -> 10.10.0.12:8080                     2       10       10      542      586
`;
  assert.equal(renderIpvsadm(INFO, services, { stats: true }), want);
});

test('print_largenum: 9 columns, then K/M/G/T', () => {
  assert.deepEqual([0, 99999999, 100000000, 999999999, 1000000000, 99999999999, 100000000000, 10 ** 14].map(largeNum), [
    '        0',
    ' 99999999',
    '  100000K',
    '  999999K',
    '    1000M',
    '   99999M',
    '     100G',
    '     100T',
  ]);
});

test("glibc's merge sort is stable and takes the left run on ties; inet_ntop", () => {
  const xs = [3, 1, 2, 1, 3].map((v, i) => ({ v, i }));
  assert.deepEqual(glibcMsort(xs, (a, b) => a.v - b.v).map((x) => x.i), [1, 3, 2, 0, 4]);
  const ntop = (s: string): string => inetNtop6(parseIpv6(s)!);
  assert.deepEqual(['::', '::1', '1::', 'fd00::10', '1:0:0:1::1', '1::1:0:0:1', '::ffff:1.2.3.4', '::1.2.3.4', '0:0:1::'].map(ntop), ['::', '::1', '1::', 'fd00::10', '1:0:0:1::1', '1::1:0:0:1', '::ffff:1.2.3.4', '::1.2.3.4', '0:0:1::']);
  assert.ok(cmpServices(svc('10.0.0.1'), svc('192.168.0.1')) > 0);
});
