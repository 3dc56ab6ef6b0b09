// The nftables data plane doing DR (netdev ingress, MAC rewrite, fwd) in network
// namespaces: replies bypass the director, each of lab.md's three DR pitfalls has a
// test that fails without its fix, two directors map a flow to the same real server,
// and an unresolvable real server is reported while the others keep serving.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canBuildLabs, nsExec } from '../../src/lab/netns.js';
import { DataplaneLab, DP_VIP } from '../../src/lab/dp-lab.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;

const drConf = (sched: string, servers: string[], port = 80): string =>
  [`virtual_server ${DP_VIP} ${port} {`, `  lb_algo ${sched}`, '  lb_kind DR', '  protocol TCP', ...servers.map((s) => `  real_server ${s} ${port} { weight 1 }`), '}', ''].join('\n');

const SERVERS = ['10.99.0.21', '10.99.0.22', '10.99.0.23'];

/** Packets counted by the first counter of a chain in a table (nft -j). */
function counter(L: DataplaneLab, host: string, family: string, table: string, chain: string): number {
  const j = JSON.parse(L.nft(host, ['-j', 'list', 'chain', family, table, chain])) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
  for (const x of j.nftables) for (const e of x.rule?.expr ?? []) if (e.counter) return e.counter.packets;
  throw new Error(`no counter in ${chain}`);
}

describe('nftables DR in a lab: client, two directors, three real servers with the VIP on lo', { skip }, () => {
  let L: DataplaneLab;
  before(async () => {
    L = new DataplaneLab({ mode: 'DR', directors: 2, servers: 3, ports: [80] });
    await L.startBackends();
    const f = L.writeConfig('dr.conf', drConf('rr', SERVERS));
    for (const d of ['lb1', 'lb2']) {
      const r = L.apply(d, f);
      assert.equal(r.code, 0, `${d}: ${r.err}`);
    }
    // A counter of reply packets (VIP:80 → client) reaching the director, before haldir's hook.
    for (const d of ['lb1', 'lb2'])
      L.nft(d, ['-f', L.writeConfig(`watch-${d}.nft`, `table netdev watch {\n chain in { type filter hook ingress device "eth0" priority -500; policy accept;\n  ip saddr ${DP_VIP} tcp sport 80 counter\n  ip daddr ${DP_VIP} tcp dport 80 counter\n }\n}\n`)]);
  });
  after(async () => {
    await L?.close();
  });

  const watch = (d: string): { replies: number; requests: number } => {
    const j = JSON.parse(L.nft(d, ['-j', 'list', 'chain', 'netdev', 'watch', 'in'])) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
    const c = j.nftables.flatMap((x) => (x.rule ? [x.rule.expr.find((e) => e.counter)!.counter!.packets] : []));
    return { replies: c[0]!, requests: c[1]! };
  };

  it('connections succeed over all three servers and replies bypass the director', () => {
    const before = watch('lb1');
    const p = L.probe(80, 90, { concurrency: 10 });
    assert.deepEqual(p.failures, {});
    assert.deepEqual(Object.keys(p.byServer).sort(), ['be1', 'be2', 'be3']);
    const after = watch('lb1');
    assert.ok(after.requests - before.requests >= 90 * 3, `requests seen by lb1: ${after.requests - before.requests}`);
    assert.equal(after.replies - before.replies, 0, 'a reply packet passed through the director');
    assert.ok(counter(L, 'lb1', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80') >= 90 * 3);
  });

  it('pitfall 1: the source MAC is rewritten, so the switch never learns the client on the director\'s port', () => {
    L.probe(80, 20, { concurrency: 5 });
    const fdb = nsExec(L.lab.switchNs, 'bridge', ['fdb', 'show', 'br', 'br0']).split('\n');
    const client = fdb.filter((l) => l.startsWith('02:99:00:00:00:10 '));
    assert.ok(client.length > 0, 'the client is learnt somewhere');
    assert.ok(client.every((l) => l.includes('dev p-client')), `client MAC learnt on: ${client.join(' | ')}`);
  });

  it('pitfall 3: no per-packet choice — every packet of a flow reaches the same server (200 of 200 connections complete)', () => {
    const p = L.probe(80, 200, { concurrency: 20 });
    assert.deepEqual(p.failures, {});
    assert.doesNotMatch(L.nft('lb1', ['list', 'table', 'netdev', 'haldir']), /numgen/);
  });

  it('two directors with the same configuration send a flow to the same real server', () => {
    const a = L.probe(80, 40, { concurrency: 1, sport: 41000, each: true });
    L.moveVip('lb1', 'lb2');
    try {
      const lb2Before = counter(L, 'lb2', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80');
      const b = L.probe(80, 40, { concurrency: 1, sport: 41000, each: true });
      assert.deepEqual(a.failures, {});
      assert.deepEqual(b.failures, {});
      assert.deepEqual(b.per, a.per);
      assert.ok(counter(L, 'lb2', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80') - lb2Before >= 40 * 3, 'lb2 forwarded them');
    } finally {
      L.moveVip('lb2', 'lb1');
    }
  });

  it('pitfall 2: frames the switch floods to a backup are not forwarded by it (meta pkttype host)', () => {
    // ageing_time 0: the bridge learns nothing and floods every frame to every port.
    nsExec(L.lab.switchNs, 'ip', ['link', 'set', 'br0', 'type', 'bridge', 'ageing_time', '0']);
    try {
      const seen = watch('lb2').requests;
      const fwd = counter(L, 'lb2', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80');
      const p = L.probe(80, 30, { concurrency: 5 });
      assert.deepEqual(p.failures, {});
      assert.ok(watch('lb2').requests - seen >= 30, 'the flood reached lb2');
      assert.equal(counter(L, 'lb2', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80') - fwd, 0, 'lb2 forwarded flooded frames');
    } finally {
      nsExec(L.lab.switchNs, 'ip', ['link', 'set', 'br0', 'type', 'bridge', 'ageing_time', '30000']);
    }
  });

  it('a real server whose MAC cannot be resolved is named in the error; the others keep serving', () => {
    const f = L.writeConfig('dr-bad.conf', drConf('rr', [...SERVERS, '10.99.0.29']));
    const r = L.apply('lb1', f);
    assert.equal(r.code, 1);
    assert.match(r.err, /10\.99\.0\.29/);
    assert.match(r.err, /eth0/);
    const p = L.probe(80, 30, { concurrency: 5 });
    assert.deepEqual(p.failures, {});
    assert.equal(Object.keys(p.byServer).length, 3);
  });
});
