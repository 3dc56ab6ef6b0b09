// `haldir run`: load the configuration and run the node until SIGTERM/SIGINT — VRRP
// (in its own thread), the health checks, and a data plane that follows both
// (director.ts). SIGHUP reloads: a bad file is refused and the running configuration
// keeps serving; a good one is applied as a diff (health state of unchanged checkers
// kept, only changed services reprogrammed). SIGUSR2 prints a status line. The API
// (src/api: status, metrics, events, actions, dashboard) sees every part from the start;
// SIGUSR1/SIGUSR2 also write keepalived's data/stats dumps.
// Exit codes: 0 stopped by a signal, 1 bad configuration or a part failed, 2 usage.
import { Worker } from 'node:worker_threads';
import { rmSync, writeFileSync } from 'node:fs';
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { loadConfig, selectNode } from '../config/load.js';
import type { IO } from '../cli/main.js';
import type { FromWorker, ToWorker } from '../vrrp/worker.js';
import type { NodeModel } from '../model/types.js';
import { stripSrc } from '../model/compare.js';
import { chooseDataplane, createDataplane } from '../dataplane/index.js';
import type { DataplaneKind } from '../dataplane/types.js';
import { HealthEngine, realTime } from '../health/engine.js';
import { createRunCheck } from '../health/checkers/index.js';
import { createLogger, type Logger } from './log.js';
import { DirectorLoop } from './director.js';
import { SdNotify } from './sd-notify.js';
import { onRtSignal } from './rt-signal.js';
import { syncDaemonPlan } from './sync-daemon.js';
import { IpvsDataplane } from '../dataplane/ipvs/index.js';
import { ApiUsageError, checkApiOptions, NodeApi, type ApiOptions } from '../api/node-api.js';
import type { Dataplane } from '../dataplane/types.js';

export interface RunOptions extends ApiOptions {
  node?: string;
  configId?: string;
  vrrpOnly?: boolean;
  /** `master` (default): balance only the services of MASTER instances; `all`: on every node (active-active). */
  balance?: string;
  dataplane?: string;
  /** Leave the data plane's objects in the kernel at exit (default: remove them). */
  keepDataplane?: boolean;
  /** Write the PID here while running (for `haldir reload`); removed at exit. */
  pidFile?: string;
}

export class RunUsageError extends Error {}

function loadModel(files: string[], o: RunOptions, io: IO): NodeModel | undefined {
  const cfg = loadConfig(files, { ...(o.configId !== undefined ? { configId: o.configId } : {}), ...(o.node !== undefined ? { node: o.node } : {}) });
  for (const g of groupDiagnostics(cfg.diagnostics)) io.err(formatGroup(g) + '\n');
  if (cfg.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new RunUsageError(sel.error);
  return sel.model!;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(stripSrc(a)) === JSON.stringify(stripSrc(b));

export async function runDaemon(files: string[], o: RunOptions, io: IO): Promise<number> {
  let kind: DataplaneKind | undefined;
  if (o.dataplane !== undefined && o.dataplane !== 'auto') {
    if (o.dataplane !== 'nftables' && o.dataplane !== 'userspace' && o.dataplane !== 'ipvs') throw new RunUsageError(`--dataplane must be auto, nftables, ipvs or userspace, not "${o.dataplane}"`);
    kind = o.dataplane;
  }
  if (o.balance !== undefined && o.balance !== 'master' && o.balance !== 'all') throw new RunUsageError(`--balance must be master or all, not "${o.balance}"`);
  try {
    checkApiOptions(o);
  } catch (e) {
    if (e instanceof ApiUsageError) throw new RunUsageError(e.message);
    throw e;
  }
  let model = loadModel(files, o, io);
  if (!model) {
    io.err('haldir: not started: the configuration has errors\n');
    return 1;
  }
  const log = createLogger((l) => io.out(l));
  let apiPlane: Dataplane | undefined;
  let reloadFn: (by: string) => boolean = () => false;
  const api = new NodeApi({ log, files, model: () => model!, health: () => health, director: () => director, dataplane: () => apiPlane, reload: (by) => reloadFn(by) });
  const balancing = !o.vrrpOnly && model.virtualServers.length > 0;
  if (model.vrrpInstances.length === 0 && !balancing) {
    io.err(`haldir: nothing to run: this node has no vrrp_instance${o.vrrpOnly ? '' : ' and no virtual_server'}\n`);
    return 1;
  }

  // ---- data plane and health ----
  let director: DirectorLoop | undefined;
  let health: HealthEngine | undefined;
  let refusals: (m: NodeModel) => string[] = () => [];
  if (balancing) {
    const choice = kind ? { kind, why: 'chosen with --dataplane' } : chooseDataplane();
    let dp;
    try {
      dp = createDataplane(choice.kind, {
        log: (m, f) => log.info(m, f as Record<string, string | number | boolean | undefined>),
        // IPVS programs virtual_server_group members and keepalived's lvs_timeouts itself.
        ...(choice.kind === 'ipvs' ? { groups: model.virtualServerGroups, lvs: model.global.lvs } : {}),
      });
    } catch (e) {
      io.err(`haldir: not started: ${(e as Error).message}\n`);
      return 1;
    }
    const refused = dp.unsupported(model.virtualServers);
    for (const u of refused) io.err(`${u.vs.src ? `${u.vs.src.file}:${u.vs.src.line}: ` : ''}error: ${u.message}\n`);
    if (refused.length) {
      io.err(`haldir: not started: the ${choice.kind} data plane cannot program the service(s) above\n`);
      return 1;
    }
    log.info('data plane', { kind: choice.kind, why: choice.why });
    const plane = dp;
    refusals = (m) => plane.unsupported(m.virtualServers).map((u) => `${u.vs.src ? `${u.vs.src.file}:${u.vs.src.line}: ` : ''}${u.message}`);
    director = new DirectorLoop(model, { dataplane: dp, log, fullEveryMs: 60_000, balance: o.balance === 'all' ? 'all' : 'master', onReconcile: (r, full) => api.onReconcile(r, full) });
    api.attachDirector(director);
    apiPlane = dp;
    const d = director;
    health = new HealthEngine(model, {
      runCheck: api.timeChecks(createRunCheck({ trackFiles: model.trackFiles })),
      ...realTime(),
      random: Math.random,
      log,
      onTable: (t) => d.setTable(t),
      onFifo: (l) => api.onFifo(l),
    });
  }
  try {
    await api.start(o);
  } catch (e) {
    io.err(`haldir: not started: ${(e as Error).message}\n`);
    await api.close();
    await director?.close({ flush: false });
    return 1;
  }

  // keepalived's lvs_sync_daemon on IPVS: the sync daemon follows its VRRP instance (sync-daemon.ts).
  const followSync = (instance: string, state: string): void => {
    const plan = apiPlane instanceof IpvsDataplane ? syncDaemonPlan(model!, instance, state) : undefined;
    if (!plan || !(apiPlane instanceof IpvsDataplane)) return;
    try {
      for (const st of plan.stop) apiPlane.stopSyncDaemon(st);
      if (plan.start) apiPlane.startSyncDaemon(plan.start);
    } catch (e) {
      log.error('IPVS sync daemon', { instance, state, error: (e as Error).message });
    }
  };

  // ---- VRRP, in its own thread (src/vrrp/worker.ts): main-thread stalls cannot delay it ----
  let worker: Worker | undefined;
  if (model.vrrpInstances.length) {
    const w = new Worker(new URL('../vrrp/worker.js', import.meta.url), { workerData: { model } });
    worker = w;
    api.attachWorker(w);
    const started = await new Promise<FromWorker>((resolve) => {
      w.on('message', (m: FromWorker) => {
        if (api.onWorker(m)) return; // an answer to the API
        if (m.type === 'log') io.out(m.line);
        // One line starting `{"status"` (tools and tests read it): VRRP's, plus the data plane's counters.
        else if (m.type === 'status') io.out(JSON.stringify({ ...(m.status as object), ...(director ? { dataplane: { ...director.counts, lastError: director.lastError } } : {}) }) + '\n');
        else if (m.type === 'state') {
          director?.setState(m.instance, m.state, m.formerMaster);
          followSync(m.instance, m.state);
        }
        if (m.type === 'started' || m.type === 'fatal') resolve(m);
      });
      w.on('error', (e) => resolve({ type: 'fatal', message: e.message }));
    });
    if (started.type === 'fatal') {
      io.err(`haldir: cannot start VRRP: ${started.message}\n`);
      await w.terminate();
      await api.close();
      await director?.close({ flush: false });
      return 1;
    }
    log.info('haldir vrrp started', {
      node: model.node,
      instances: model.vrrpInstances.map((i) => `${i.name}(${i.interface} vrid ${i.vrid} prio ${i.priority})`).join(','),
      pid: process.pid,
    });
  }
  // The first reconcile reads the kernel: after a crash, what is already right stays (no flush, no gap).
  director?.kick('full');
  health?.start();
  if (balancing) log.info('haldir balancing', { services: model.virtualServers.length, pid: process.pid });
  if (o.pidFile) {
    try {
      writeFileSync(o.pidFile, `${process.pid}\n`);
    } catch (e) {
      log.warn('cannot write the PID file', { file: o.pidFile, error: (e as Error).message });
    }
  }
  const sd = SdNotify.fromEnv();
  if (sd) {
    sd.send('READY=1', `STATUS=${model.vrrpInstances.length} VRRP instance(s), ${balancing ? model.virtualServers.length : 0} virtual server(s)`, `MAINPID=${process.pid}`);
    const every = sd.startWatchdog();
    log.info('systemd notified', { ready: true, ...(every ? { watchdogEveryMs: every } : {}) });
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const finish = (code: number): void => {
      for (const [s, h] of handlers) process.off(s, h);
      stopRt();
      sd?.close();
      if (o.pidFile) rmSync(o.pidFile, { force: true });
      resolve(code);
    };
    const stopRest = async (): Promise<void> => {
      await api.close();
      await health?.stop();
      await director?.close({ flush: !o.keepDataplane });
    };
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      sd?.send('STOPPING=1');
      log.info(`${sig}: stopping`, {});
      // VRRP first: the priority-0 advert hands the addresses over, then the data plane goes.
      if (!worker) {
        void stopRest().then(() => finish(0));
        return;
      }
      worker.on('message', (m: FromWorker) => {
        if (m.type !== 'stopped') return;
        void stopRest().then(() => {
          log.info('stopped', {});
          finish(0);
        });
      });
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
    };
    const reload = (by = 'SIGHUP'): boolean => {
      sd?.send('RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
      let applied = false;
      reloadConfig(files, o, io, log, model!, refusals, (m) => {
        model = m;
        health?.reload(m);
        if (apiPlane instanceof IpvsDataplane) apiPlane.configure({ groups: m.virtualServerGroups, lvs: m.global.lvs });
        director?.setModel(m);
        applied = true;
      });
      sd?.send('READY=1');
      api.reloaded(applied, by);
      return applied;
    };
    reloadFn = reload;
    const status = (): void => {
      if (worker) worker.postMessage({ type: 'status' } satisfies ToWorker);
      else io.out(JSON.stringify({ status: [], ...(director ? { dataplane: { ...director.counts, lastError: director.lastError } } : {}) }) + '\n');
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGINT', () => stop('SIGINT')],
      ['SIGUSR1', () => void api.dumpData()],
      [
        'SIGUSR2',
        () => {
          status();
          void api.dumpStats();
        },
      ],
      ['SIGHUP', () => reload()],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    // keepalived's SIGJSON (SIGRTMIN+2): Node cannot handle real-time signals and their
    // default would kill haldir; the addon turns it into an event (rt-signal.ts).
    let stopRt: () => void = () => {};
    try {
      stopRt = onRtSignal(2, () => void api.dumpJson());
    } catch (e) {
      log.warn('SIGRTMIN+2 (keepalived JSON dump) not handled: sending it would stop haldir', { error: (e as Error).message });
    }
    // The VRRP thread dying is fatal: exit non-zero so a supervisor (systemd) restarts haldir,
    // rather than run on without VRRP and hold or miss the addresses silently.
    worker?.on('error', (e) => log.error(`VRRP thread failed: ${e.stack ?? e.message}`, {}));
    worker?.on('exit', (code) => {
      if (stopping) return;
      log.error('VRRP thread exited unexpectedly', { code });
      void stopRest().then(() => finish(1));
    });
  });
}

/** SIGHUP: a configuration that does not load is refused whole; the running one keeps serving. */
function reloadConfig(files: string[], o: RunOptions, io: IO, log: Logger, current: NodeModel, refusals: (m: NodeModel) => string[], apply: (m: NodeModel) => void): void {
  let next: NodeModel | undefined;
  try {
    next = loadModel(files, o, io);
  } catch (e) {
    log.error('reload refused: the running configuration stays', { error: (e as Error).message });
    return;
  }
  if (!next) {
    log.error('reload refused: the new configuration has errors (above); the running configuration stays', {});
    return;
  }
  const refused = refusals(next);
  if (refused.length) {
    for (const r of refused) log.error(`reload refused: ${r}`, {});
    return;
  }
  // VRRP runs on: changing instances live is not built yet, so say so rather than half-apply.
  if (!same(current.vrrpInstances, next.vrrpInstances) || !same(current.syncGroups, next.syncGroups) || !same(current.vrrpScripts, next.vrrpScripts)) {
    log.warn('reload: VRRP settings changed; they take effect at the next restart (virtual servers are reloaded now)', {});
    next = { ...next, vrrpInstances: current.vrrpInstances, syncGroups: current.syncGroups, vrrpScripts: current.vrrpScripts };
  }
  log.info('reload', { services: next.virtualServers.length });
  apply(next);
}
