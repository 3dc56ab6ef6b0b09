// The netlink backend against `nft -f`, in network namespaces: the same services written
// through each leave the kernel with the same ruleset (`nft list ruleset`, text) — from
// empty and after every step of a change sequence — and a full reconcile reads either
// back as a no-op. Then what the kernel refuses: a clear error naming the object, nothing
// applied (all-or-nothing), and a driver that recovers on its next reconcile.
//
// Run with SCENARIO=<backend> inside a namespace (the test does that), this file is the
// scenario: it drives the nftables driver through the steps and prints JSON.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { canBuildLabs } from '../../src/lab/netns.js';
import { newNodeModel, newRealServer, newVirtualServer } from '../../src/model/construct.js';
import type { NodeModel, VirtualServer } from '../../src/model/types.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { NftablesDataplane, NftError, type DrResolver, type NftBackend } from '../../src/dataplane/nftables/index.js';
import type { DrPath } from '../../src/dataplane/nftables/render.js';
import { NftSocket } from '../../src/dataplane/nftables/netlink.js';

const SELF = fileURLToPath(import.meta.url);
const OWN_MAC = '02:00:00:00:00:11';
const MACS: Record<string, string> = { '10.0.0.21': '02:00:00:00:00:21', '10.0.0.22': '02:00:00:00:00:22', 'fd00::21': '02:00:00:00:00:31' };

/** Every kind of service the driver writes (ISSUE: NAT rr/wrr/sh/mh with and without port, fwmark, IPv6, DR remote and local, no destination, weight 0). */
function representative(): NodeModel {
  const m = newNodeModel('eq');
  const svc = (addr: VirtualServer['address'], sched: string, kind: 'NAT' | 'DR', servers: [string, number | undefined, number][], opts: { proto?: 'TCP' | 'UDP'; flags?: VirtualServer['schedFlags'] } = {}): void => {
    const vs = newVirtualServer(addr);
    vs.scheduler = sched;
    vs.forwarding = { kind };
    if (opts.proto) vs.protocol = opts.proto;
    Object.assign(vs.schedFlags, opts.flags ?? {});
    for (const [a, p, w] of servers) {
      const rs = newRealServer(a, p);
      rs.weight = w;
      vs.realServers.push(rs);
    }
    m.virtualServers.push(vs);
  };
  const ip = (address: string, port: number): VirtualServer['address'] => ({ kind: 'ip', address, family: address.includes(':') ? 6 : 4, port });
  svc(ip('10.0.0.100', 80), 'rr', 'NAT', [['10.0.0.21', 8080, 1], ['10.0.0.22', 8080, 1]]);
  svc(ip('10.0.0.100', 81), 'wrr', 'NAT', [['10.0.0.21', 8080, 3], ['10.0.0.22', 8080, 1], ['10.0.0.23', 8080, 0]]);
  svc(ip('10.0.0.100', 82), 'sh', 'NAT', [['10.0.0.21', 80, 1], ['10.0.0.22', 80, 2]], { flags: { shPort: true } });
  svc(ip('10.0.0.100', 83), 'mh', 'NAT', [['10.0.0.21', 80, 1], ['10.0.0.22', 80, 1], ['10.0.0.23', 80, 1]]);
  svc(ip('10.0.0.100', 84), 'rr', 'NAT', [['10.0.0.21', 80, 0]]);
  svc(ip('10.0.0.100', 53), 'rr', 'NAT', [['10.0.0.21', 53, 1]], { proto: 'UDP' });
  svc({ kind: 'fwmark', fwmark: 5, family: 4 }, 'rr', 'NAT', [['10.0.0.21', undefined, 1], ['10.0.0.22', undefined, 1]]);
  svc({ kind: 'fwmark', fwmark: 6, family: 4 }, 'wrr', 'NAT', [['10.0.0.21', 443, 2], ['10.0.0.22', 443, 1]]);
  svc(ip('fd00::100', 80), 'mh', 'NAT', [['fd00::21', 8080, 1], ['fd00::22', 8080, 2]], { flags: { mhPort: true } });
  svc(ip('10.0.0.200', 80), 'mh', 'DR', [['10.0.0.21', 80, 1], ['10.0.0.22', 80, 1], ['10.0.0.11', 80, 1]]);
  svc(ip('10.0.0.200', 443), 'wrr', 'DR', [['10.0.0.21', 443, 2], ['10.0.0.22', 443, 0]]);
  svc(ip('fd00::200', 80), 'sh', 'DR', [['fd00::21', 80, 1]]);
  return m;
}

/** Fixed L2 paths: remote servers behind veth0 (which the test creates), 10.0.0.11 is this host. */
const resolver: DrResolver = {
  resolve: async (dests) => new Map(dests.map((d): [string, DrPath | Error] => [d.address, d.address === '10.0.0.11' ? { kind: 'local' } : MACS[d.address] ? { kind: 'mac', ifname: 'veth0', ownMac: OWN_MAC, mac: MACS[d.address]! } : new Error(`no MAC for ${d.address}`)])),
};

const ruleset = (): string => execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8', maxBuffer: 1 << 26 });

async function scenario(backend: NftBackend): Promise<void> {
  const m = representative();
  // Two drivers, two tables: the plain one and one doing full NAT (masquerade).
  const plain = new NftablesDataplane({ backend, dr: resolver });
  const masq = new NftablesDataplane({ backend, table: 'haldirm', masquerade: true });
  const natOnly = (mm: NodeModel): ReturnType<typeof allUpTable> => allUpTable(mm).filter((d) => d.vs.forwarding.kind === 'NAT' && d.vs.address.kind === 'ip');
  const steps: { name: string; ruleset: string; changes: number; notes: string[] }[] = [];
  const step = async (name: string, full = false): Promise<void> => {
    const a = await plain.reconcile(allUpTable(m), { full });
    const b = await masq.reconcile(natOnly(m), { full });
    steps.push({ name, ruleset: ruleset(), changes: a.changes.length + b.changes.length, notes: [a.note ?? '', b.note ?? ''] });
  };
  await step('from empty', true);
  m.virtualServers[1]!.realServers[1]!.weight = 4; // weight change (wrr)
  m.virtualServers[9]!.realServers[0]!.weight = 3; // weight change (DR mh)
  await step('weight changed');
  m.virtualServers[3]!.realServers.splice(1, 1); // server removed (mh)
  await step('server removed');
  m.virtualServers.splice(2, 1); // service removed (sh)
  await step('service removed');
  const vs = newVirtualServer({ kind: 'ip', address: '10.0.0.101', family: 4, port: 80 });
  vs.scheduler = 'wrr';
  vs.forwarding = { kind: 'NAT' };
  for (const [a, w] of [['10.0.0.24', 1], ['10.0.0.25', 2]] as const) {
    const rs = newRealServer(a, 8080);
    rs.weight = w;
    vs.realServers.push(rs);
  }
  m.virtualServers.push(vs);
  await step('service added');
  m.virtualServers[0]!.realServers[0]!.weight = 0; // rr server drained to weight 0
  await step('weight 0');
  await step('full read (no-op)', true);
  console.log(JSON.stringify({ steps }));
}

function netns(name: string): void {
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1']);
  execFileSync('ip', ['-n', name, 'link', 'set', 'veth0', 'up']);
}

const run = (ns: string, backend: NftBackend): { steps: { name: string; ruleset: string; changes: number; notes: string[] }[] } =>
  JSON.parse(execFileSync('ip', ['netns', 'exec', ns, process.execPath, SELF], { encoding: 'utf8', env: { ...process.env, SCENARIO: backend }, maxBuffer: 1 << 26 })) as ReturnType<typeof run>;

/** Where two listings part, briefly (the listings are 200 kB). */
function firstDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    let c = 0;
    while (x[i]?.[c] === y[i]?.[c]) c++;
    const cut = (l: string | undefined): string => JSON.stringify(l?.slice(Math.max(0, c - 60), c + 100));
    return `line ${i + 1}, column ${c + 1}: nft -f ${cut(x[i])}, netlink ${cut(y[i])}`;
  }
  return 'no line differs';
}

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;

if (process.env['SCENARIO']) {
  await scenario(process.env['SCENARIO'] as NftBackend);
} else if (process.env['SCENARIO_ERRORS']) {
  await errorScenario();
} else {
  describe('nftables over netlink vs nft -f', { skip }, () => {
    it('writes the same ruleset as nft -f, from empty and at every step of a change sequence', () => {
      const a = `hn${process.pid}-eqa`;
      const b = `hn${process.pid}-eqb`;
      try {
        netns(a);
        netns(b);
        const viaNft = run(a, 'nft');
        const viaNetlink = run(b, 'netlink');
        assert.equal(viaNetlink.steps.length, 7);
        for (let i = 0; i < viaNft.steps.length; i++) {
          const x = viaNft.steps[i]!;
          const y = viaNetlink.steps[i]!;
          assert.equal(y.name, x.name);
          assert.ok(y.ruleset === x.ruleset, `step "${x.name}": the two rulesets differ, ${firstDiff(x.ruleset, y.ruleset)}`);
          assert.equal(y.changes, x.changes, `step "${x.name}": the two drivers saw different changes`);
        }
        const r = viaNetlink.steps.map((s) => s.ruleset);
        // Not vacuous: every kind of rule is there, each step changed the ruleset, the last read changed nothing.
        for (const want of [
          'dnat ip to numgen inc mod 2 map { 0 : 10.0.0.21 . 8080, 1 : 10.0.0.22 . 8080 }',
          'dnat to numgen inc mod 2 map { 0 : 10.0.0.21, 1 : 10.0.0.22 }',
          'dnat ip to jhash ip saddr . tcp sport mod',
          'dnat ip6 to jhash ip6 saddr . tcp sport mod',
          'ct status dnat ct original ip daddr @masq masquerade',
          'ether saddr set 02:00:00:00:00:11 ether daddr set 02:00:00:00:00:21 fwd to "veth0"',
          'counter packets 0 bytes 0 accept comment "h=',
          'counter packets 0 bytes 0 drop comment "h=',
          'jhash ip6 saddr mod 256 seed',
          'type filter hook ingress device "veth0" priority filter; policy accept;',
          '10.0.0.100 . tcp . 81 . 10.0.0.23 . 8080 : 0x00000000',
          'update @rs_stats { ct original ip daddr . ip daddr . th dport }',
        ])
          assert.ok(r[0]!.includes(want), `from empty lacks: ${want}`);
        for (let i = 1; i < 6; i++) assert.notEqual(r[i], r[i - 1], `step "${viaNetlink.steps[i]!.name}" changed nothing`);
        assert.ok(r[1]!.includes('10.0.0.100 . tcp . 81 . 10.0.0.22 . 8080 : 0x00000004'));
        assert.ok(!r[3]!.includes('chain vs/tcp/10.0.0.100/82 {'), 'the removed service is gone');
        assert.ok(r[4]!.includes('chain vs/tcp/10.0.0.101/80 {'), 'the added service is there');
        assert.equal(r[6], r[5]);
        assert.equal(viaNetlink.steps[6]!.changes, 0, 'a full read of what netlink wrote is a no-op');
        assert.match(viaNetlink.steps[1]!.notes[0]!, /netlink message\(s\), 2 service\(s\) re-rendered/);
        assert.match(viaNft.steps[1]!.notes[0]!, /nft command\(s\), 2 service\(s\) re-rendered/);
      } finally {
        for (const ns of [a, b]) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      }
    });

    it('a refused transaction names the object, changes nothing, and the driver recovers', async () => {
      const ns = `hn${process.pid}-err`;
      try {
        netns(ns);
        const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, SELF], { encoding: 'utf8', env: { ...process.env, SCENARIO_ERRORS: '1' } });
        const r = JSON.parse(out) as Record<string, unknown>;
        assert.deepEqual(r.enoent, {
          code: 'ENOENT',
          names: true,
          unchanged: true,
        });
        assert.match(String(r.enoentMessage), /^nftables refused the transaction, nothing was changed: delete element ip haldir dests \{ 10\.0\.0\.100 \. tcp \. 80 \. 10\.0\.0\.29 \. 8080 \}: ENOENT/);
        assert.equal(r.einvalCode, 'EINVAL');
        assert.match(String(r.einval), /add element ip haldir masq \{ fd00::1 \}: EINVAL/, 'the element whose key does not fit the set is named (extended ACK offset)');
        assert.match(String(r.badInput), /^cannot write the nftables transaction, nothing was sent: not an IPv4 address: "10\.0\.0\.300" \(in: add element ip haldir masq\)/);
        assert.match(String(r.noDevice), /interface "nodev0" does not exist/);
        assert.deepEqual(r.drift, { failed: true, names: true, recovered: true, repaired: true });
      } finally {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      }
    });
  });
}

async function errorScenario(): Promise<void> {
  const out: Record<string, unknown> = {};
  const m = representative();
  const drv = new NftablesDataplane({ dr: resolver });
  await drv.reconcile(allUpTable(m), { full: true });
  const before = ruleset();
  const s = new NftSocket();
  const W = { family: 'ip', table: 'haldir' } as const;
  const dests = { name: 'dests', keyTypes: ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr', 'inet_service'], dataType: 'mark' };
  // A valid add, then a delete of an element that is not there: the kernel refuses the batch.
  try {
    s.apply([
      { op: 'add element', ...W, map: { name: 'masq', keyTypes: ['ipv4_addr'], dataType: '' }, keys: ['10.9.9.9'], values: [''] },
      { op: 'delete element', ...W, map: dests, keys: ['10.0.0.100 . tcp . 80 . 10.0.0.21 . 8080', '10.0.0.100 . tcp . 80 . 10.0.0.29 . 8080'], values: ['', ''] },
    ]);
  } catch (e) {
    const err = e as NftError;
    out.enoentMessage = err.message;
    out.enoent = { code: err.code, names: err instanceof NftError && err.message.includes('10.0.0.29'), unchanged: ruleset() === before };
  }
  const fail = (f: () => void): NftError | undefined => {
    try {
      f();
    } catch (e) {
      return e as NftError;
    }
    return undefined;
  };
  const e1 = fail(() => s.apply([{ op: 'add element', ...W, map: { name: 'masq', keyTypes: ['ipv6_addr'], dataType: '' }, keys: ['fd00::1'], values: [''] }]));
  out.einval = e1?.message;
  out.einvalCode = e1?.code;
  out.badInput = fail(() => s.apply([{ op: 'add element', ...W, map: { name: 'masq', keyTypes: ['ipv4_addr'], dataType: '' }, keys: ['10.0.0.300'], values: [''] }]))?.message;
  out.noDevice = fail(() => s.apply([{ op: 'add rule', family: 'netdev', table: 'haldir', chain: 'vs/tcp/10.0.0.200/80', rule: [{ s: 'fwd', dev: 'nodev0' }], text: 'fwd to "nodev0"', comment: 'h=0' }]))?.message;
  s.close();
  // Drift the cached path cannot see: a service's chain deleted behind haldir's back. The
  // next change to that service is refused (naming the chain), the one after re-reads the
  // kernel and repairs it.
  execFileSync('nft', ['flush', 'chain', 'ip', 'haldir', 'vs/tcp/10.0.0.100/81']);
  execFileSync('nft', ['delete', 'element', 'ip', 'haldir', 'services', '{ 10.0.0.100 . tcp . 81 }']);
  execFileSync('nft', ['delete', 'chain', 'ip', 'haldir', 'vs/tcp/10.0.0.100/81']);
  m.virtualServers[1]!.realServers[0]!.weight = 5;
  let failed: Error | undefined;
  try {
    await drv.reconcile(allUpTable(m));
  } catch (e) {
    failed = e as Error;
  }
  const again = await drv.reconcile(allUpTable(m));
  out.drift = {
    failed: failed instanceof NftError,
    names: !!failed?.message.includes('vs/tcp/10.0.0.100/81'),
    recovered: !!again.note?.includes('kernel state read') && again.applied,
    repaired: ruleset().includes('chain vs/tcp/10.0.0.100/81 {') && ruleset().includes('10.0.0.100 . tcp . 81 : goto vs/tcp/10.0.0.100/81') && again.changes.some((c) => c.object === 'service tcp:[10.0.0.100]:81'),
  };
  await drv.close({ flush: true });
  console.log(JSON.stringify(out));
}
