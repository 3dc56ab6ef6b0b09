// Runs a command inside a throw-away user-mode-linux guest: Debian's linux.uml kernel
// (package user-mode-linux) has IPVS and every scheduler as modules, which this host's
// kernel may lack. The guest boots with the host's root filesystem read-only (hostfs)
// under a tmpfs overlay, so it sees node, the build and the tools but never writes the
// host; scripts/kernel-vm/uml-init.sh is its PID 1. One vCPU; a boot costs 2–3 s.
//
// The guest's home (HALDIR_UML_HOME, default ~/.cache/haldir/uml) holds the init script
// and one directory per run (cmd.sh, stdout, stderr, rc, console.log), removed after a
// successful run. Guest RAM is a sparse file under TMPDIR.
//
// Run by hand: node dist/src/lab/uml.js [--timeout S] [--mem MB] -- CMD ARGS…
// (CMD runs as root in the current directory inside the guest; exit status is CMD's,
// 124 when the guest timed out, 125 when it died without reporting one).
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const UML_KERNEL = '/usr/bin/linux.uml';
const MODULES = '/usr/lib/uml/modules';
const INIT_SRC = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../scripts/kernel-vm/uml-init.sh' : '../../scripts/kernel-vm/uml-init.sh', import.meta.url));

export interface GuestResult {
  /** The command's exit status (124: guest timed out; 125: guest died without a status). */
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the whole run, boot included. */
  wallMs: number;
  /** Guest uptime at the command's start and end (seconds), when it reported them. */
  guest?: { start: number; end: number };
  /** The guest console's last lines (kernel messages), for failures. */
  console: string;
  runDir: string;
}

export interface GuestOptions {
  /** Working directory inside the guest (default: this process's). */
  cwd?: string;
  /** Variables for the command (the guest starts with a clean environment). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Guest RAM in MiB (default 1536). */
  memMb?: number;
  /** Keep the run directory even on success. */
  keep?: boolean;
  /** Called with the command's output as it is written (polled). */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

/** The guest's home directory. */
export function umlHome(): string {
  return process.env['HALDIR_UML_HOME'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'haldir', 'uml');
}

function kernelVersion(): string | undefined {
  try {
    const dirs = existsSync(MODULES) ? readdirSync(MODULES) : [];
    return dirs.find((d) => existsSync(join(MODULES, d, 'kernel', 'net', 'netfilter', 'ipvs', 'ip_vs.ko')));
  } catch {
    return undefined;
  }
}

/** Whether a guest can run here, and if not, why (and what to install). */
export function umlAvailable(): { ok: boolean; why?: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'the user-mode-linux guest runs as root (its network namespaces and IPVS need it)' };
  if (!existsSync(UML_KERNEL)) return { ok: false, why: `${UML_KERNEL} is missing: apt install user-mode-linux (scripts/setup.sh does)` };
  if (!existsSync('/bin/busybox')) return { ok: false, why: '/bin/busybox is missing: apt install busybox-static (scripts/setup.sh does)' };
  if (!kernelVersion()) return { ok: false, why: `no UML kernel modules with IPVS under ${MODULES}: reinstall user-mode-linux` };
  if (!existsSync(INIT_SRC)) return { ok: false, why: `${INIT_SRC} is missing` };
  return { ok: true };
}

/** Installs the init script into the guest's home (mode 0755: git may not keep the bit). */
export function prepareHome(home = umlHome()): string {
  mkdirSync(join(home, 'runs'), { recursive: true });
  const init = join(home, 'init.sh');
  const want = readFileSync(INIT_SRC);
  if (!existsSync(init) || !readFileSync(init).equals(want)) copyFileSync(INIT_SRC, init);
  chmodSync(init, 0o755);
  return init;
}

/** Single quotes for sh. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

let runs = 0;

/** Boots a guest, runs `argv` in it and returns its output and status. */
export async function runInGuest(argv: readonly string[], o: GuestOptions = {}): Promise<GuestResult> {
  if (argv.length === 0) throw new Error('runInGuest: no command');
  const home = umlHome();
  const init = prepareHome(home);
  const runDir = mkdtempSync(join(home, 'runs', 'run-'));
  const lines = ['# written by haldir src/lab/uml.ts'];
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`runInGuest: bad variable name ${k}`);
    lines.push(`export ${k}=${q(v)}`);
  }
  lines.push(`cd ${q(o.cwd ?? process.cwd())} || exit 127`, `exec ${argv.map(q).join(' ')}`);
  writeFileSync(join(runDir, 'cmd.sh'), lines.join('\n') + '\n');
  writeFileSync(join(runDir, 'stdout'), '');
  writeFileSync(join(runDir, 'stderr'), '');
  const t0 = performance.now();
  const umid = `haldir-${process.pid}-${runs++}`;
  const args = [
    `mem=${o.memMb ?? 1536}M`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'ro',
    `init=${init}`,
    `haldir.out=${runDir}`,
    `umid=${umid}`,
    `uml_dir=${runDir}`,
    'con=null',
    'con0=null,fd:1',
    'ssl=null',
  ];
  // Its own process group: a timeout ends the kernel and its helper processes together.
  const child = spawn(UML_KERNEL, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: process.env['TMPDIR'] ?? '/tmp' } });
  let consoleText = '';
  const keepTail = (d: Buffer): void => {
    consoleText = (consoleText + d.toString('utf8')).slice(-20000);
  };
  child.stdout.on('data', keepTail);
  child.stderr.on('data', keepTail);
  const offsets = { stdout: 0, stderr: 0 };
  const poll = (): void => {
    if (!o.onOutput) return;
    for (const s of ['stdout', 'stderr'] as const) {
      try {
        const size = statSync(join(runDir, s)).size;
        if (size > offsets[s]) {
          const buf = readFileSync(join(runDir, s)).subarray(offsets[s], size);
          offsets[s] = size;
          o.onOutput(s, buf.toString('utf8'));
        }
      } catch {
        /* not yet */
      }
    }
  };
  const ticker = o.onOutput ? setInterval(poll, 200) : undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, o.timeoutMs ?? 300000);
  const exit = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(timer);
  if (ticker) clearInterval(ticker);
  poll();
  // Helper processes of the guest that outlived its kernel (normally none).
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* none left */
  }
  const read = (f: string): string => {
    try {
      return readFileSync(join(runDir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const rcText = read('rc').trim();
  let code: number;
  if (rcText !== '') code = Number(rcText);
  else code = timedOut ? 124 : 125;
  const timing = /cmd_start=([\d.]+) cmd_end=([\d.]+)/.exec(read('guest-timing'));
  const result: GuestResult = {
    code,
    stdout: read('stdout'),
    stderr: read('stderr') + (rcText === '' ? `\nhaldir-uml: the guest ${timedOut ? `timed out after ${o.timeoutMs ?? 300000} ms` : `exited (${exit}) without a status`}\n` : ''),
    wallMs: performance.now() - t0,
    console: consoleText.split('\n').slice(-40).join('\n'),
    runDir,
  };
  if (timing) result.guest = { start: Number(timing[1]), end: Number(timing[2]) };
  if (code === 0 && !o.keep) rmSync(runDir, { recursive: true, force: true });
  return result;
}

// Command line: node dist/src/lab/uml.js [--timeout S] [--mem MB] [--keep] -- CMD ARGS…
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const a = process.argv.slice(2);
  const o: GuestOptions = { onOutput: (s, t) => void (s === 'stdout' ? process.stdout : process.stderr).write(t) };
  let i = 0;
  for (; i < a.length && a[i] !== '--'; i++) {
    if (a[i] === '--timeout') o.timeoutMs = Number(a[++i]) * 1000;
    else if (a[i] === '--mem') o.memMb = Number(a[++i]);
    else if (a[i] === '--keep') o.keep = true;
  }
  const cmd = a.slice(i + 1);
  const avail = umlAvailable();
  if (!avail.ok || cmd.length === 0) {
    process.stderr.write(cmd.length === 0 ? 'usage: node dist/src/lab/uml.js [--timeout S] [--mem MB] [--keep] -- CMD ARGS…\n' : `uml: ${avail.why}\n`);
    process.exit(2);
  }
  const r = await runInGuest(cmd, o);
  if (r.code >= 124) process.stderr.write(`---- guest console (tail) ----\n${r.console}\n`);
  process.stderr.write(`uml: rc=${r.code} wall=${(r.wallMs / 1000).toFixed(1)}s${r.guest ? ` guest=${(r.guest.end - r.guest.start).toFixed(1)}s` : ''}${r.code ? ` run=${r.runDir}` : ''}\n`);
  process.exit(r.code);
}

export const UML_INIT = INIT_SRC;
