// One measured load of a configuration, in its own process so that peak RSS is
// this load's alone: prints {ms, cpuMs, rssMB, errors, warnings, virtualServers, realServers}.
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/load.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: parse-once FILE');
  process.exit(2);
}
const t0 = performance.now();
const c0 = process.cpuUsage();
const cfg = loadConfig([file]);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const m = cfg.models.get(cfg.nodes[0]!)!;
const errors = cfg.diagnostics.filter((d) => d.severity === 'error').length;
console.log(
  JSON.stringify({
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssMB: process.resourceUsage().maxRSS / 1024,
    errors,
    warnings: cfg.diagnostics.length - errors,
    virtualServers: m.virtualServers.length,
    realServers: m.virtualServers.reduce((n, v) => n + v.realServers.length, 0),
  }),
);
