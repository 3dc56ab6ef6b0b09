// Benchmark: read + validate a keepalived.conf of keepalived issue 2318's size
// (2,284 virtual servers, 37,298 real servers), haldir against `keepalived -t`
// on the same file in the same run. Each load runs in its own process so peak
// RSS is its own; medians of several runs because the machine is noisy.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateConfig, ISSUE_2318 } from './gen-config.js';

export interface Sample {
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds (user + system): steady where wall time suffers from other tenants' load. */
  cpuSeconds: number;
  rssMB: number;
}

export interface ConfigScaleResult {
  virtualServers: number;
  realServers: number;
  haldir: Sample[];
  keepalived: Sample[] | string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function haldirOnce(file: string): Sample {
  const script = fileURLToPath(new URL('./parse-once.js', import.meta.url));
  const out = execFileSync(process.execPath, [script, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const r = JSON.parse(out) as { ms: number; cpuMs: number; rssMB: number; errors: number };
  if (r.errors) throw new Error(`haldir found ${r.errors} errors in the generated file`);
  return { seconds: r.ms / 1000, cpuSeconds: r.cpuMs / 1000, rssMB: r.rssMB };
}

/** keepalived -t under GNU time: wall seconds and max RSS of the whole run. */
function keepalivedOnce(file: string): Sample | string {
  const r = spawnSync('/usr/bin/time', ['-f', 'HALDIR_TIME %e %U %S %M', 'keepalived', '-t', '-f', file], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return `not run: ${r.error.message}`;
  const m = /HALDIR_TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) return `not run: ${r.stderr.trim().split('\n').pop() ?? 'no output'}`;
  if (r.status !== 0) return `keepalived -t exited ${r.status}`;
  return { seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]), rssMB: Number(m[4]) / 1024 };
}

export function runConfigScale(runs = 5): ConfigScaleResult {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-bench-'));
  try {
    const file = join(dir, 'issue-2318.conf');
    writeFileSync(file, generateConfig(ISSUE_2318));
    const haldir: Sample[] = [];
    const keepalived: Sample[] = [];
    let kaError: string | undefined;
    // Interleave the two so that background noise hits both alike.
    for (let i = 0; i < runs; i++) {
      haldir.push(haldirOnce(file));
      const k = keepalivedOnce(file);
      if (typeof k === 'string') kaError = k;
      else keepalived.push(k);
    }
    return { ...ISSUE_2318, haldir, keepalived: kaError ?? keepalived };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(name: string, xs: Sample[], target: string): string[] {
  const wall = xs.map((s) => s.seconds);
  return [
    name,
    median(wall).toFixed(3),
    `${Math.min(...wall).toFixed(3)}–${Math.max(...wall).toFixed(3)}`,
    median(xs.map((s) => s.cpuSeconds)).toFixed(3),
    median(xs.map((s) => s.rssMB)).toFixed(0),
    target,
  ];
}

export function formatConfigScale(r: ConfigScaleResult): string {
  const rows = [['', 'wall s (median)', 'wall min–max', 'CPU s (median)', 'peak RSS MB', 'target'], row('haldir load + validate', r.haldir, '< 1 s, < 200 MB')];
  let ratio = '';
  if (typeof r.keepalived === 'string') rows.push(['keepalived -t', r.keepalived, '', '', '', '']);
  else {
    rows.push(row('keepalived 2.2.7 -t', r.keepalived, '(peer)'));
    const m = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
    ratio =
      `haldir/keepalived: wall ×${(m(r.haldir, (s) => s.seconds) / m(r.keepalived, (s) => s.seconds)).toFixed(2)}, ` +
      `CPU ×${(m(r.haldir, (s) => s.cpuSeconds) / m(r.keepalived, (s) => s.cpuSeconds)).toFixed(2)}, ` +
      `memory ×${(m(r.haldir, (s) => s.rssMB) / m(r.keepalived, (s) => s.rssMB)).toFixed(2)}` +
      '\n(haldir: the load itself, in a fresh node process; keepalived: the whole keepalived -t run)';
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = rows.map((x) => x.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  return [`Config scale: ${r.virtualServers} virtual servers, ${r.realServers} real servers (keepalived issue 2318), ${r.haldir.length} runs each`, ...lines, ratio].join('\n');
}
