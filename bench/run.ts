// `npm run bench`: runs the benchmarks and prints one table each, with the
// peer measured in the same run. `npm run bench -- config` runs one by name.
import { formatConfigScale, runConfigScale } from './config-scale.js';
import { formatFailover, runFailover } from './failover.js';
import { formatTimerIsolation, runTimerIsolation } from './timer-isolation.js';
import { runHealthScale } from './health-scale.js';
import { formatDpReconcile, runDpReconcile } from './dp-reconcile.js';
import { runThroughput } from './dp-throughput.js';
import { runSeedDirector } from './seed-director.js';
import { formatIpvsReconcile, runIpvsReconcile } from './ipvs-reconcile.js';

const BENCHES: Record<string, () => string | Promise<string>> = {
  config: () => formatConfigScale(runConfigScale(Number(process.env['BENCH_RUNS'] ?? 5))),
  failover: async () => formatFailover(await runFailover()),
  timers: async () => formatTimerIsolation(await runTimerIsolation()),
  health: () => runHealthScale(),
  reconcile: () => formatDpReconcile(runDpReconcile()),
  throughput: () => runThroughput(),
  director: () => runSeedDirector(),
  'ipvs-reconcile': async () => formatIpvsReconcile(await runIpvsReconcile()),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (available: ${Object.keys(BENCHES).join(', ')})`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  console.log(await BENCHES[name]!());
  console.log();
}
