// Benchmark: 10,000 real servers checked every second (delay_loop 1 s), TCP_CHECK
// and HTTP_GET, against one nginx on loopback; HAProxy 2.6 checking the same
// servers (`check inter 1s`) in the same run as the peer. Prints attempts per
// second, event-loop lag p50/p99, CPU % and peak RSS for haldir; for HAProxy its
// CPU % and the checks it really made (nginx's accepted connections, stub_status).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, haproxyConfig, nginxAccepts, serverSet, startNginx, targets } from './health-peers.js';

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

async function haproxyRun(dir: string, n: number, seconds: number, http: boolean): Promise<{ cpu: number; perSec: number } | string> {
  const conf = haproxyConfig(dir, targets(serverSet(n), n), http);
  const p = spawn('haproxy', ['-f', conf, '-db'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    if (p.exitCode !== null || !p.pid) return 'haproxy did not start';
    const c0 = cpuSeconds(p.pid);
    const a0 = await nginxAccepts();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, (seconds - 2) * 1000));
    const a1 = await nginxAccepts();
    const wall = (performance.now() - t0) / 1000;
    return { cpu: ((cpuSeconds(p.pid) - c0) / wall) * 100, perSec: (a1 - a0 - 2) / wall };
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
    const rows = [['checker', 'servers', 'haldir checks/s', 'lag p50 ms', 'lag p99 ms', 'haldir CPU %', 'RSS MB', 'HAProxy checks/s', 'HAProxy CPU %']];
    for (const [type, http] of [['TCP_CHECK', false], ['HTTP_GET', true]] as const) {
      const h = await haldir(n, seconds, type);
      const p = await haproxyRun(dir, n, seconds, http);
      rows.push([
        type,
        String(n),
        h.attemptsPerSec.toFixed(0),
        h.lagP50Ms.toFixed(1),
        h.lagP99Ms.toFixed(1),
        h.cpuPercent.toFixed(0),
        h.rssMB.toFixed(0),
        // A TCP check that resets right after the handshake is never accept()ed, so nginx cannot count it.
        typeof p === 'string' ? p : http ? p.perSec.toFixed(0) : 'n/a',
        typeof p === 'string' ? '' : p.cpu.toFixed(0),
      ]);
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
