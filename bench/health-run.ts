// One haldir health engine in its own process, for the benchmark: N real
// servers (the set from health-peers.ts) with TCP_CHECK or HTTP_GET at
// delay_loop 1 s, run for SECONDS; prints attempts/s in the steady window,
// event-loop lag p50/p99, CPU % and peak RSS as JSON.
import { createLogger } from '../src/daemon/log.js';
import { LagMonitor } from '../src/daemon/lag.js';
import { createRunCheck } from '../src/health/checkers/index.js';
import { HealthEngine, realTime } from '../src/health/engine.js';
import { newChecker, newNodeModel, newRealServer, newVirtualServer } from '../src/model/construct.js';
import type { HttpChecker } from '../src/model/types.js';
import { serverSet, targets } from './health-peers.js';

const [nArg = '10000', secondsArg = '10', type = 'TCP_CHECK'] = process.argv.slice(2);
const n = Number(nArg);
const seconds = Number(secondsArg);

const model = newNodeModel('bench');
const vs = newVirtualServer({ kind: 'ip', address: '10.200.0.1', family: 4, port: 80 });
vs.delayLoop = 1;
for (const t of targets(serverSet(n), n)) {
  const rs = newRealServer(t.address, t.port);
  // warmup 1 s: the first attempts spread over the first second, as keepalived's warmup does.
  const c = newChecker(type === 'HTTP_GET' ? 'HTTP_GET' : 'TCP_CHECK', { delayLoop: 1, connectTimeout: 2, retry: 1, delayBeforeRetry: 1, warmup: 1 });
  if (c.type === 'HTTP_GET') (c as HttpChecker).urls.push({ path: '/healthz', statusCodes: [{ from: 200, to: 200 }], regexNoMatch: false });
  rs.checkers.push(c);
  vs.realServers.push(rs);
}
model.virtualServers.push(vs);

const engine = new HealthEngine(model, {
  runCheck: createRunCheck({}),
  ...realTime(),
  random: Math.random,
  log: createLogger(() => undefined),
  bootstrapUs: 0,
});
engine.start();
const lag = new LagMonitor(10);
// Measure the steady state: skip the first 2 s (start-up spread).
setTimeout(() => {
  lag.start();
  const a0 = engine.attempts;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  setTimeout(() => {
    const cpu = process.cpuUsage(c0);
    const wall = (performance.now() - w0) / 1000;
    const s = lag.stats();
    const down = engine.status().filter((x) => !x.up).length;
    process.stdout.write(
      JSON.stringify({
        attemptsPerSec: (engine.attempts - a0) / wall,
        lagP50Ms: s.p50,
        lagP99Ms: s.p99,
        cpuPercent: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
        userPercent: (cpu.user / 1e6 / wall) * 100,
        rssMB: process.resourceUsage().maxRSS / 1024,
        down,
      }) + '\n',
    );
    void engine.stop().then(() => process.exit(0));
  }, (seconds - 2) * 1000);
}, 2000);
