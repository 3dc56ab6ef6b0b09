// Network-namespace lab for the native-layer tests: unique namespaces
// (hdt-<pid>-…), veth pairs created straight between them, helper processes run
// inside a namespace with `ip netns exec`, and cleanup that removes every
// namespace and kills every helper by PID even when a test failed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HELPER = join(dirname(fileURLToPath(import.meta.url)), 'helper.js');

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'no `ip netns`';
  }
  return undefined;
}

export type Json = Record<string, unknown>;

/** A helper process inside a namespace that prints one JSON object per line. */
export class Helper {
  readonly lines: Json[] = [];
  private waiters: { pred: (l: Json) => boolean; resolve: (l: Json) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private exited = false;
  stderr = '';

  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let obj: Json;
      try {
        obj = JSON.parse(line) as Json;
      } catch {
        obj = { raw: line };
      }
      this.lines.push(obj);
      for (const w of [...this.waiters])
        if (w.pred(obj)) {
          clearTimeout(w.timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(obj);
        }
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.on('exit', () => {
      this.exited = true;
      setImmediate(() => {
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`helper exited before the expected line; stderr: ${this.stderr}`));
        }
      });
    });
  }

  /** The first line (already seen or future) matching pred. */
  waitFor(pred: (l: Json) => boolean, timeoutMs = 10_000): Promise<Json> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.exited) return Promise.reject(new Error(`helper already exited; stderr: ${this.stderr}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out waiting for a helper line; got ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** Resolves when the process has exited. */
  done(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((r) => this.proc.on('exit', () => r()));
  }
}

export class Lab {
  readonly prefix = `hdt-${process.pid}`;
  private readonly namespaces: string[] = [];
  private readonly helpers: Helper[] = [];

  /** Creates namespace `hdt-<pid>-<tag>` with lo up and IPv6 DAD off; returns its name. */
  addNs(tag: string): string {
    const ns = `${this.prefix}-${tag}`;
    execFileSync('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.ip(ns, 'link', 'set', 'lo', 'up');
    for (const k of ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', k]);
    return ns;
  }

  /** A veth pair from nsA/ifA to nsB/ifB with fixed MACs, both ends up. */
  veth(nsA: string, ifA: string, macA: string, nsB: string, ifB: string, macB: string): void {
    this.ip(nsA, 'link', 'add', ifA, 'address', macA, 'type', 'veth', 'peer', 'name', ifB, 'address', macB, 'netns', nsB);
    this.ip(nsA, 'link', 'set', ifA, 'up');
    this.ip(nsB, 'link', 'set', ifB, 'up');
  }

  /** `ip -n ns …`; returns stdout. */
  ip(ns: string, ...args: string[]): string {
    return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  }

  ipJson<T = Json[]>(ns: string, ...args: string[]): T {
    return JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })) as T;
  }

  /** Starts `node dist/test/native/helper.js scenario arg` inside ns. */
  helper(ns: string, scenario: string, arg: Json = {}): Helper {
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, HELPER, scenario, JSON.stringify(arg)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const h = new Helper(proc);
    this.helpers.push(h);
    return h;
  }

  /** Runs a helper to completion; returns its lines (throws on a non-zero exit). */
  async run(ns: string, scenario: string, arg: Json = {}): Promise<Json[]> {
    const h = this.helper(ns, scenario, arg);
    const code = await new Promise<number | null>((r) => h.proc.on('exit', (c) => r(c)));
    await new Promise((r) => setImmediate(r));
    if (code !== 0) throw new Error(`helper ${scenario} exited ${code}: ${h.stderr}`);
    return h.lines;
  }

  /** Kills helpers by PID and deletes the namespaces (their veths go with them). */
  cleanup(): void {
    for (const h of this.helpers) {
      if (h.proc.exitCode !== null || h.proc.signalCode !== null || !h.proc.pid) continue;
      try {
        process.kill(h.proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const ns of this.namespaces.splice(0))
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
  }
}
