// The IPVS data plane against real kernel IPVS: one user-mode-linux guest boot
// (src/lab/uml.ts; this host's kernel may have no IPVS) runs ipvs-uml-guest.ts, which
// programs IPVS through haldir's driver and CLI, sends real traffic between network
// namespaces inside the guest and reports what it saw; each test below checks one part.
// Skips only when a guest cannot run here (not root, user-mode-linux not installed:
// scripts/setup.sh installs it).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { planNode, renderPlan } from '../../src/model/plan.js';
import { runInGuest, umlAvailable } from '../../src/lab/uml.js';
import { featuresConfig } from './ipvs-uml-guest.js';
import { ROOT, SEED } from '../helpers/paths.js';
import { readFileSync } from 'node:fs';

const GUEST = fileURLToPath(new URL('./ipvs-uml-guest.js', import.meta.url));
const avail = umlAvailable();

interface Step {
  ok: boolean;
  ms: number;
  data?: unknown;
  error?: string;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** The IPVS part of `haldir plan` without its notes: what `ipvsadm -Ln` should print, lines trimmed. */
function plannedIpvsadm(text: string, file: string): string[] {
  const r = loadKeepalivedText(text, file);
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  const lines = renderPlan(planNode(r.model)).split('\n');
  return lines.slice(lines.indexOf('IPVS') + 1).filter((l) => l !== '' && !l.startsWith('     '));
}

const trimmed = (text: string): string[] => text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');

/** The seed's four DR services as ipvsadm -Ln prints them (trailing spaces included). */
const SEED_IPVSADM = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  ...[80, 443, 6443, 8443].flatMap((port) => [
    `TCP  192.168.2.100:${port} rr`,
    ...[11, 12, 13, 14].map((n) => `  -> ${`192.168.2.${n}:${port}`.padEnd(28)} Route   1      0          0         `),
  ]),
].join('\n') + '\n';

describe('IPVS data plane in a user-mode-linux guest', { skip: avail.ok ? undefined : avail.why, timeout: 300000 }, () => {
  let steps: Record<string, Step> = {};
  let guestInfo = '';
  before(async () => {
    const r = await runInGuest([process.execPath, GUEST], { cwd: ROOT, timeoutMs: 240000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (r.code !== 0 || !line) throw new Error(`the guest failed (exit ${r.code}):\n${r.stderr.slice(-4000)}\n---- console ----\n${r.console}`);
    const res = JSON.parse(line.slice('RESULT '.length)) as { ms: number; steps: Record<string, Step> };
    steps = res.steps;
    guestInfo = `guest ${(r.wallMs / 1000).toFixed(1)} s wall, scenario ${(res.ms / 1000).toFixed(1)} s`;
  });
  const data = (name: string): Any => {
    const s = steps[name];
    assert.ok(s, `step ${name} did not run (${guestInfo})`);
    assert.ok(s.ok, `step ${name} failed in the guest:\n${s.error}`);
    return s.data;
  };
  const servedBy = (replies: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const r of replies) m.set(r.split(':')[0]!, (m.get(r.split(':')[0]!) ?? 0) + 1);
    return m;
  };

  it("applies the seed's DR cluster with `haldir apply`: ipvsadm -Ln shows exactly the plan, and a second apply changes nothing", () => {
    const d = data('seed');
    assert.match(d.apply, /ipvs: applied: 21 change\(s\) .*\(20 IPVS command\(s\) in 1 netlink batch\(es\), kernel state read\)/);
    assert.equal(d.ipvsadm, SEED_IPVSADM);
    assert.deepEqual(trimmed(d.ipvsadm), plannedIpvsadm(readFileSync(`${SEED}lb1.conf`, 'utf8'), 'lb1.conf'));
    assert.equal(d.again.code, 0);
    assert.match(d.again.out, /ipvs: no change needed: 0 change\(s\)/);
  });

  it('`haldir dataplane show --dataplane ipvs [--stats]` prints byte for byte what ipvsadm -Ln [--stats] prints', () => {
    const seed = data('seed');
    assert.equal(seed.show.code, 0);
    assert.equal(seed.show.out, seed.ipvsadm);
    assert.equal(seed.showStats.out, seed.ipvsadmStats);
    // Again with counters, connections, Masq/Tunnel/Route, IPv6, fwmark, persistence and flags in the table.
    const d = data('show');
    assert.equal(d.show.out, d.ipvsadm, `compared after ${d.tries[0]} read(s)`);
    assert.equal(d.showStats.out, d.ipvsadmStats, `compared after ${d.tries[1]} read(s)`);
    // NAT: six connections, packets counted both ways (the replies pass the director too).
    assert.match(d.ipvsadmStats, /TCP {2}10\.0\.0\.20:80 +6 +[1-9]\d* +[1-9]\d* /);
    const json = JSON.parse(d.json.out) as Any[];
    const nat = json.find((s) => s.vsKey === 'tcp:[10.0.0.20]:80');
    assert.equal(nat.conns, 6);
    assert.deepEqual(nat.dests.map((x: Any) => x.key).sort(), ['[10.10.0.11]:8080', '[10.10.0.12]:8080', '[10.10.0.13]:8080']);
    assert.ok(nat.dests.every((x: Any) => x.forwarding === 'Masq' && x.conns === 2));
  });

  it('programs every feature (schedulers and flags, persistence, ops, SCTP, IPv6, fwmark, groups, thresholds, TUN ipip/gue/gre, mixed families) and reads it back unchanged', () => {
    const d = data('features');
    assert.deepEqual(d.first.errors, []);
    // Services the seed runs recorded as haldir's are removed; one haldir never wrote stays.
    assert.deepEqual(
      d.first.changes.filter((c: Any) => c.op === 'delete').map((c: Any) => c.object).sort(),
      [80, 443, 6443, 8443].map((p) => `service tcp:[192.168.2.100]:${p}`).sort(),
    );
    assert.match(d.first.note, /1 service\(s\) not haldir's left alone/);
    // A full reconcile right after finds nothing: every attribute reads back as written.
    assert.deepEqual(d.again.changes, []);
    assert.equal(d.messages.again, 0);
    const kernel = trimmed(d.ipvsadm).filter((l) => l !== 'TCP  10.9.9.9:80 rr');
    assert.deepEqual(kernel, plannedIpvsadm(featuresConfig({ mixed: true }), 'features.conf'));
    assert.equal(d.show, d.ipvsadm);
    assert.match(d.tunInfo, /-> 10\.10\.0\.11:80 +Tunnel +gue:6080:\+c +1 /);
    assert.match(d.tunInfo, /-> 10\.10\.0\.12:80 +Tunnel +gre:r\+c +1 /);
    assert.match(d.tunInfo, /-> 10\.10\.0\.13:80 +Tunnel +ipip +1 /);
    assert.match(d.thresholds, /-> 10\.10\.0\.11:443 +100 +10 /);
    assert.match(d.timeouts, /^Timeout \(tcp tcpfin udp\): 7200 120 300$/m);
    // NAT → conntrack; removals → expire_nodest_conn; persistence → expire_quiescent_template;
    // sh over TCP without a sync daemon → sloppy_tcp; no sh/mh over SCTP → sloppy_sctp untouched.
    assert.deepEqual(d.sysctls, { conntrack: '1', expire_nodest_conn: '1', expire_quiescent_template: '1', sloppy_tcp: '1', sloppy_sctp: '0' });
  });

  it('DR: real traffic from a client namespace, round robin over three real servers that see the client itself', () => {
    const r = data('dr') as string[];
    assert.equal(r.length, 6);
    for (const x of r) assert.match(x, /^rs[123]:80 10\.10\.0\.100:\d+$/);
    assert.deepEqual([...servedBy(r).values()], [2, 2, 2]);
  });

  it('NAT with port mapping: VIP:80 reaches the real servers on :8080, the client address kept', () => {
    const r = data('nat') as string[];
    assert.equal(r.length, 6);
    for (const x of r) assert.match(x, /^rs[123]:8080 10\.20\.0\.2:\d+$/);
    assert.deepEqual([...servedBy(r).values()], [2, 2, 2]);
  });

  it('TUN (ipip): real servers decapsulate and answer the client directly', () => {
    const r = data('tun') as string[];
    assert.equal(r.length, 6);
    for (const x of r) assert.match(x, /^rs[123]:80 10\.10\.0\.100:\d+$/);
    assert.deepEqual([...servedBy(r).values()], [2, 2, 2]);
  });

  it('two directors with mh map the same flows to the same real servers', () => {
    const d = data('mh');
    assert.deepEqual(JSON.parse(d.applyB).errors, []);
    assert.equal(Object.keys(d.viaA).length, 24);
    assert.ok(Object.values(d.viaA).every((v) => /^rs[123]$/.test(v as string)), JSON.stringify(d.viaA));
    assert.deepEqual(d.viaB, d.viaA);
    // mh-port hashes the source port too: the flows spread over the servers.
    assert.ok(new Set(Object.values(d.viaA)).size >= 2);
    assert.match(d.listB, /UDP {2}10\.0\.0\.40:5353 mh \(mh-port\)/);
  });

  it('a no-op reconcile sends no change message; one weight is one message; drift made with ipvsadm is repaired by the next full reconcile and flagged', () => {
    const d = data('drift');
    assert.deepEqual(d.noop.cached.changes, []);
    assert.deepEqual(d.noop.full.changes, []);
    assert.equal(d.noop.messages, 0);
    assert.deepEqual(d.one.changes, [{ op: 'update', object: 'dest tcp:[10.0.0.10]:80 -> [10.10.0.11]:80', detail: 'weight 1 -> 5' }]);
    assert.equal(d.one.messages, 1);
    assert.match(d.one.note, /1 service\(s\) re-rendered/);
    assert.match(d.one.weightAfter, /-> 10\.10\.0\.11:80 +Route +5 /);
    // The cached path trusts what haldir wrote; the full one reads the kernel.
    assert.deepEqual(d.cached.changes, []);
    const repaired = d.repair.changes as Any[];
    assert.ok(repaired.every((c) => c.drift === true), JSON.stringify(repaired));
    assert.deepEqual(
      repaired.map((c) => `${c.op} ${c.object}`).sort(),
      [
        'add service tcp:[10.0.0.20]:80',
        'add dest tcp:[10.0.0.20]:80 -> [10.10.0.11]:8080',
        'add dest tcp:[10.0.0.20]:80 -> [10.10.0.12]:8080',
        'add dest tcp:[10.0.0.20]:80 -> [10.10.0.13]:8080',
        'update dest tcp:[10.0.0.30]:80 -> [10.10.0.12]:80',
        'delete dest tcp:[10.0.0.60]:80 -> [10.10.0.99]:80',
      ].sort(),
    );
    assert.equal(d.logs.filter((l: string) => l.startsWith('repaired drift')).length, 6);
    assert.deepEqual(d.after.changes, []);
    assert.equal(d.natAgain.length, 3);
    for (const x of d.natAgain) assert.match(x, /^rs[123]:8080 10\.20\.0\.2:/);
    assert.match(d.foreign, /TCP {2}10\.9\.9\.9:80 rr/);
  });

  it('a scheduler the kernel lacks is refused by name with the fix; the other services stay programmed', () => {
    const d = data('twos');
    if (d.kernelHasTwos) {
      assert.deepEqual(d.report.errors, []);
      return;
    }
    assert.equal(d.report.errors.length, 1);
    assert.match(d.report.errors[0], /add service TCP 10\.0\.0\.98:80 \(twos\): ENOENT .*twos needs Linux 6\.2.*3 destination\(s\) were not added/);
    assert.match(d.listed, /No such service/);
  });

  it('connection sync: a master daemon on director A, a backup on B; connections made through A appear on B', () => {
    const d = data('syncd');
    assert.deepEqual(d.removeMixed.changes.map((c: Any) => `${c.op} ${c.object}`), ['delete service tcp:[10.0.0.96]:80']);
    assert.deepEqual(d.daemons.map((x: Any) => [x.state, x.ifname, x.syncId]), [['master', 'dA', 51]]);
    assert.match(d.list, /^master sync daemon \(mcast=dA, syncid=51/m);
    assert.match(d.listB, /^backup sync daemon \(mcast=eth0, syncid=51/m);
    assert.equal(d.traffic.length, 4);
    assert.match(d.connsB, /^TCP 0A0A0064 [0-9A-F]{4} 0A00000A 0050 0A0A000[BCD] 0050 /m);
    assert.equal(d.after, '');
  });

  it('counts active connections per real server (what a drain waits for)', () => {
    const d = data('active');
    const rs = /^\["(rs[123]):8080 /.exec(d.line)?.[1];
    assert.ok(rs, d.line);
    const nat = d.active['tcp:[10.0.0.20]:80'];
    const n = Number(rs!.slice(2));
    assert.deepEqual(nat, Object.fromEntries([11, 12, 13].map((x) => [`[10.10.0.${x}]:8080`, x === 10 + n ? 1 : 0])));
  });

  it('`haldir apply --drain`: a removed real server stays at weight 0 with its own tunnel until drained, then goes', () => {
    const d = data('drain');
    assert.equal(d.a.code, 0, d.a.err);
    assert.equal(d.b.code, 0, d.b.err);
    assert.match(d.b.out, /^~ dest tcp:\[10\.0\.0\.99\]:80 -> \[10\.10\.0\.12\]:80 {2}\(weight 1 -> 0\)$/m);
    assert.match(d.b.out, /^draining tcp:\[10\.0\.0\.99\]:80 -> \[10\.10\.0\.12\]:80 /m);
    assert.match(d.b.out, /^drained: tcp:\[10\.0\.0\.99\]:80 -> \[10\.10\.0\.12\]:80 after /m);
    assert.match(d.b.out, /^- dest tcp:\[10\.0\.0\.99\]:80 -> \[10\.10\.0\.12\]:80 {2}\(was Tunnel gue:6080 weight 0\)$/m);
    assert.deepEqual(trimmed(d.after).slice(2), ['TCP  10.0.0.99:80 rr', '  -> 10.10.0.11:80                Masq    1      0          0']);
  });

  it("close({ flush }) removes haldir's services and leaves the others", () => {
    const d = data('flush');
    assert.deepEqual(trimmed(d.ipvsadm).slice(3), ['TCP  10.9.9.9:80 rr']);
  });
});
