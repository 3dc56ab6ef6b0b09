// Helpers of the data-plane throughput benchmark (dp-throughput.ts): the real
// servers' nginx (its own config, pid file and document root with /1k and /100m),
// HAProxy's `mode tcp` config, the curl and wrk runs in a namespace with their
// output parsed, whole-machine CPU from /proc/stat, and small statistics.
import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BULK_BYTES = 100_000_000;
export const SMALL_BYTES = 1024;

/** Runs a command inside a namespace without blocking the event loop (children's pipes keep draining). */
export function nsRun(ns: string, cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`in ${ns}: ${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Keeps the last few KB a child wrote, for error messages (and so its pipes never fill). */
export function tail(child: ChildProcess, keep = 4096): () => string {
  let out = '';
  const add = (d: Buffer): void => {
    out = (out + d.toString()).slice(-keep);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out.trim();
}

/** The document root: /1k and /100m, readable by nginx's unprivileged worker. */
export function writeDocroot(dir: string): string {
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(www, '1k'), Buffer.alloc(SMALL_BYTES, 'x'));
  // Written in 10 MB pieces so the benchmark never holds 100 MB in memory.
  const piece = Buffer.alloc(BULK_BYTES / 10, 'y');
  writeFileSync(join(www, '100m'), '');
  for (let i = 0; i < 10; i++) writeFileSync(join(www, '100m'), piece, { flag: 'a' });
  return www;
}

/** nginx config for one real server: one worker, static files with sendfile, keep-alive without a request cap. */
export function nginxConfig(dir: string, name: string, www: string): string {
  const tmp = join(dir, `tmp-${name}`);
  mkdirSync(tmp, { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, `nginx-${name}.conf`);
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${join(dir, `nginx-${name}.pid`)};`,
      `error_log ${join(dir, 'logs', `${name}-error.log`)} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  keepalive_requests 1000000;',
      `  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};`,
      '  server {',
      // A wildcard listener: in DR the VIP arrives on lo, in the other paths the server's own address.
      '    listen 80;',
      `    root ${www};`,
      '    location / { default_type application/octet-stream; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return conf;
}

/** HAProxy 2.6 `mode tcp` on the VIP: default threads, maxconn 5000 (fd limit), no logging. */
export function haproxyConfig(dir: string, vip: string, servers: string[]): string {
  const conf = join(dir, 'haproxy-tcp.cfg');
  writeFileSync(
    conf,
    [
      'global',
      '  maxconn 5000',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend vip',
      `  bind ${vip}:80`,
      '  default_backend pool',
      'backend pool',
      '  balance roundrobin',
      ...servers.map((s, i) => `  server s${i + 1} ${s}:80`),
      '',
    ].join('\n'),
  );
  return conf;
}

/** Busy CPU seconds of the whole machine so far: user+nice+system+irq+softirq (no idle, iowait, steal). */
export function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
  // USER_HZ is 100 on Linux.
  return (user + nice + system + irq + softirq) / 100;
}

/**
 * CPU seconds a process has run so far, all its threads (/proc/PID/task/TID/schedstat,
 * nanoseconds). Without IRQ time accounting (this kernel) a softirq is charged to the
 * task it interrupted, so this includes the packet processing done in its context.
 */
export function taskRunS(pid: number): number {
  let ns = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const t of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns / 1e9;
}

/** PIDs whose parent is one of `ppids` (nginx workers of their masters). */
export function childPids(ppids: number[]): number[] {
  const want = new Set(ppids);
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (want.has(ppid)) out.push(Number(d));
    } catch {
      /* process gone */
    }
  }
  return out;
}

/** The ksoftirqd threads: packet processing the kernel deferred out of the tasks' context. */
export function ksoftirqdPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('ksoftirqd/')) out.push(Number(d));
    } catch {
      /* process gone */
    }
  }
  return out;
}

/** CPU seconds of this process's children that have exited and been reaped (cutime + cstime, 10 ms units). */
function reapedChildrenS(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // Fields 16 and 17 (cutime, cstime) are 13 and 14 after the ") " split.
  return (Number(f[13]) + Number(f[14])) / 100;
}

export interface Download {
  bytes: number;
  /** Start of connect to last byte, seconds (curl's time_total − time_namelookup). */
  seconds: number;
  gbps: number;
  /** Whole-machine busy CPU seconds while curl ran. */
  cpuS: number;
  /** Wall-clock seconds of that measurement window (curl's start-up included). */
  windowS: number;
  /** CPU seconds of the lab's own tasks while curl ran: curl, the tracked PIDs (servers, director daemon), ksoftirqd. */
  labCpuS: number;
}

/**
 * One curl download from the client namespace; throws unless it is a 200 of the expected
 * size. `tracked`: long-running PIDs whose CPU counts as the lab's (curl's own is added).
 */
export async function download(ns: string, url: string, expect: number, timeoutMs = 60000, tracked: number[] = []): Promise<Download> {
  const run = (): number => tracked.reduce((a, p) => a + taskRunS(p), 0) + reapedChildrenS();
  const l0 = run();
  const c0 = machineBusyS();
  const t0 = performance.now();
  const out = await nsRun(ns, 'curl', ['-sS', '-o', '/dev/null', '--max-time', String(timeoutMs / 1000), '-w', '%{http_code} %{size_download} %{time_namelookup} %{time_total}', url], timeoutMs + 5000);
  const cpuS = machineBusyS() - c0;
  const windowS = (performance.now() - t0) / 1000;
  const labCpuS = run() - l0;
  const [code, size, lookup, total] = out.trim().split(' ');
  if (code !== '200' || Number(size) !== expect) throw new Error(`GET ${url}: HTTP ${code}, ${size} bytes (expected 200, ${expect})`);
  const seconds = Number(total) - Number(lookup);
  return { bytes: Number(size), seconds, gbps: (Number(size) * 8) / seconds / 1e9, cpuS, windowS, labCpuS };
}

export interface WrkResult {
  rps: number;
  /** Socket errors and non-2xx/3xx responses, when wrk reported any. */
  errors?: string;
}

export function parseWrk(out: string): WrkResult {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`wrk printed no Requests/sec: ${out.trim().slice(-500)}`);
  const errs: string[] = [];
  const sock = /Socket errors: (.*)/.exec(out);
  if (sock) errs.push(`socket errors: ${sock[1]!.trim()}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errs.push(`${non2xx[1]} non-2xx/3xx responses`);
  return { rps: Number(m[1]), ...(errs.length ? { errors: errs.join('; ') } : {}) };
}

export async function wrk(ns: string, url: string, seconds: number): Promise<WrkResult> {
  const out = await nsRun(ns, 'wrk', ['-t1', '-c50', `-d${seconds}s`, url], (seconds + 30) * 1000);
  return parseWrk(out);
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** First line of a tool's version output, or '?' when it cannot be run. */
export function versionOf(cmd: string, args: string[], re: RegExp): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8' }, (_err, stdout, stderr) => {
      const m = re.exec(`${stdout}\n${stderr}`);
      resolve(m ? m[1]! : '?');
    });
  });
}
