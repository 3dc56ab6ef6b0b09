// Running configured scripts (vrrp_script, notify_*, MISC_CHECK): never
// through a shell, each in its own process group so a timeout kills the
// script and everything it started, optionally as another user.
import { execFileSync, spawn } from 'node:child_process';
import type { Script } from '../model/types.js';

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Could not be started at all (ENOENT, EACCES …). */
  error?: string;
  ms: number;
}

const ids = new Map<string, number>();

/** uid/gid of a user or group name (numeric ids pass through). */
export function resolveId(name: string, kind: 'user' | 'group'): number {
  if (/^\d+$/.test(name)) return Number(name);
  const key = `${kind}:${name}`;
  let id = ids.get(key);
  if (id === undefined) {
    // getent answers from NSS like the C library would; no shell involved.
    const line = execFileSync('getent', [kind === 'user' ? 'passwd' : 'group', name], { encoding: 'utf8' }).split('\n')[0] ?? '';
    id = Number(line.split(':')[2]);
    if (!Number.isInteger(id)) throw new Error(`unknown ${kind} "${name}"`);
    ids.set(key, id);
  }
  return id;
}

/**
 * Runs `script` with extra arguments. After `timeoutMs` the process group gets
 * SIGTERM, and SIGKILL 1 s later if it is still there (keepalived does the same).
 */
export function runScript(script: Script, extraArgs: string[] = [], timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const t0 = performance.now();
  const [cmd, ...args] = script.argv;
  if (!cmd) return Promise.resolve({ code: null, signal: null, timedOut: false, error: 'empty command', ms: 0 });
  let uid: number | undefined;
  let gid: number | undefined;
  try {
    if (script.user !== undefined) uid = resolveId(script.user, 'user');
    if (script.group !== undefined) gid = resolveId(script.group, 'group');
  } catch (e) {
    return Promise.resolve({ code: null, signal: null, timedOut: false, error: (e as Error).message, ms: 0 });
  }
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args, ...extraArgs], {
      stdio: 'ignore',
      detached: true, // own process group, so the whole tree can be killed
      env: env ?? process.env,
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer =
      timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            killGroup(child.pid, 'SIGTERM');
            killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 1000);
          }, timeoutMs)
        : undefined;
    const finish = (r: Omit<RunResult, 'ms' | 'timedOut'>) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ ...r, timedOut, ms: performance.now() - t0 });
    };
    child.once('error', (e) => finish({ code: null, signal: null, error: e.message }));
    child.once('exit', (code, signal) => {
      // Children the script left behind go too.
      if (timedOut) killGroup(child.pid, 'SIGKILL');
      finish({ code, signal });
    });
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}
