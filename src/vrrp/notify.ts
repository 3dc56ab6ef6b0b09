// State-change notifications with keepalived's conventions: notify_<state>
// scripts as configured, then the generic `notify` script with four more
// arguments (INSTANCE|GROUP, name, STATE, priority), and lines on the notify
// FIFOs: `INSTANCE "VI_1" MASTER 100` (keepalived.conf(5), notify / notify_fifo).
import { execFileSync, type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, statSync, writeSync } from 'node:fs';
import type { GlobalDefs, Script, VrrpNotify } from '../model/types.js';
import { runScript, type RunResult } from '../process/run.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED' | 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';

export type NotifyLog = (msg: string) => void;

const SCRIPT_FOR: Partial<Record<NotifyState, keyof VrrpNotify>> = {
  MASTER: 'master',
  BACKUP: 'backup',
  FAULT: 'fault',
  STOP: 'stop',
  DELETED: 'deleted',
  MASTER_RX_LOWER_PRI: 'masterRxLowerPri',
};

/** The FIFO line keepalived writes for a state change. */
export function fifoLine(kind: 'INSTANCE' | 'GROUP', name: string, state: NotifyState, priority: number): string {
  return `${kind} "${name}" ${state} ${priority}\n`;
}

/** A notify FIFO: created if missing, its reader script started, written without blocking. */
class Fifo {
  private fd: number | undefined;
  private reader: ChildProcess | undefined;
  private warned = false;

  constructor(
    readonly path: string,
    private readonly script: Script | undefined,
    private readonly log: NotifyLog,
  ) {}

  open(): void {
    try {
      if (!existsSync(this.path)) execFileSync('mkfifo', ['-m', '0600', this.path]);
      else if (!statSync(this.path).isFIFO()) {
        this.log(`notify FIFO ${this.path} exists and is not a FIFO; not writing to it`);
        return;
      }
    } catch (e) {
      this.log(`cannot create notify FIFO ${this.path}: ${(e as Error).message}`);
      return;
    }
    if (this.script && this.script.argv[0]) {
      // keepalived passes the FIFO's name as the script's last argument.
      this.reader = spawn(this.script.argv[0], [...this.script.argv.slice(1), this.path], { stdio: 'ignore' });
      this.reader.on('error', (e) => this.log(`notify FIFO script ${this.script!.cmd}: ${e.message}`));
    }
  }

  write(line: string): void {
    if (this.fd === undefined) {
      try {
        // O_NONBLOCK: without a reader the open fails (ENXIO) instead of hanging the daemon.
        this.fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if (!this.warned) this.log(`notify FIFO ${this.path} has no reader (${(e as NodeJS.ErrnoException).code}); lines are dropped until one opens it`);
        this.warned = true;
        return;
      }
    }
    try {
      writeSync(this.fd, line);
      this.warned = false;
    } catch (e) {
      this.log(`notify FIFO ${this.path}: ${(e as Error).message}`);
      this.closeFd();
    }
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    this.closeFd();
    this.reader?.kill('SIGTERM');
  }
}

export class Notifier {
  private readonly fifos: Fifo[] = [];
  /** Scripts still running, so a stop can wait for them. */
  private readonly pending = new Set<Promise<RunResult>>();

  constructor(
    global: GlobalDefs,
    private readonly log: NotifyLog,
    private readonly env?: NodeJS.ProcessEnv,
  ) {
    for (const f of [global.notifyFifo, global.vrrpNotifyFifo]) {
      if (f?.path) {
        const fifo = new Fifo(f.path, f.script, log);
        fifo.open();
        this.fifos.push(fifo);
      }
    }
  }

  /** Runs the scripts for a transition and writes the FIFO line; scripts run in the background. */
  notify(kind: 'INSTANCE' | 'GROUP', name: string, scripts: VrrpNotify, state: NotifyState, priority: number): void {
    for (const f of this.fifos) f.write(fifoLine(kind, name, state, priority));
    const key = SCRIPT_FOR[state];
    const specific = key ? scripts[key] : undefined;
    // The state's own script first, then the generic one (keepalived's order).
    const chain = (async () => {
      if (specific) this.report(specific, await runScript(specific, [], undefined, this.env));
      if (scripts.generic && key) this.report(scripts.generic, await runScript(scripts.generic, [kind, name, state, String(priority)], undefined, this.env));
      return { code: 0, signal: null, timedOut: false, ms: 0 } as RunResult;
    })();
    this.pending.add(chain);
    void chain.finally(() => this.pending.delete(chain));
  }

  private report(s: Script, r: RunResult): void {
    if (r.error) this.log(`notify script ${s.argv[0]} could not run: ${r.error}`);
    else if (r.code !== 0) this.log(`notify script ${s.argv[0]} exited with ${r.code ?? r.signal}`);
  }

  /** Waits for running scripts (at most `ms`), then closes the FIFOs. */
  async close(ms = 5000): Promise<void> {
    await Promise.race([Promise.all(this.pending), new Promise((r) => setTimeout(r, ms).unref())]);
    for (const f of this.fifos) f.close();
  }
}
