// The health-check engine: the imperative shell that runs every checker on its
// own schedule (schedule.ts), feeds the results to the pure state logic
// (server-state.ts), and carries out the events — notify_up/down and
// quorum_up/down scripts, LVS notify FIFO lines, logs, and a callback with the
// table the data plane should program. Time, timers and the checkers are
// injected, so tests drive it on a fake clock.
import type { Logger } from '../daemon/log.js';
import type { NodeModel, Script } from '../model/types.js';
import { runScript, type RunResult } from '../process/run.js';
import { checkTarget } from './once.js';
import { nextAttempt, onAttempt, type CheckState } from './schedule.js';
import {
  carryOver,
  desiredTable,
  evaluate,
  fifoLine,
  formatRs,
  formatVs,
  initChecks,
  listCheckers,
  shutdownEvents,
  type CheckerRef,
  type CheckStates,
  type DesiredService,
  type HealthEvent,
  type ServiceStates,
} from './server-state.js';
import type { RunCheck } from './types.js';

export interface HealthDeps {
  runCheck: RunCheck;
  /** Monotonic µs. */
  now(): number;
  at(atUs: number, cb: () => void): () => void;
  random(): number;
  log: Logger;
  /** The data plane's table changed (a server went up or down, a weight changed, the sorry server moved). */
  onTable?(table: DesiredService[]): void;
  /** A line for the LVS notify FIFO (keepalived's lvs_notify_fifo). */
  onFifo?(line: string): void;
  runScript?: (s: Script, args: string[], timeoutMs?: number) => Promise<RunResult>;
  /** Delay before the first attempts (keepalived's 1 s bootstrap by default). */
  bootstrapUs?: number;
  /**
   * Attempts in flight at most (default 512); the rest wait their turn. Without a
   * limit an overloaded engine starts more attempts than it can finish, they time
   * out, their retries add more, and it collapses (measured with 10,000 HTTP checks).
   */
  maxInFlight?: number;
}

interface Running {
  ref: CheckerRef;
  cancel?: () => void;
}

/** The engine's clock and timers on real time (the daemon, benchmarks, real-time tests): µs since `t0`. */
export function realTime(t0 = performance.now()): Pick<HealthDeps, 'now' | 'at'> {
  return {
    now: () => Math.round((performance.now() - t0) * 1000),
    at: (atUs, cb) => {
      const t = setTimeout(cb, Math.max(0, atUs / 1000 - (performance.now() - t0)));
      return () => clearTimeout(t);
    },
  };
}

export interface CheckerStatus {
  service: string;
  server: string;
  type: string;
  up: boolean;
  lastReason?: string;
  lastLatencyMs?: number;
}

export class HealthEngine {
  private checks: CheckStates = {};
  private services: ServiceStates = {};
  private running = new Map<string, Running>();
  private stopped = false;
  /**
   * Bumped at a reload or stop: results of attempts started before are dropped.
   * (Attempts are not aborted: they end within connect_timeout anyway, and an
   * abort listener per attempt on a shared signal cost more than the checks.)
   */
  private generation = 0;
  /** Attempts finished, for rate measurements. */
  attempts = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private model: NodeModel,
    private readonly deps: HealthDeps,
  ) {}

  start(): void {
    const now = this.deps.now();
    this.checks = initChecks(this.model, now, this.deps.random, {}, this.deps.bootstrapUs !== undefined ? { bootstrapUs: this.deps.bootstrapUs } : {});
    const r = evaluate(this.model, this.checks);
    this.services = r.services;
    this.act(r.events);
    this.deps.onTable?.(this.table());
    for (const ref of listCheckers(this.model)) this.schedule(ref);
  }

  private schedule(ref: CheckerRef): void {
    if (this.stopped) return;
    const s = this.checks[ref.key];
    if (!s) return;
    const a = nextAttempt(s, ref.checker);
    const run: Running = this.running.get(ref.key) ?? { ref };
    run.ref = ref;
    this.running.set(ref.key, run);
    run.cancel = this.deps.at(a.at, () => this.admit(() => void this.attempt(ref, a.urlIndex)));
  }

  /** Starts `go` now, or when an attempt in flight finishes. */
  private admit(go: () => void): void {
    if (this.inFlight < (this.deps.maxInFlight ?? 512)) go();
    else this.waiting.push(go);
  }

  private release(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next && !this.stopped) next();
  }

  private async attempt(ref: CheckerRef, urlIndex: number | undefined): Promise<void> {
    const run = this.running.get(ref.key);
    if (!run || this.stopped) return;
    const generation = this.generation;
    const started = this.deps.now();
    this.inFlight++;
    let r;
    try {
      r = await this.deps.runCheck(ref.checker, checkTarget(ref.rs, ref.checker), urlIndex !== undefined ? { urlIndex } : {});
    } finally {
      this.release();
    }
    // Superseded by a reload or a stop while it ran: the result belongs to nobody.
    if (this.stopped || generation !== this.generation || this.running.get(ref.key) !== run || run.ref !== ref) return;
    this.attempts++;
    const prev = this.checks[ref.key];
    if (!prev) return;
    const step = onAttempt(prev, ref.checker, r, this.deps.now(), started);
    this.checks[ref.key] = step.state;
    if (step.change) {
      this.deps.log.info(`${ref.checker.type} ${formatRs(ref.rs, ref.vs)}: ${step.change === 'up' ? 'UP' : 'DOWN'}`, {
        service: formatVs(ref.vs),
        reason: r.reason,
        latencyMs: r.latencyMs.toFixed(1),
      });
      this.reevaluate();
    } else if (this.checkWeightChanged(prev, step.state)) this.reevaluate();
    this.schedule(ref);
  }

  private checkWeightChanged(a: CheckState, b: CheckState): boolean {
    return a.weight !== b.weight || a.weightDelta !== b.weightDelta;
  }

  private reevaluate(): void {
    const r = evaluate(this.model, this.checks, this.services);
    this.services = r.services;
    this.act(r.events);
    this.deps.onTable?.(this.table());
  }

  /** Scripts and FIFO lines for state changes (keepalived's notify_up/down, quorum_up/down). */
  private act(events: HealthEvent[], timeoutMs?: number): void {
    const run = this.deps.runScript ?? runScript;
    for (const e of events) {
      const line = fifoLine(e);
      if (line) this.deps.onFifo?.(line);
      let script: Script | undefined;
      if (e.type === 'rs') {
        script = e.up ? e.rs.notifyUp : e.rs.notifyDown;
        this.deps.log.info(`real server ${formatRs(e.rs, e.vs)} ${e.up ? 'UP' : 'DOWN'}`, { service: formatVs(e.vs) });
      } else if (e.type === 'quorum') {
        script = e.up ? e.vs.quorumUp : e.vs.quorumDown;
        this.deps.log.info(`service ${formatVs(e.vs)}: quorum ${e.up ? 'gained' : 'lost'}`);
      } else {
        this.deps.log.info(`service ${formatVs(e.vs)}: sorry server ${e.in ? 'in' : 'out'}`);
      }
      if (script) {
        const s = script;
        void run(s, [], timeoutMs).then((r) => {
          if (r.error || r.code !== 0) this.deps.log.warn(`script ${s.argv[0]}: ${r.error ?? `exit ${r.code ?? r.signal}`}`);
        });
      }
    }
  }

  /** A new model: unchanged checkers keep their state (and schedule); others start fresh. */
  reload(model: NodeModel): void {
    const old = this.model;
    const carried = carryOver({ checks: this.checks, services: this.services }, old, model, this.deps.now(), this.deps.random);
    this.act(carried.events);
    this.model = model;
    this.checks = carried.checks;
    // Every checker is re-armed with its (possibly new) configuration; removed ones stop.
    // A carried state keeps its place in the schedule (its wait is relative to its last attempt).
    for (const run of this.running.values()) run.cancel?.();
    this.running.clear();
    this.generation++;
    const r = evaluate(model, this.checks, carried.services);
    this.services = r.services;
    this.act(r.events);
    this.deps.onTable?.(this.table());
    for (const ref of listCheckers(model)) this.schedule(ref);
  }

  table(): DesiredService[] {
    return desiredTable(this.model, this.services);
  }

  status(): CheckerStatus[] {
    return listCheckers(this.model).map((ref) => {
      const s = this.checks[ref.key];
      return {
        service: formatVs(ref.vs),
        server: formatRs(ref.rs, ref.vs),
        type: ref.checker.type,
        up: s?.up ?? false,
        ...(s?.last ? { lastReason: s.last.reason, lastLatencyMs: s.last.latencyMs } : {}),
      };
    });
  }

  /** Stops every checker; with omega, quorum_down scripts run (1 s limit, as keepalived). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const run of this.running.values()) run.cancel?.();
    this.running.clear();
    this.waiting.length = 0;
    this.generation++;
    this.act(shutdownEvents(this.model, this.services), 1000);
  }
}
