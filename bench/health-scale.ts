// Benchmark: 10,000 real servers checked every second (delay_loop 1 s), TCP_CHECK
// and HTTP_GET, against one nginx on loopback; HAProxy 2.6 checking the same
// servers (`check inter 1s`) in the same run as the peer. Prints attempts per
// second, event-loop lag p50/p99, CPU % and peak RSS for haldir, CPU % for HAProxy.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, haproxyConfig, serverSet, startNginx, targets } from './health-peers.js';

const RUN = fileURLToPath(new URL('./health-run.js', import.meta.url));

interface HaldirRun {
  attemptsPerSec: number;
  lagP50Ms: number;
  lagP99Ms: number;
  cpuPercent: number;
  rssMB: number;
  down: number;
}

function haldir(n: number, seconds: number, type: string): Promise<HaldirRun> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [RUN, String(n), String(seconds), type], { encoding: 'utf8' }, (e, out) => (e ? reject(e) : resolve(JSON.parse(out) as HaldirRun))),
  );
}

async function haproxyCpu(dir: string, n: number, seconds: number, http: boolean): Promise<number | string> {
  const conf = haproxyConfig(dir, targets(serverSet(n), n), http);
  const p = spawn('haproxy', ['-f', conf, '-db'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    if (p.exitCode !== null || !p.pid) return 'haproxy did not start';
    const c0 = cpuSeconds(p.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, (seconds - 2) * 1000));
    return ((cpuSeconds(p.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
  } finally {
    if (p.exitCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
  }
}

export async function runHealthScale(n = 10_000, seconds = 10): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-hb-'));
  const nginx = startNginx(dir, serverSet(n));
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const rows = [['checker', 'servers', 'haldir checks/s', 'lag p50 ms', 'lag p99 ms', 'haldir CPU %', 'RSS MB', 'HAProxy CPU %']];
    for (const [type, http] of [['TCP_CHECK', false], ['HTTP_GET', true]] as const) {
      const h = await haldir(n, seconds, type);
      const p = await haproxyCpu(dir, n, seconds, http);
      rows.push([type, String(n), h.attemptsPerSec.toFixed(0), h.lagP50Ms.toFixed(1), h.lagP99Ms.toFixed(1), h.cpuPercent.toFixed(0), h.rssMB.toFixed(0), typeof p === 'number' ? p.toFixed(0) : p]);
    }
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
    return [
      `Health checks: ${n} real servers (one nginx, 100 loopback addresses x 100 ports), delay_loop 1 s; targets: ${n}/s on one core, lag p99 < 20 ms, CPU within 2x HAProxy`,
      ...rows.map((x) => x.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')),
    ].join('\n');
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}
