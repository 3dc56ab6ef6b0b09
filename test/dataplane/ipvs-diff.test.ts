// The IPVS driver's pure core: desired services → kernel objects the way keepalived
// programs them (objects.ts), what IPVS refuses, and the diff that turns a kernel table
// into the desired one (diff.ts): command order, in-place edits, drift, ownership.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { FWD, SVC_F, TUN_TYPE, type IpvsDest, type IpvsService } from '../../src/dataplane/ipvs/codec.js';
import { diffIpvs } from '../../src/dataplane/ipvs/diff.js';
import { expandGroupEntry, ipvsUnsupported, parseGranularity, renderTable, type IpvsTable } from '../../src/dataplane/ipvs/objects.js';
import type { NodeModel } from '../../src/model/types.js';

function model(text: string): NodeModel {
  const r = loadKeepalivedText(text, 't.conf');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), []);
  return r.model;
}

const CONF = `
virtual_server_group g {
  10.0.1.1-2 80
  fwmark 9
}
virtual_server 10.0.0.1 80 {
  lb_algo mh
  mh-port
  mh-fallback
  lb_kind DR
  protocol TCP
  real_server 10.0.0.21 80 { weight 2 uthreshold 50 lthreshold 5 }
}
virtual_server 10.0.0.2 443 {
  lb_algo wlc
  lb_kind NAT
  protocol UDP
  ops
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  persistence_engine sip
  real_server 10.0.0.21 8443 { weight 1 }
}
virtual_server fd00::1 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  persistence_timeout 60
  persistence_granularity 64
  real_server fd00::21 80 { lvs_method TUN type gue port 6080 csum }
}
virtual_server fwmark 7 {
  lb_algo wrr
  lb_kind DR
  real_server 10.0.0.22 { weight 3 }
}
virtual_server group g {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.23 80 { weight 1 }
}
`;

test('renders services and destinations the way keepalived programs them', () => {
  const m = model(CONF);
  const { table, errors } = renderTable(allUpTable(m), new Map(m.virtualServerGroups.map((g) => [g.name, g])));
  assert.deepEqual(errors, []);
  assert.deepEqual([...table.keys()], ['tcp:[10.0.0.1]:80', 'udp:[10.0.0.2]:443', 'tcp:[fd00::1]:80', 'fwmark:7:4', 'tcp:[10.0.1.1]:80', 'tcp:[10.0.1.2]:80', 'fwmark:9:4']);
  const mh = table.get('tcp:[10.0.0.1]:80')!;
  assert.equal(mh.svc.flags, SVC_F.SCHED1 | SVC_F.SCHED2);
  assert.deepEqual([...mh.dests.values()], [{ af: 4, address: '10.0.0.21', port: 80, fwd: FWD.DROUTE, weight: 2, uThreshold: 50, lThreshold: 5, tunType: 0, tunPort: 0, tunFlags: 0 }]);
  const p = table.get('udp:[10.0.0.2]:443')!.svc;
  assert.deepEqual({ flags: p.flags, timeout: p.timeout, netmask: p.netmask, pe: p.pe, scheduler: p.scheduler, protocol: p.protocol }, { flags: SVC_F.PERSISTENT | SVC_F.ONEPACKET, timeout: 300, netmask: 0xffffff00, pe: 'sip', scheduler: 'wlc', protocol: 17 });
  const v6 = table.get('tcp:[fd00::1]:80')!;
  assert.equal(v6.svc.netmask, 64);
  assert.deepEqual([...v6.dests.values()][0], { af: 6, address: 'fd00::21', port: 80, fwd: FWD.TUNNEL, weight: 1, uThreshold: 0, lThreshold: 0, tunType: TUN_TYPE.gue, tunPort: 6080, tunFlags: 1 });
  // fwmark services are TCP in the kernel whatever the configuration says (keys compare equal on read-back).
  assert.equal(table.get('fwmark:7:4')!.svc.protocol, 6);
  assert.equal([...table.get('fwmark:7:4')!.dests.values()][0]!.port, 0);
  // A group is one kernel service per address and fwmark, all owned by the group's virtual server.
  assert.deepEqual(['tcp:[10.0.1.1]:80', 'tcp:[10.0.1.2]:80', 'fwmark:9:4'].map((k) => table.get(k)!.vsKey), ['group:g:tcp', 'group:g:tcp', 'group:g:tcp']);
  // Non-persistent services: /32 and timeout 0, as ipvsadm and keepalived send them.
  assert.deepEqual([mh.svc.timeout, mh.svc.netmask], [0, 0xffffffff]);
});

test('what IPVS cannot do is refused with the reason', () => {
  const m = model(`
virtual_server 10.0.0.1 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server fd00::21 80 { weight 1 }
}
virtual_server group nosuch {
  lb_algo rr
  protocol TCP
  real_server 10.0.0.21 80 { weight 1 }
}
virtual_server 10.0.0.3 80 {
  lb_algo rr
  protocol TCP
  real_server 10.0.0.21 80 { uthreshold 5 lthreshold 9 }
}
`);
  const msgs = ipvsUnsupported(m.virtualServers, new Map()).map((u) => u.message);
  assert.ok(msgs.some((x) => /IPVS forwards to another address family only by TUN/.test(x)), msgs.join('\n'));
  assert.ok(msgs.some((x) => /virtual_server_group nosuch is not defined/.test(x)));
  assert.ok(msgs.some((x) => /lthreshold 9 is above uthreshold 5/.test(x)));
  assert.deepEqual(ipvsUnsupported(model(CONF).virtualServers, new Map(model(CONF).virtualServerGroups.map((g) => [g.name, g]))), []);
});

test('granularity and group ranges', () => {
  assert.equal(parseGranularity('255.255.0.0', 4), 0xffff0000);
  assert.equal(parseGranularity('48', 6), 48);
  assert.equal(parseGranularity('129', 6), undefined);
  assert.equal(parseGranularity('255.255.0', 4), undefined);
  assert.deepEqual(expandGroupEntry({ kind: 'range', address: 'fd00::fe', rangeEnd: 0x101 }).map((x) => x.address), ['fd00::fe', 'fd00::ff', 'fd00::100', 'fd00::101']);
  assert.deepEqual(expandGroupEntry({ kind: 'range', address: '10.0.0.254', rangeEnd: 300 }).map((x) => x.address), ['10.0.0.254', '10.0.0.255']);
});

// ---- diff ----------------------------------------------------------------------------------

const S = (over: Partial<IpvsService> = {}): IpvsService => ({ af: 4, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff, ...over });
const D = (n: number, over: Partial<IpvsDest> = {}): IpvsDest => ({ af: 4, address: `10.0.0.${n}`, port: 80, fwd: FWD.DROUTE, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0, ...over });
const entry = (svc: IpvsService, dests: IpvsDest[]) => ({ svc, dests: new Map(dests.map((d) => [`[${d.address}]:${d.port}`, d])) });
const desiredOf = (t: IpvsTable) => new Map([...t].map(([k, e]) => [k, { ...e, key: k, vsKey: k, destKeys: new Map() }]));

test('from empty: each new service, then its destinations', () => {
  const want: IpvsTable = new Map([
    ['a', entry(S(), [D(21), D(22)])],
    ['b', entry(S({ port: 443 }), [D(23)])],
  ]);
  const d = diffIpvs(desiredOf(want), new Map());
  assert.deepEqual(d.ops.map((o) => `${o.cmd} ${o.key}${'dest' in o ? ` ${o.dest.address}` : ''}`), ['add-service a', 'add-dest a 10.0.0.21', 'add-dest a 10.0.0.22', 'add-service b', 'add-dest b 10.0.0.23']);
  assert.equal(d.changes.filter((c) => c.drift).length, 0);
});

test('nothing to do for an equal table (the kernel sets HASHED on its own)', () => {
  const want: IpvsTable = new Map([['a', entry(S(), [D(21)])]]);
  const have: IpvsTable = new Map([['a', entry(S({ flags: SVC_F.HASHED }), [D(21, { activeConns: 4, inactConns: 2, tunType: 1 })])]]);
  assert.deepEqual(diffIpvs(desiredOf(want), have), { ops: [], changes: [], foreign: [] });
});

test('edits in place (scheduler, weight), adds before removals, and a removed service takes its destinations', () => {
  const want: IpvsTable = new Map([['a', entry(S({ scheduler: 'wrr' }), [D(21, { weight: 5 }), D(24)])]]);
  const have: IpvsTable = new Map([
    ['a', entry(S(), [D(21), D(22)])],
    ['old', entry(S({ port: 8080 }), [D(21), D(22)])],
  ]);
  const d = diffIpvs(desiredOf(want), have);
  assert.deepEqual(d.ops.map((o) => `${o.cmd} ${o.key}${'dest' in o ? ` ${o.dest.address}` : ''}`), ['edit-service a', 'add-dest a 10.0.0.24', 'edit-dest a 10.0.0.21', 'del-dest a 10.0.0.22', 'del-service old']);
  assert.deepEqual(
    d.changes.map((c) => `${c.op} ${c.object} (${c.detail})`),
    [
      'update service a (rr -> wrr)',
      'update dest a -> [10.0.0.21]:80 (weight 1 -> 5)',
      'add dest a -> [10.0.0.24]:80 (Route weight 1)',
      'delete dest a -> [10.0.0.22]:80 (was Route weight 1)',
      'delete service old (was rr, 2 destination(s))',
    ],
  );
});

test('forwarding and tunnel changes are destination edits; tunnel settings mean nothing outside TUN', () => {
  const want: IpvsTable = new Map([['a', entry(S(), [D(21, { fwd: FWD.TUNNEL, tunType: TUN_TYPE.gue, tunPort: 6081 }), D(22, { fwd: FWD.MASQ })])]]);
  const have: IpvsTable = new Map([['a', entry(S(), [D(21, { fwd: FWD.TUNNEL, tunType: TUN_TYPE.gue, tunPort: 6080 }), D(22, { fwd: FWD.MASQ, tunType: 2, tunFlags: 1 })])]]);
  const d = diffIpvs(desiredOf(want), have);
  assert.deepEqual(d.changes.map((c) => c.detail), ['Tunnel gue:6080 weight 1 -> Tunnel gue:6081 weight 1']);
});

test('a service haldir does not own is left alone and reported', () => {
  const have: IpvsTable = new Map([['x', entry(S({ port: 9 }), [])]]);
  const d = diffIpvs(new Map(), have, { owned: () => false });
  assert.deepEqual(d, { ops: [], changes: [], foreign: ['x'] });
  assert.equal(diffIpvs(new Map(), have, { owned: () => true }).ops[0]!.cmd, 'del-service');
});

test('drift: what differs from what haldir last wrote, while haldir still wants that, is flagged', () => {
  const want: IpvsTable = new Map([
    ['a', entry(S(), [D(21), D(22)])],
    ['b', entry(S({ port: 443 }), [D(21)])],
  ]);
  // Behind haldir's back: service b deleted, dest 22's weight edited, dest 99 added.
  const have: IpvsTable = new Map([['a', entry(S(), [D(21), D(22, { weight: 9 }), D(99)])]]);
  const d = diffIpvs(desiredOf(want), have, { expected: want });
  assert.deepEqual(
    d.changes.map((c) => [c.op, c.object, !!c.drift]),
    [
      ['update', 'dest a -> [10.0.0.22]:80', true],
      ['delete', 'dest a -> [10.0.0.99]:80', true],
      ['add', 'service b', true],
      ['add', 'dest b -> [10.0.0.21]:80', true],
    ],
  );
  // A change haldir asked for is not drift: the weight differed from the record too.
  const asked = diffIpvs(desiredOf(new Map([['a', entry(S(), [D(21, { weight: 3 })])]])), new Map([['a', entry(S(), [D(21)])]]), { expected: new Map([['a', entry(S(), [D(21)])]]) });
  assert.equal(asked.changes[0]!.drift, undefined);
});
