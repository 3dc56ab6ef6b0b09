// Benchmark: data-plane throughput from a client namespace to nginx real servers
// through one director namespace, every path measured in the same run (the
// baseline is shared/docs/lab.md's table): direct (no LB), DR, NAT and full NAT
// programmed by `haldir apply` (nftables), haldir's userspace proxy, and HAProxy
// 2.6 `mode tcp` as the peer. Bulk: curl of a 100 MB file with TSO/GSO/GRO off in
// every leaf namespace, Gbit/s and CPU per GB, both of the lab's own tasks (softirq
// work included: this kernel charges it to the task it interrupts) and of the whole
// machine (all namespaces share one kernel; on a shared machine this also counts
// everybody else). Requests: wrk -t1 -c50 keep-alive on a 1 KB file.
//
// Two labs exist side by side: a DR lab (client on the servers' subnet, VIP on
// their lo) for direct, DR, full NAT, userspace and HAProxy, and a NAT lab (real
// servers routed back through the director) for NAT. Every path measurement is
// paired with a direct one taken right before or after it, and paths run in
// passes (every other in reverse order), so a noisy machine's load hits a path and
// its direct reference alike; ratios are medians of per-pair ratios. Everything
// started is stopped by PID and every namespace removed, also on failure.
// Knobs: BENCH_PASSES (2), BENCH_BULK_PAIRS (8), BENCH_WRK_S (5), BENCH_DP_SERVERS (1).
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { canBuildLabs } from '../src/lab/netns.js';
import { DataplaneLab, DP_VIP } from '../src/lab/dp-lab.js';
import { HALDIR } from '../src/lab/vrrp-lab.js';
import {
  BULK_BYTES,
  childPids,
  ksoftirqdPids,
  download,
  haproxyConfig,
  median,
  nginxConfig,
  nsRun,
  SMALL_BYTES,
  sleep,
  tail,
  versionOf,
  writeDocroot,
  wrk,
  type Download,
  type WrkResult,
} from './dp-throughput-peers.js';

export interface ThroughputOptions {
  /** Passes over the load-balanced paths (every other one in reverse order). */
  passes: number;
  /** Pairs of 100 MB downloads (direct and path, alternating which goes first) per path and pass. */
  bulkPairs: number;
  /** wrk duration, seconds; one direct and one path run per path and pass. */
  wrkSeconds: number;
  /** Real servers behind the director. */
  servers: number;
}

export function envOptions(): ThroughputOptions {
  const n = (k: string, d: number): number => {
    const v = Number(process.env[k]);
    return Number.isFinite(v) && v > 0 ? Math.floor(v) : d;
  };
  return { passes: n('BENCH_PASSES', 2), bulkPairs: n('BENCH_BULK_PAIRS', 8), wrkSeconds: n('BENCH_WRK_S', 5), servers: n('BENCH_DP_SERVERS', 1) };
}

type PathKey = 'dr' | 'nat' | 'fullnat' | 'userspace' | 'haproxy';

interface PathSpec {
  key: PathKey;
  label: string;
  lab: DataplaneLab;
  up(): Promise<void>;
  down(): Promise<void>;
  /** The director's daemon while the path is up (userspace proxy, HAProxy). */
  daemon?(): number | undefined;
}

/** A path's download next to a direct one made just before or after it. */
export interface Pair {
  path: Download;
  direct: Download;
}

export interface WrkPair {
  path: WrkResult;
  direct: WrkResult;
}

export interface PathResult {
  key: PathKey;
  label: string;
  pairs: Pair[];
  wrk: WrkPair[];
  errors: string[];
}

const LEAVES = (L: DataplaneLab): string[] => ['client', ...L.directors, ...L.servers];

function vsConfig(kind: 'DR' | 'NAT', servers: string[]): string {
  return [`virtual_server ${DP_VIP} 80 {`, '  lb_algo rr', `  lb_kind ${kind}`, '  protocol TCP', ...servers.map((s) => `  real_server ${s} 80 { weight 1 }`), '}', ''].join('\n');
}

/** Segmentation/receive offloads off on every leaf's eth0; returns the state read back from one of them. */
function offloadsOff(L: DataplaneLab): string {
  for (const h of LEAVES(L)) L.lab.exec(h, 'ethtool', ['-K', 'eth0', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  const k = L.lab.exec('client', 'ethtool', ['-k', 'eth0']);
  const get = (name: string): string => new RegExp(`^${name}: (\\w+)`, 'm').exec(k)?.[1] ?? '?';
  return `tso ${get('tcp-segmentation-offload')}, gso ${get('generic-segmentation-offload')}, gro ${get('generic-receive-offload')}`;
}

/** Polls until `url` serves `bytes` from the client, or throws the last error. */
async function waitServing(L: DataplaneLab, url: string, bytes: number, ms = 8000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await download(L.lab.host('client').ns, url, bytes, 3000);
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(100);
    }
  }
}

/** After a path is torn down nothing may answer on the VIP (so the next path measures only itself). */
async function expectVipClosed(L: DataplaneLab): Promise<void> {
  try {
    await nsRun(L.lab.host('client').ns, 'curl', ['-sS', '-o', '/dev/null', '--max-time', '1', `http://${DP_VIP}/1k`], 5000);
  } catch {
    return;
  }
  throw new Error(`${DP_VIP}:80 still answers in ${L.opts.mode} lab after teardown`);
}

/** A foreground daemon in the director; resolves once `ready` matches its output (or it answers on the VIP). */
async function startDaemon(L: DataplaneLab, cmd: string, args: string[], ready: RegExp | undefined): Promise<ChildProcess> {
  const child = L.lab.spawn('lb1', cmd, args);
  const out = tail(child);
  let exited: string | undefined;
  child.on('exit', (c, s) => (exited = `exited with ${s ?? c}`));
  const until = Date.now() + 10000;
  while (ready ? !ready.test(out()) : false) {
    if (exited) throw new Error(`${cmd} ${exited}: ${out()}`);
    if (Date.now() > until) {
      await L.lab.stop(child);
      throw new Error(`${cmd} not ready within 10 s: ${out()}`);
    }
    await sleep(50);
  }
  try {
    await waitServing(L, `http://${DP_VIP}/1k`, SMALL_BYTES);
  } catch (e) {
    await L.lab.stop(child);
    throw new Error(`${cmd} ${exited ?? 'running'} but ${DP_VIP}:80 does not serve: ${(e as Error).message}; output: ${out()}`);
  }
  if (exited) throw new Error(`${cmd} ${exited}: ${out()}`);
  return child;
}

function paths(A: DataplaneLab, B: DataplaneLab, dir: string): PathSpec[] {
  const ips = (L: DataplaneLab): string[] => L.servers.map((s) => L.lab.host(s).ip);
  const flush = async (L: DataplaneLab): Promise<void> => {
    L.nft('lb1', ['flush', 'ruleset']);
    await expectVipClosed(L);
  };
  const nft = (L: DataplaneLab, kind: 'DR' | 'NAT', extra: string[]) => async (): Promise<void> => {
    const f = L.writeConfig(`${kind}${extra.length ? '-masq' : ''}.conf`, vsConfig(kind, ips(L)));
    const r = L.apply('lb1', f, extra);
    if (r.code !== 0) throw new Error(`haldir apply ${extra.join(' ')} (${kind}) exited ${r.code}: ${r.err.trim()}`);
    await waitServing(L, `http://${DP_VIP}/1k`, SMALL_BYTES);
  };
  let proc: ChildProcess | undefined;
  const stopProc = async (): Promise<void> => {
    if (proc) await A.lab.stop(proc);
    proc = undefined;
    await expectVipClosed(A);
  };
  return [
    { key: 'dr', label: 'DR (haldir nftables: netdev fwd)', lab: A, up: nft(A, 'DR', []), down: () => flush(A) },
    { key: 'nat', label: 'NAT (haldir nftables: DNAT)', lab: B, up: nft(B, 'NAT', []), down: () => flush(B) },
    { key: 'fullnat', label: 'full NAT (haldir nftables --masquerade)', lab: A, up: nft(A, 'NAT', ['--masquerade']), down: () => flush(A) },
    {
      key: 'userspace',
      daemon: () => proc?.pid,
      label: 'userspace (haldir proxy)',
      lab: A,
      up: async () => {
        const f = A.writeConfig('userspace.conf', vsConfig('NAT', ips(A)));
        proc = await startDaemon(A, process.execPath, [HALDIR, 'apply', f, '--dataplane', 'userspace'], /userspace: proxying until/);
      },
      down: stopProc,
    },
    {
      key: 'haproxy',
      daemon: () => proc?.pid,
      label: 'HAProxy 2.6 mode tcp',
      lab: A,
      up: async () => {
        proc = await startDaemon(A, 'haproxy', ['-db', '-f', haproxyConfig(dir, DP_VIP, ips(A))], undefined);
      },
      down: stopProc,
    },
  ];
}

/** Starts nginx on every real server; returns the masters' PIDs. */
async function startNginx(L: DataplaneLab, dir: string, www: string): Promise<number[]> {
  const pids: number[] = [];
  for (const s of L.servers) {
    const child = L.lab.spawn(s, 'nginx', ['-c', nginxConfig(dir, `${L.lab.tag}-${s}`, www), '-p', dir, '-g', 'daemon off;']);
    const out = tail(child);
    pids.push(child.pid!);
    const ns = L.lab.host(s).ns;
    const until = Date.now() + 8000;
    for (;;) {
      try {
        await nsRun(ns, 'curl', ['-sSf', '-o', '/dev/null', 'http://127.0.0.1/1k'], 3000);
        break;
      } catch (e) {
        if (child.exitCode !== null || Date.now() > until) throw new Error(`nginx in ${s} (${L.opts.mode} lab) does not serve: ${(e as Error).message}; ${out()}`);
        await sleep(50);
      }
    }
  }
  return pids;
}

/** Where direct downloads go: from the DR lab's client straight to its first real server. */
interface Direct {
  ns: string;
  host: string;
}

/**
 * A path's measurements, each paired with a direct one taken right before or after it
 * (alternating), so the load other processes put on the machine hits both alike.
 */
async function measure(p: PathSpec, r: PathResult, o: ThroughputOptions, pass: number, direct: Direct, nginx: number[]): Promise<void> {
  const ns = p.lab.lab.host('client').ns;
  const dl = (which: 'path' | 'direct', tracked: number[]): Promise<Download> =>
    which === 'path' ? download(ns, `http://${DP_VIP}/100m`, BULK_BYTES, 60000, tracked) : download(direct.ns, `http://${direct.host}/100m`, BULK_BYTES, 60000, tracked);
  await dl('path', []); // warm-up: neighbour and conntrack entries, TCP metrics, the proxies' buffers
  // The lab's tasks: nginx masters and workers, the director's daemon, ksoftirqd (curl is added per run).
  const d = p.daemon?.();
  const tracked = [...nginx, ...childPids(nginx), ...(d !== undefined ? [d] : []), ...ksoftirqdPids()];
  for (let i = 0; i < o.bulkPairs; i++) {
    const first = (i + pass) % 2 ? 'path' : 'direct';
    const a = await dl(first, tracked);
    const b = await dl(first === 'path' ? 'direct' : 'path', tracked);
    r.pairs.push(first === 'path' ? { path: a, direct: b } : { path: b, direct: a });
  }
  const w = (which: 'path' | 'direct'): Promise<WrkResult> =>
    which === 'path' ? wrk(ns, `http://${DP_VIP}/1k`, o.wrkSeconds) : wrk(direct.ns, `http://${direct.host}/1k`, o.wrkSeconds);
  if (pass % 2) {
    const path = await w('path');
    r.wrk.push({ path, direct: await w('direct') });
  } else {
    const dw = await w('direct');
    r.wrk.push({ path: await w('path'), direct: dw });
  }
}

export async function runThroughputRaw(o: ThroughputOptions = envOptions()): Promise<{ results: PathResult[]; facts: string[]; error?: string }> {
  const facts: string[] = [];
  const can = canBuildLabs();
  if (!can.ok) return { results: [], facts, error: `throughput: skipped: ${can.why}` };
  for (const tool of ['curl', 'wrk', 'ethtool', 'nginx', 'haproxy', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return { results: [], facts, error: `throughput: skipped: ${tool} is not installed (npm run setup installs it)` };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'haldir-tput-'));
  const labs: DataplaneLab[] = [];
  const results: PathResult[] = [];
  try {
    const www = writeDocroot(dir);
    const A = new DataplaneLab({ mode: 'DR', servers: o.servers });
    labs.push(A);
    const B = new DataplaneLab({ mode: 'NAT', servers: o.servers });
    labs.push(B);
    facts.push(offloadsOff(A));
    offloadsOff(B);
    const nginx = [...(await startNginx(A, dir, www)), ...(await startNginx(B, dir, www))];
    const direct: Direct = { ns: A.lab.host('client').ns, host: A.lab.host('be1').ip };
    await download(direct.ns, `http://${direct.host}/100m`, BULK_BYTES); // warm-up: page cache
    const ps = paths(A, B, dir);
    for (const p of ps) results.push({ key: p.key, label: p.label, pairs: [], wrk: [], errors: [] });
    for (let pass = 0; pass < o.passes; pass++) {
      const order = pass % 2 ? [...ps].reverse() : ps;
      for (const p of order) {
        const r = results.find((x) => x.key === p.key)!;
        try {
          await p.up();
          await measure(p, r, o, pass, direct, nginx);
        } catch (e) {
          r.errors.push(`pass ${pass + 1}: ${(e as Error).message}`);
        } finally {
          try {
            await p.down();
          } catch (e) {
            r.errors.push(`pass ${pass + 1} teardown: ${(e as Error).message}`);
          }
        }
      }
    }
  } finally {
    for (const L of labs.reverse()) await L.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { results, facts };
}

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '—');
const times = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');
const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}` : '—');
const kreq = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : '—');
const range = (xs: number[], f: (x: number) => string): string => (xs.length ? `${f(Math.min(...xs))}–${f(Math.max(...xs))}` : '');
const perGB = (cpu: number, d: Download): number => cpu / (d.bytes / 1e9);

export function formatThroughput(results: PathResult[], o: ThroughputOptions, facts: string[], meta: { kernel: string; versions: string; seconds: number }): string {
  const by = (k: PathKey): PathResult | undefined => results.find((r) => r.key === k);
  const pairRatio = (r?: PathResult): number[] => r?.pairs.map((p) => p.path.gbps / p.direct.gbps) ?? [];
  const wrkRatio = (r?: PathResult): number[] => r?.wrk.map((w) => w.path.rps / w.direct.rps) ?? [];
  const directs = results.flatMap((r) => r.pairs.map((p) => p.direct));
  const directWrk = results.flatMap((r) => r.wrk.map((w) => w.direct.rps));
  const hapR = median(pairRatio(by('haproxy')));
  const hapW = median(wrkRatio(by('haproxy')));
  const cores = cpus().length;
  const lines: string[] = [];
  lines.push(`### Data-plane throughput — ${cores} cores, kernel ${meta.kernel}, ${new Date().toISOString().slice(0, 16)}Z, run took ${Math.round(meta.seconds)} s`);
  lines.push('');
  lines.push(
    `Client → director (lb1) → ${o.servers} real server${o.servers > 1 ? 's' : ''} (nginx, 1 worker, sendfile, keep-alive without request cap), each in its own network namespace on one bridge; VIP ${DP_VIP}:80, lb_algo rr; ` +
      `DR, full NAT, userspace and HAProxy in a DR lab (client on the servers' subnet), NAT in a NAT lab (client on its own subnet, servers routed back through the director); direct = the DR lab's client straight to its real server. ` +
      `Offloads in every leaf namespace (client, director, real servers), set before all runs: ethtool -K eth0 tso off gso off gro off (read back: ${facts[0] ?? '?'}; GRO is off on veth by default). ` +
      `${meta.versions}.`,
  );
  lines.push(
    `Bulk: ${o.passes} pass(es) over the paths (every other in reverse order) × ${o.bulkPairs} pairs of curl downloads of a 100 MB (10^8 B) file per path, each pair one path and one direct download back to back (which goes first alternates), after a warm-up download; ` +
      `Gbit/s from connect start to last byte (curl time_total − time_namelookup); ×direct = median of the per-pair ratios, ×HAProxy = that divided by HAProxy's. ` +
      `CPU per GB (10^9 B), two ways: *lab* = CPU time of the lab's own tasks during the download (curl, nginx master+worker, the director's daemon, ksoftirqd; /proc/PID/task/*/schedstat, curl from cutime+cstime; ` +
      `this kernel has no IRQ time accounting, so softirq packet work — the kernel data planes — is charged to the task it runs in and is included); *machine* = whole-machine busy time from /proc/stat (user+nice+system+irq+softirq, steal excluded), which also counts every other process on the machine. ` +
      `Extra = median of the per-pair differences path − direct. ` +
      `Requests: wrk -t1 -c50 -d${o.wrkSeconds}s keep-alive on a 1 KB file, per path and pass one path run and one direct run back to back; ×direct = median of those ratios. Medians; min–max in parentheses.`,
  );
  lines.push('');
  lines.push('| path | bulk Gbit/s | bulk ×direct | bulk ×HAProxy | lab CPU-s/GB | extra lab CPU-s/GB vs direct | extra machine CPU-s/GB vs direct | req/s | req/s ×direct | req/s ×HAProxy |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  const dg = directs.map((d) => d.gbps);
  lines.push(
    `| direct (no LB) | **${f2(median(dg))}**${dg.length ? ` (${range(dg, f2)}, n=${dg.length})` : ''} | — | ${times(1 / hapR)} | ${f2(median(directs.map((d) => perGB(d.labCpuS, d))))} | — | — (direct itself: ${f2(median(directs.map((d) => perGB(d.cpuS, d))))}) | ` +
      `**${kreq(median(directWrk))}**${directWrk.length ? ` (${range(directWrk, kreq)}, n=${directWrk.length})` : ''} | — | ${times(1 / hapW)} |`,
  );
  for (const r of results) {
    const g = r.pairs.map((p) => p.path.gbps);
    const pr = pairRatio(r);
    const w = r.wrk.map((x) => x.path.rps);
    const wr = wrkRatio(r);
    if (!g.length) {
      lines.push(`| ${r.label} | **failed** (below) | — | — | — | — | — | — | — | — |`);
      continue;
    }
    const isHap = r.key === 'haproxy';
    lines.push(
      `| ${r.label} | **${f2(median(g))}** (${range(g, f2)}, n=${g.length}) | **${times(median(pr))}** (${range(pr, f2)}) | ${isHap ? '—' : times(median(pr) / hapR)} | ` +
        `${f2(median(r.pairs.map((p) => perGB(p.path.labCpuS, p.path))))} | ${signed(median(r.pairs.map((p) => perGB(p.path.labCpuS, p.path) - perGB(p.direct.labCpuS, p.direct))))} | ` +
        `${signed(median(r.pairs.map((p) => perGB(p.path.cpuS, p.path) - perGB(p.direct.cpuS, p.direct))))} | ` +
        `**${kreq(median(w))}** (${w.map(kreq).join(', ') || 'no run'}) | ${times(median(wr))}${wr.length ? ` (${wr.map(f2).join(', ')})` : ''} | ${isHap ? '—' : times(median(wr) / hapW)} |`,
    );
  }
  lines.push('');
  const drR = median(pairRatio(by('dr')));
  const usR = median(pairRatio(by('userspace'))) / hapR;
  const drVerdict = !Number.isFinite(drR)
    ? 'not measured'
    : drR > 1.05
      ? 'inconclusive: DR cannot beat direct by more than 5 %, so the noise here is larger than the target'
      : drR >= 0.95
        ? 'met'
        : 'MISSED';
  lines.push(`- DR vs direct, bulk: ${times(drR)} (target within 5 %: ${drVerdict}); requests/s ${times(median(wrkRatio(by('dr'))))}.`);
  lines.push(`- userspace vs HAProxy, bulk: ${times(usR)} (target ≥ 0.8×: ${Number.isFinite(usR) ? (usR >= 0.8 ? 'met' : 'MISSED') : 'not measured'}); requests/s ${times(median(wrkRatio(by('userspace'))) / hapW)}.`);
  const all = results.flatMap((r) => r.pairs.flatMap((p) => [p.path, p.direct]));
  if (all.length) {
    const busy = all.reduce((a, d) => a + d.cpuS, 0) / (all.reduce((a, d) => a + d.windowS, 0) * cores);
    const ours = all.reduce((a, d) => a + d.labCpuS, 0) / all.reduce((a, d) => a + d.cpuS, 0);
    lines.push(
      `- Machine busy during the bulk runs: ${(busy * 100).toFixed(0)} % of ${cores} cores; the lab's tasks account for ${(ours * 100).toFixed(0)} % of that busy time (the rest is other processes, so the *machine* column mostly measures time, not cost).`,
    );
  }
  const blocks = results.filter((r) => r.pairs.length).map((r) => median(r.pairs.map((p) => p.direct.gbps)));
  if (blocks.length > 1) lines.push(`- Noise: the direct bulk median of each path's pairs ranged ${range(blocks, f2)} Gbit/s over the run.`);
  for (const r of results) {
    for (const w of r.wrk) {
      if (w.path.errors) lines.push(`- ${r.label}: wrk reported ${w.path.errors}.`);
      if (w.direct.errors) lines.push(`- direct (paired with ${r.label}): wrk reported ${w.direct.errors}.`);
    }
    for (const e of r.errors) lines.push(`- ${r.label} FAILED: ${e}`);
  }
  return lines.join('\n');
}

/** `npm run bench -- throughput`: runs every path and returns the table. */
export async function runThroughput(o: ThroughputOptions = envOptions()): Promise<string> {
  const t0 = Date.now();
  const [nginxV, haproxyV, wrkV, curlV] = await Promise.all([
    versionOf('nginx', ['-v'], /nginx\/(\S+)/),
    versionOf('haproxy', ['-v'], /HAProxy version (\S+)/),
    versionOf('wrk', ['-v'], /wrk (\S+)/),
    versionOf('curl', ['--version'], /curl (\S+)/),
  ]);
  const { results, facts, error } = await runThroughputRaw(o);
  if (error) return error;
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const versions = `nginx ${nginxV}, HAProxy ${haproxyV} (maxconn 5000, default threads: ${cpus().length}), wrk ${wrkV}, curl ${curlV}, Node ${process.versions.node} (userspace proxy: one process)`;
  return formatThroughput(results, o, facts, { kernel, versions, seconds: (Date.now() - t0) / 1000 });
}
