// The doctor's judgement as a pure function: every finding code from crafted
// facts and observations (and its absence once fixed), the VRRP probe codec
// (a probe naming us proves multicast both ways), and the rtnetlink decoders
// that give links their kind and the main table its default route.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose, interfaceRows, renderDoctor, type DirectorRole, type DoctorInput, type Finding, type HeardAdvert } from '../../src/host/doctor.js';
import { pickProbeVrid, lagThresholdMs } from '../../src/host/doctor-run.js';
import { decodeLinkKind, decodeMainRoute } from '../../src/host/netlink.js';
import { encodeProbe, recordDatagram } from '../../src/host/vrrp-probe.js';
import { AF_INET } from '../../src/native/constants.js';
import { ifinfomsg, rtattr, rtattrString, rtattrU32, rtmsg } from '../../src/netlink/rtnetlink.js';
import { encode, passAuthData } from '../../src/vrrp/packet.js';
import type { NodeModel } from '../../src/model/types.js';
import { facts, type FactsSpec } from './fixtures.js';

const VIP = '10.0.0.100';

function input(over: Partial<DoctorInput> & { spec?: FactsSpec } = {}): DoctorInput {
  const { spec, ...rest } = over;
  return {
    facts: facts(spec),
    realServer: [],
    natGateways: [],
    tools: { ipvs: true },
    vrrp: [],
    targets: [],
    lagThresholdMs: 100,
    expectConnections: 65536,
    ...rest,
  };
}
const codes = (fs: Finding[]) => fs.map((f) => f.code);
const get = (fs: Finding[], code: string): Finding => {
  const f = fs.find((x) => x.code === code);
  assert.ok(f, `no ${code} in ${codes(fs).join(', ')}`);
  return f;
};
const dr = [{ vip: VIP, mode: 'dr' as const, from: '--vip' }];
const ARP_OK = { 'eth0.arp_ignore': 1, 'eth0.arp_announce': 2 };

function director(over: Partial<DirectorRole> = {}): DirectorRole {
  return {
    node: 'lb1',
    services: [{ name: `TCP ${VIP}:80`, vip: VIP, kind: 'DR', realServers: [{ address: '10.0.0.31', port: 80 }] }],
    instances: [{ name: 'VI_1', iface: 'eth0', vrid: 51, version: 2, priority: 100, advertInt: 1, vips: [VIP], unicast: false }],
    peersByVrid: { 51: ['lb2'] },
    ...over,
  };
}

describe('doctor: real server findings', () => {
  it('a correct DR real server has no error', () => {
    const fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`], conf: ARP_OK }, realServer: dr }));
    assert.deepEqual(fs.filter((f) => f.severity !== 'info'), []);
  });

  it('arp-flux: VIP on eth0 not carried by VRRP; not reported when this node\'s VRRP holds it', () => {
    const fs = diagnose(input({ spec: { addrs: [`eth0 ${VIP}/24`], conf: ARP_OK }, realServer: dr }));
    const f = get(fs, 'arp-flux');
    assert.equal(f.severity, 'error');
    assert.deepEqual(f.fix, [`ip address del ${VIP}/24 dev eth0`, `haldir realserver setup --vip ${VIP} --mode dr`]);
    get(fs, 'rs-vip-missing');
    const held = diagnose(input({ spec: { addrs: [`eth0 ${VIP}/24`], conf: ARP_OK }, realServer: dr, director: director() }));
    assert.ok(!codes(held).includes('arp-flux'));
    assert.ok(!codes(held).includes('rs-vip-missing'), 'a master holding the VIP on eth0 accepts its traffic');
  });

  it('arp-ignore / arp-announce use the effective value; a lone default is called out', () => {
    let fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`] }, realServer: dr }));
    assert.deepEqual(get(fs, 'arp-ignore').fix, ['sysctl -w net.ipv4.conf.eth0.arp_ignore=1']);
    assert.deepEqual(get(fs, 'arp-announce').fix, ['sysctl -w net.ipv4.conf.eth0.arp_announce=2']);
    fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`], conf: { 'all.arp_ignore': 1, 'all.arp_announce': 2 } }, realServer: dr }));
    assert.ok(!codes(fs).includes('arp-ignore') && !codes(fs).includes('arp-announce'));
    fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`], conf: { 'default.arp_ignore': 1, 'eth0.arp_announce': 2 } }, realServer: dr }));
    assert.match(get(fs, 'arp-ignore').evidence[0]!, /default=1 only applies to interfaces created after/);
    fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`], conf: { 'all.arp_ignore': 8, ...ARP_OK } }, realServer: dr }));
    const e = get(fs, 'arp-ignore');
    assert.match(e.title, /SSH to it breaks/);
    assert.deepEqual(e.fix, ['sysctl -w net.ipv4.conf.eth0.arp_ignore=1', 'sysctl -w net.ipv4.conf.all.arp_ignore=0']);
  });

  it('a macvlan on the VIP subnet answers ARP on the same wire: named with its kind', () => {
    const fs = diagnose(input({ spec: { macvlan: true, addrs: [`lo ${VIP}/32`], conf: ARP_OK }, realServer: dr }));
    const f = get(fs, 'arp-ignore');
    assert.match(f.title, /on mv0 is not 1/);
    assert.match(f.evidence[0]!, /mv0 \(macvlan on eth0: its own MAC on the wire\)/);
  });

  it('Docker with global ARP sysctls: warning with the targeted fix; targeted: an info note', () => {
    let fs = diagnose(input({ spec: { docker: true, addrs: [`lo ${VIP}/32`], conf: { 'all.arp_ignore': 1, 'all.arp_announce': 2 } }, realServer: dr }));
    const f = get(fs, 'shared-host-global-arp');
    assert.equal(f.severity, 'warning');
    assert.equal(f.fix![2], `haldir realserver setup --vip ${VIP} --iface eth0 --persist`);
    fs = diagnose(input({ spec: { docker: true, addrs: [`lo ${VIP}/32`], conf: { ...ARP_OK, 'lo.arp_ignore': 1, 'lo.arp_announce': 2 } }, realServer: dr }));
    assert.equal(get(fs, 'shared-host').severity, 'info');
    assert.ok(!codes(fs).includes('shared-host-global-arp'));
  });

  it('TUN: no tunl0, tunl0 down, strict rp_filter on tunl0', () => {
    const tun = [{ vip: VIP, mode: 'tun' as const, from: '--vip' }];
    assert.deepEqual(get(diagnose(input({ spec: { conf: ARP_OK }, realServer: tun })), 'tun-no-ipip').fix![0], 'modprobe ipip');
    const fs = diagnose(input({ spec: { tunl0: 'down', addrs: [`tunl0 ${VIP}/32`], conf: { ...ARP_OK, 'all.rp_filter': 1 } }, realServer: tun }));
    get(fs, 'tun-down');
    assert.deepEqual(get(fs, 'tun-rp-filter').fix, ['sysctl -w net.ipv4.conf.tunl0.rp_filter=2']);
    assert.ok(!codes(fs).includes('rs-vip-missing'));
    assert.ok(!codes(fs).includes('arp-flux'), 'tunl0 is NOARP');
  });

  it('NAT real server: gateway not the director, none at all, or unknown director', () => {
    const nat = [{ vip: VIP, mode: 'nat' as const, from: 'virtual_server TCP 10.0.0.100:80' }];
    let f = get(diagnose(input({ realServer: nat, natGateways: ['10.0.0.254'] })), 'nat-gateway');
    assert.equal(f.severity, 'error');
    assert.deepEqual(f.fix, ['ip route replace default via 10.0.0.254']);
    assert.ok(!codes(diagnose(input({ realServer: nat, natGateways: ['10.0.0.1'] }))).includes('nat-gateway'));
    f = get(diagnose(input({ spec: { defaultVia: { oif: 'eth0' } }, realServer: nat, natGateways: ['10.0.0.254'] })), 'nat-gateway');
    assert.match(f.evidence[0]!, /without a gateway/);
    assert.equal(get(diagnose(input({ realServer: nat })), 'nat-gateway-unknown').severity, 'info');
  });
});

describe('doctor: director findings', () => {
  const nat = director({ services: [{ name: `TCP ${VIP}:80`, vip: VIP, kind: 'NAT', realServers: [{ address: '10.0.0.31', port: 80 }] }] });

  it('NAT: ip_forward off is an error; one-armed with redirects on is a warning', () => {
    const fs = diagnose(input({ director: nat }));
    assert.deepEqual(get(fs, 'ip-forward').evidence, ['net.ipv4.ip_forward = 0', `NAT services: TCP ${VIP}:80`]);
    get(fs, 'send-redirects');
    const ok = diagnose(input({ director: nat, spec: { sysctl: { 'net.ipv4.ip_forward': 1 }, conf: { 'all.send_redirects': 0, 'eth0.send_redirects': 0 } } }));
    assert.ok(!codes(ok).includes('ip-forward') && !codes(ok).includes('send-redirects'));
  });

  it('TUN: MTU 1500 toward the real servers is a warning with an MSS clamp', () => {
    const tun = director({ services: [{ name: 'x', vip: VIP, kind: 'TUN', realServers: [{ address: '10.0.0.31', port: 80 }] }] });
    const f = get(diagnose(input({ director: tun })), 'tun-mtu');
    assert.match(f.fix!.at(-1)!, /ip saddr 10\.0\.0\.100 tcp flags syn,ack tcp option maxseg size set 1440/);
    const jumbo = input({ director: tun });
    jumbo.facts.links[1]!.mtu = 9000;
    assert.ok(!codes(diagnose(jumbo)).includes('tun-mtu'));
  });

  it('nftables unusable (error), IPVS absent (note), a missing VRRP interface (error)', () => {
    const fs = diagnose(input({ director: director({ instances: [{ ...director().instances[0]!, iface: 'bond0' }] }), tools: { ipvs: false, nft: { ok: false, detail: 'nft: not found' } } }));
    assert.deepEqual(get(fs, 'nftables-missing').evidence, ['nft: not found']);
    assert.equal(get(fs, 'ipvs-missing').severity, 'info');
    get(fs, 'vrrp-interface-missing');
  });

  it('conntrack: smaller than expected (warning, power-of-two fix), nearly full (error)', () => {
    const small = get(diagnose(input({ expectConnections: 1_000_000 })), 'conntrack-small');
    assert.equal(small.fix![0], 'sysctl -w net.netfilter.nf_conntrack_max=1048576');
    const full = get(diagnose(input({ spec: { sysctl: { 'net.netfilter.nf_conntrack_count': 250000 } } })), 'conntrack-full');
    assert.match(full.title, /95% full/);
    assert.ok(!codes(diagnose(input())).some((c) => c.startsWith('conntrack')));
  });

  it('targets: one line per unreachable real server, a note for the reachable', () => {
    const fs = diagnose(input({ targets: [
      { service: 'TCP 10.0.0.100:80', address: '10.0.0.31', port: 80, ok: true, ms: 0.4 },
      { service: 'TCP 10.0.0.100:80', address: '10.0.0.32', port: 80, ok: false, ms: 1.2, error: 'connection refused' },
    ] }));
    assert.match(get(fs, 'target-unreachable').title, /10\.0\.0\.32:80 of TCP 10\.0\.0\.100:80 does not accept TCP connections: connection refused/);
    assert.match(get(fs, 'targets-reachable').title, /1 of 2/);
  });

  it('timer lateness over the threshold is a warning', () => {
    assert.equal(get(diagnose(input({ lag: { p50: 1, p99: 150, max: 180, windowMs: 3000 } })), 'timer-lateness').severity, 'warning');
    assert.equal(get(diagnose(input({ lag: { p50: 0, p99: 2, max: 3, windowMs: 3000 } })), 'timer-lateness-ok').severity, 'info');
    assert.equal(lagThresholdMs(director({ instances: [{ ...director().instances[0]!, advertInt: 0.1 }] })), 25);
    assert.equal(lagThresholdMs(undefined), 100);
  });

  it('errors sort first; the text rendering shows severity, code, evidence, fix and the effective table', () => {
    const fs = diagnose(input({ spec: { addrs: [`lo ${VIP}/32`] }, realServer: dr, lag: { p50: 0, p99: 1, max: 1, windowMs: 1000 } }));
    assert.equal(fs[0]!.severity, 'error');
    assert.equal(fs.at(-1)!.severity, 'info');
    const text = renderDoctor(fs, interfaceRows(facts({ conf: { 'all.arp_ignore': 1 } })), ['real server: DR VIP 10.0.0.100 (--vip)']);
    assert.match(text, /^haldir doctor: 2 error\(s\), 0 warning\(s\), 1 note\(s\)$/m);
    assert.match(text, /^ERROR {3}arp-ignore: /m);
    assert.match(text, /^ {8}fix: sysctl -w net\.ipv4\.conf\.eth0\.arp_ignore=1$/m);
    assert.match(text, /^ {2}eth0 +1 \(all 1, own 0\)/m);
  });
});

describe('doctor: VRRP on the wire', () => {
  const obs = (adverts: HeardAdvert[], over: Partial<DoctorInput['vrrp'][number]> = {}) => ({ iface: 'eth0', windowMs: 3000, probeVrid: 255, probesSent: 3, adverts, ...over });
  const adv = (o: Partial<HeardAdvert>): HeardAdvert => ({ src: '10.0.0.12', vrid: 51, version: 2, priority: 99, addresses: [VIP], count: 3, probe: false, listsUs: false, ...o });

  it('a backup hearing no master is an error; hearing the peer master is a note; a master hearing nothing is fine', () => {
    assert.equal(get(diagnose(input({ director: director(), vrrp: [obs([])] })), 'vrrp-no-master').severity, 'error');
    const heard = diagnose(input({ director: director(), vrrp: [obs([adv({})])] }));
    assert.match(get(heard, 'vrrp-master-heard').title, /10\.0\.0\.12 \(priority 99\)/);
    const master = diagnose(input({ director: director(), spec: { addrs: [`eth0 ${VIP}/24`] }, vrrp: [obs([])] }));
    assert.ok(!codes(master).includes('vrrp-no-master'));
    assert.match(get(master, 'vrrp-probe-unanswered').title, /run haldir doctor with the same file on lb2 at the same time/);
  });

  it('our VRID with other addresses is a conflict; other VRIDs are foreign; our own packets are ignored', () => {
    const fs = diagnose(input({ director: director(), vrrp: [obs([adv({ src: '10.0.0.50', addresses: ['10.0.0.200'] }), adv({ src: '10.0.0.50', vrid: 77, addresses: ['10.0.0.177'] }), adv({ src: '10.0.0.21', vrid: 9 })])] }));
    assert.match(get(fs, 'vrrp-vrid-conflict').title, /VRID 51 on eth0 is also used by 10\.0\.0\.50, advertising 10\.0\.0\.200 instead of 10\.0\.0\.100/);
    assert.match(get(fs, 'vrrp-foreign-vrid').title, /foreign VRID 77 on eth0 from 10\.0\.0\.50/);
    assert.equal(fs.filter((f) => f.code === 'vrrp-foreign-vrid').length, 1, '10.0.0.21 is this host');
  });

  it('probes: both ways when the peer names us, one way when it never does', () => {
    const two = diagnose(input({ director: director(), vrrp: [obs([adv({ probe: true, vrid: 255, listsUs: false, count: 1 }), adv({ probe: true, vrid: 255, listsUs: true, count: 2 })])] }));
    assert.match(get(two, 'vrrp-multicast-ok').title, /both ways on eth0 with 10\.0\.0\.12/);
    const one = diagnose(input({ director: director(), vrrp: [obs([adv({ probe: true, vrid: 255, count: 3 })])] }));
    assert.equal(get(one, 'vrrp-multicast-one-way').severity, 'warning');
    const cannot = diagnose(input({ director: director(), vrrp: [obs([], { listenError: 'socket: EPERM' })] }));
    assert.equal(get(cannot, 'vrrp-listen-failed').severity, 'warning');
  });

  it('the probe codec: a VRRPv2 advert at priority 1 marked in its auth data; naming a peer means "I heard you"', () => {
    const ip4 = (src: string, payload: Uint8Array): Uint8Array => {
      const h = Buffer.alloc(20);
      h[0] = 0x45;
      h.writeUInt16BE(20 + payload.length, 2);
      h[8] = 255;
      h[9] = 112;
      Buffer.from(src.split('.').map(Number)).copy(h, 12);
      Buffer.from([224, 0, 0, 18]).copy(h, 16);
      return Buffer.concat([h, payload]);
    };
    const into = new Map<string, HeardAdvert>();
    const ours = new Set(['10.0.0.11']);
    recordDatagram(into, ip4('10.0.0.12', encodeProbe(255, '10.0.0.12', [])), ours);
    recordDatagram(into, ip4('10.0.0.12', encodeProbe(255, '10.0.0.12', ['10.0.0.11'])), ours);
    const real = encode({ version: 2, type: 1, vrid: 51, priority: 100, authType: 1, advertIntSec: 1, addresses: [VIP], authData: passAuthData('secret') });
    recordDatagram(into, ip4('10.0.0.13', real), ours);
    recordDatagram(into, ip4('10.0.0.13', real.subarray(0, 5)), ours); // truncated: ignored
    recordDatagram(into, new Uint8Array([1, 2, 3]), ours); // not IPv4: ignored
    const got = [...into.values()];
    assert.deepEqual(got.map((h) => [h.src, h.vrid, h.probe, h.listsUs, h.count]), [
      ['10.0.0.12', 255, true, true, 2],
      ['10.0.0.13', 51, false, false, 1],
    ]);
    assert.deepEqual(got[1]!.addresses, [VIP]);
  });

  it('the probe VRID is the highest one the configuration leaves free', () => {
    const m = (vrids: number[]) => ({ vrrpInstances: vrids.map((vrid) => ({ vrid })) }) as unknown as NodeModel;
    assert.equal(pickProbeVrid([m([51])]), 255);
    assert.equal(pickProbeVrid([m([255, 254]), m([253])]), 252);
  });
});

describe('host rtnetlink decoders', () => {
  it('a link with its kind, master and lower device', () => {
    const info = rtattr(18, rtattrString(1, 'macvlan'));
    const p = Buffer.concat([ifinfomsg({ index: 7, flags: 0x1 | 0x1000 }), rtattrString(3, 'mv0'), rtattrU32(4, 1500), info, rtattrU32(10, 3), rtattrU32(5, 2)]);
    assert.deepEqual(decodeLinkKind(p), { ifindex: 7, name: 'mv0', kind: 'macvlan', up: true, mtu: 1500, loopback: false, noarp: false, masterIndex: 3, lowerIndex: 2 });
    const veth = Buffer.concat([ifinfomsg({ index: 8, flags: 0x80 }), rtattrString(3, 'veth0'), rtattr(18, rtattrString(1, 'veth')), rtattrU32(5, 9)]);
    const v = decodeLinkKind(veth);
    assert.equal(v.kind, 'veth');
    assert.equal(v.lowerIndex, undefined, "a veth's IFLA_LINK is its peer");
    assert.equal(v.noarp, true);
    assert.equal(decodeLinkKind(Buffer.concat([ifinfomsg({ index: 2 }), rtattrString(3, 'eth0')])).kind, '');
  });

  it('main-table IPv4 routes: default with gateway, multipath, other tables skipped', () => {
    const gw = Buffer.from([10, 0, 0, 1]);
    const d = Buffer.concat([rtmsg({ family: AF_INET, table: 254, type: 1 }), rtattr(5, gw), rtattrU32(4, 2)]);
    assert.deepEqual(decodeMainRoute(d), { dst: '0.0.0.0', prefix: 0, gateway: '10.0.0.1', oifIndex: 2 });
    const local = Buffer.concat([rtmsg({ family: AF_INET, dstLen: 32, table: 255, type: 2 }), rtattr(1, Buffer.from([10, 0, 0, 5]))]);
    assert.equal(decodeMainRoute(local), undefined);
    const nh = Buffer.alloc(8);
    nh.writeUInt16LE(16, 0);
    nh.writeInt32LE(3, 4);
    const mp = Buffer.concat([rtmsg({ family: AF_INET, table: 254, type: 1 }), rtattr(9, Buffer.concat([nh, rtattr(5, Buffer.from([10, 0, 0, 254]))]))]);
    assert.deepEqual(decodeMainRoute(mp), { dst: '0.0.0.0', prefix: 0, oifIndex: 3, gateway: '10.0.0.254' });
    assert.equal(decodeMainRoute(Buffer.alloc(4)), undefined);
  });
});
