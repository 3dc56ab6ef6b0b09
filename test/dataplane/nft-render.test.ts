// The nftables renderer and diff as pure functions: idempotence, O(changed) updates,
// transaction order, drift flags, refusals with reasons, and the DR rules' shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newNodeModel, newRealServer, newVirtualServer } from '../../src/model/construct.js';
import type { NodeModel, VirtualServer } from '../../src/model/types.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { diffState } from '../../src/dataplane/nftables/diff.js';
import { parseNftJson } from '../../src/dataplane/nftables/parse.js';
import { nftUnsupported, renderNft, type DrPath } from '../../src/dataplane/nftables/render.js';
import { cloneState } from '../../src/dataplane/nftables/objects.js';

function model(services: { vip: string; port: number; sched?: string; kind?: 'NAT' | 'DR' | 'TUN'; servers: [string, number, number][] }[]): NodeModel {
  const m = newNodeModel('t');
  for (const s of services) {
    const vs = newVirtualServer({ kind: 'ip', address: s.vip, family: s.vip.includes(':') ? 6 : 4, port: s.port });
    vs.scheduler = s.sched ?? 'rr';
    vs.forwarding = { kind: s.kind ?? 'NAT' };
    for (const [a, p, w] of s.servers) {
      const rs = newRealServer(a, p);
      rs.weight = w;
      vs.realServers.push(rs);
    }
    m.virtualServers.push(vs);
  }
  return m;
}

const macs: Record<string, string> = { '10.0.0.21': '02:00:00:00:00:21', '10.0.0.22': '02:00:00:00:00:22', '10.0.0.23': '02:00:00:00:00:23' };
const ctx = {
  drPath: (_vs: VirtualServer, d: { address: string }): DrPath | Error =>
    d.address === '10.0.0.11' ? { kind: 'local' } : macs[d.address] ? { kind: 'mac', ifname: 'eth0', ownMac: '02:00:00:00:00:11', mac: macs[d.address]! } : new Error(`no ARP reply from ${d.address}`),
};

function big(n: number, change?: number): NodeModel {
  const svcs = [];
  for (let i = 0; i < n; i++) svcs.push({ vip: `10.1.${i >> 8}.${i & 255}`, port: 80, sched: i % 2 ? 'wrr' : 'rr', servers: [1, 2, 3, 4].map((k) => [`10.2.${i >> 8}.${(i & 63) * 4 + k - 1}`, 8080, i === change && k === 2 ? 5 : 1] as [string, number, number]) });
  return model(svcs);
}

describe('nftables render + diff', () => {
  it('rendering the same input twice gives no commands', () => {
    const a = renderNft(allUpTable(big(50)), ctx).state;
    const b = renderNft(allUpTable(big(50)), ctx).state;
    assert.deepEqual(diffState(a, b).commands, []);
  });

  it('from empty: tables, maps and chains before rules, rules before elements', () => {
    const d = diffState(renderNft(allUpTable(big(3)), ctx).state, new Map());
    const first = (p: string): number => d.commands.findIndex((c) => c.startsWith(p));
    const last = (p: string): number => d.commands.map((c) => c.startsWith(p)).lastIndexOf(true);
    assert.equal(first('add table'), 0);
    assert.ok(last('add chain') < first('add rule'));
    assert.ok(last('add rule') < first('add element'));
  });

  it('one weight changed among 500 services touches that service only', () => {
    const before = renderNft(allUpTable(big(500)), ctx).state;
    const after = renderNft(allUpTable(big(500, 123)), ctx).state;
    const d = diffState(after, before);
    assert.ok(d.commands.length <= 6, d.commands.join('\n'));
    assert.ok(d.commands.every((c) => c.includes('vs/tcp/10.1.0.123/80') || c.includes('10.1.0.123 . tcp . 80')), d.commands.join('\n'));
    assert.ok(d.changes.every((c) => c.object.includes('10.1.0.123')));
  });

  it('a removed service: its element goes, then every flush, then the chains', () => {
    const two = model([
      { vip: '10.0.0.100', port: 80, servers: [['10.0.0.21', 80, 1]] },
      { vip: '10.0.0.100', port: 81, servers: [['10.0.0.21', 80, 1]] },
    ]);
    const one = model([{ vip: '10.0.0.100', port: 80, servers: [['10.0.0.21', 80, 1]] }]);
    const d = diffState(renderNft(allUpTable(one), ctx).state, renderNft(allUpTable(two), ctx).state);
    const idx = (re: RegExp): number[] => d.commands.flatMap((c, i) => (re.test(c) ? [i] : []));
    assert.equal(idx(/delete element ip haldir services/).length, 1);
    assert.equal(idx(/delete element ip haldir dests/).length, 1);
    assert.ok(Math.max(...idx(/^flush chain/)) < Math.min(...idx(/^delete chain/)));
    assert.ok(idx(/delete element/)[0]! < Math.min(...idx(/^delete chain/)));
  });

  it('drift: what haldir wrote but the kernel lost is flagged; a planned change is not', () => {
    const desired = renderNft(allUpTable(big(3)), ctx).state;
    const actual = cloneState(desired);
    const t = actual.get('ip haldir')!;
    t.maps.get('services')!.elements.delete('10.1.0.0 . tcp . 80');
    t.chains.get('vs/tcp/10.1.0.1/80')!.tags = ['h=000000000000'];
    const d = diffState(desired, actual, desired);
    assert.equal(d.changes.length, 2);
    assert.ok(d.changes.every((c) => c.drift), JSON.stringify(d.changes));
    const planned = diffState(renderNft(allUpTable(big(3, 1)), ctx).state, desired, desired);
    assert.ok(planned.changes.length > 0 && planned.changes.every((c) => !c.drift));
  });

  it('NAT rr/wrr pick per connection (numgen); DR rules rewrite both MACs, fwd, hash with a fixed seed', () => {
    const m = model([
      { vip: '10.0.0.100', port: 80, sched: 'wrr', servers: [['10.0.0.21', 8080, 2], ['10.0.0.22', 8080, 1]] },
      { vip: '10.0.0.100', port: 443, kind: 'DR', servers: [['10.0.0.21', 443, 1], ['10.0.0.22', 443, 1], ['10.0.0.11', 443, 1]] },
    ]);
    const s = renderNft(allUpTable(m), ctx).state;
    const nat = s.get('ip haldir')!.chains.get('vs/tcp/10.0.0.100/80')!.rules[0]!;
    assert.equal(nat, 'counter meta l4proto tcp dnat ip to numgen inc mod 3 map { 0 : 10.0.0.21 . 8080, 1 : 10.0.0.21 . 8080, 2 : 10.0.0.22 . 8080 }');
    const dr = s.get('netdev haldir')!;
    assert.match(dr.chains.get('vs/tcp/10.0.0.100/443')!.rules[0]!, /^counter jhash ip saddr \. th sport mod \d+ seed 0x[0-9a-f]{8} vmap/);
    assert.equal(dr.chains.get('vs/tcp/10.0.0.100/443/10.0.0.21/443')!.rules[0], 'counter ether saddr set 02:00:00:00:00:11 ether daddr set 02:00:00:00:00:21 fwd to "eth0"');
    assert.equal(dr.chains.get('vs/tcp/10.0.0.100/443/10.0.0.11/443')!.rules[0], 'counter accept', 'a local real server is served by the local stack');
    const ingress = dr.chains.get('ingress/eth0')!.rules;
    assert.equal(ingress[0], 'ether saddr @rs_macs accept', 'frames from a real server (another director) are never balanced again');
    assert.ok(ingress.slice(1).every((r) => r.startsWith('meta pkttype host ')));
    assert.deepEqual([...dr.maps.get('rs_macs')!.elements.keys()].sort(), ['02:00:00:00:00:21', '02:00:00:00:00:22'], 'the remote real servers, not the local one');
    assert.equal(dr.chains.get('ingress/eth0')!.base?.hook, 'ingress');
  });

  it('the same service gets the same seed and table on every director', () => {
    const m = () => model([{ vip: '10.0.0.100', port: 80, kind: 'DR', sched: 'mh', servers: [['10.0.0.21', 80, 1], ['10.0.0.22', 80, 1]] }]);
    const a = renderNft(allUpTable(m()), ctx).state.get('netdev haldir')!.chains.get('vs/tcp/10.0.0.100/80')!.rules;
    const b = renderNft(allUpTable(m()), ctx).state.get('netdev haldir')!.chains.get('vs/tcp/10.0.0.100/80')!.rules;
    assert.deepEqual(a, b);
  });

  it('an unresolvable DR server is left out with its reason; the service keeps the rest', () => {
    const m = model([{ vip: '10.0.0.100', port: 80, kind: 'DR', servers: [['10.0.0.21', 80, 1], ['10.0.0.29', 80, 1]] }]);
    const r = renderNft(allUpTable(m), ctx);
    assert.deepEqual(r.errors, ['tcp:[10.0.0.100]:80 -> [10.0.0.29]:80: no ARP reply from 10.0.0.29']);
    assert.ok(r.state.get('netdev haldir')!.chains.has('vs/tcp/10.0.0.100/80/10.0.0.21/80'));
  });

  it('a service with no live destination drops instead of falling through', () => {
    const m = model([{ vip: '10.0.0.100', port: 80, servers: [['10.0.0.21', 80, 0]] }]);
    const s = renderNft(allUpTable(m), ctx).state;
    assert.equal(s.get('ip haldir')!.chains.get('vs/tcp/10.0.0.100/80')!.rules[0], 'counter drop');
  });

  it('refuses what it cannot do, saying why and what to use', () => {
    const m = model([
      { vip: '10.0.0.100', port: 80, sched: 'wlc', servers: [['10.0.0.21', 80, 1]] },
      { vip: '10.0.0.100', port: 81, kind: 'TUN', servers: [['10.0.0.21', 80, 1]] },
    ]);
    m.virtualServers[0]!.persistenceTimeout = 300;
    const u = nftUnsupported(m.virtualServers).map((x) => x.message);
    assert.ok(u.some((x) => /lb_algo wlc needs per-connection state/.test(x)));
    assert.ok(u.some((x) => /persistence_timeout/.test(x)));
    assert.ok(u.some((x) => /lb_kind TUN needs an ipip tunnel device/.test(x) && /ipvs/.test(x)));
  });

  it('IPv6 services get an ip6 table and readable chain names', () => {
    const m = model([{ vip: 'fd00::100', port: 80, servers: [['fd00::21', 80, 1]] }]);
    const s = renderNft(allUpTable(m), ctx).state;
    const t = s.get('ip6 haldir')!;
    assert.equal(t.chains.get('vs/tcp/fd00__100/80')!.rules[0], 'counter meta l4proto tcp dnat ip6 to numgen inc mod 1 map { 0 : fd00::21 . 80 }');
    assert.equal([...t.maps.get('services')!.elements.keys()][0], 'fd00::100 . tcp . 80');
    assert.deepEqual([...t.maps.get('dests')!.elements], [['fd00::100 . tcp . 80 . fd00::21 . 80', '1']]);
  });
});

describe('nftables parse', () => {
  it("a netdev chain listed without its device (nft 1.0.6 JSON on newer kernels) gets it from haldir's chain name: no false 'hook changed'", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'netdev', name: 'haldir', handle: 1 } },
        { chain: { family: 'netdev', table: 'haldir', name: 'ingress/eth0', handle: 1, type: 'filter', hook: 'ingress', prio: 0, policy: 'accept' } },
      ],
    });
    const parsed = parseNftJson(json, 'netdev', 'haldir');
    assert.deepEqual(parsed.table.chains.get('ingress/eth0')!.base, { type: 'filter', hook: 'ingress', prio: 0, device: 'eth0' });
  });
});
