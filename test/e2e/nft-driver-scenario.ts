// Run inside a throwaway network namespace by nft-driver.test.ts: drives the nftables
// driver in-process (cached O(changed) reconciles and full ones) and prints JSON.
import { execFileSync } from 'node:child_process';
import { newNodeModel, newRealServer, newVirtualServer } from '../../src/model/construct.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { NftablesDataplane } from '../../src/dataplane/nftables/index.js';

const m = newNodeModel('t');
for (let i = 0; i < 300; i++) {
  const vs = newVirtualServer({ kind: 'ip', address: `10.1.${i >> 8}.${i & 255}`, family: 4, port: 80 });
  vs.forwarding = { kind: 'NAT' };
  vs.scheduler = i % 2 ? 'wrr' : 'mh';
  for (let k = 0; k < 4; k++) vs.realServers.push(newRealServer(`10.2.${i >> 6}.${(i & 63) * 4 + k}`, 8080));
  m.virtualServers.push(vs);
}
const logs: string[] = [];
const drv = new NftablesDataplane({ log: (msg, f) => logs.push(`${msg} ${JSON.stringify(f)}`) });
const ruleset = (): string => execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8', maxBuffer: 1 << 28 });
const out: Record<string, unknown> = {};
const r1 = await drv.reconcile(allUpTable(m), { full: true });
out.first = { applied: r1.applied, changes: r1.changes.length, note: r1.note };
m.virtualServers[7]!.realServers[2]!.weight = 4;
const r2 = await drv.reconcile(allUpTable(m));
out.oneWeight = { changes: r2.changes.map((c) => c.object), note: r2.note };
m.virtualServers.splice(11, 1);
const r3 = await drv.reconcile(allUpTable(m));
out.removeService = { changes: r3.changes.length, note: r3.note };
const before = ruleset();
const r4 = await drv.reconcile(allUpTable(m), { full: true });
out.fullAfterCached = { changes: r4.changes.length, identical: ruleset() === before };
execFileSync('nft', ['delete', 'element', 'ip', 'haldir', 'services', '{ 10.1.0.20 . tcp . 80 }']);
execFileSync('nft', ['add', 'rule', 'ip', 'haldir', 'vs/tcp/10.1.0.21/80', 'counter']);
const r5 = await drv.reconcile(allUpTable(m), { full: true });
out.drift = { changes: r5.changes.map((c) => ({ object: c.object, drift: !!c.drift })), logs };
m.virtualServers[3]!.realServers[0]!.weight = 9;
const r6 = await drv.reconcile(allUpTable(m), { dryRun: true });
const r7 = await drv.reconcile(allUpTable(m), { full: true });
out.dryRun = { dry: r6.changes.length, dryApplied: r6.applied, after: r7.changes.length };
const stats = await drv.stats();
out.stats = { services: stats.length, dests: stats.reduce((n, s) => n + s.dests.length, 0), weight: stats.find((s) => s.vsKey === 'tcp:[10.1.0.3]:80')?.dests.find((d) => d.address === '10.2.0.12')?.weight };
await drv.close({ flush: true });
out.afterFlush = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).trim();
console.log(JSON.stringify(out));
