// `haldir run`: load the configuration, start the node's parts, and run until
// SIGTERM/SIGINT, handing over gracefully. For now the parts are VRRP only
// (`--vrrp-only`, like `keepalived --vrrp`).
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { loadConfig, selectNode } from '../config/load.js';
import type { IO } from '../cli/main.js';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../vrrp/worker.js';
import { createLogger } from './log.js';

export interface RunOptions {
  node?: string;
  configId?: string;
  vrrpOnly?: boolean;
}

export class RunUsageError extends Error {}

export async function runDaemon(files: string[], o: RunOptions, io: IO): Promise<number> {
  if (!o.vrrpOnly) {
    throw new RunUsageError('haldir run needs --vrrp-only for now: health checks and the data plane are not part of haldir yet');
  }
  const cfg = loadConfig(files, { ...(o.configId !== undefined ? { configId: o.configId } : {}), ...(o.node !== undefined ? { node: o.node } : {}) });
  for (const g of groupDiagnostics(cfg.diagnostics)) io.err(formatGroup(g) + '\n');
  if (cfg.diagnostics.some((d) => d.severity === 'error')) {
    io.err('haldir: not started: the configuration has errors\n');
    return 1;
  }
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new RunUsageError(sel.error);
  const model = sel.model!;
  const log = createLogger((l) => io.out(l));
  if (model.vrrpInstances.length === 0) {
    io.err('haldir: nothing to run: this node has no vrrp_instance\n');
    return 1;
  }

  // VRRP runs in its own thread (src/vrrp/worker.ts): main-thread stalls cannot delay it.
  const worker = new Worker(new URL('../vrrp/worker.js', import.meta.url), { workerData: { model } });
  const started = await new Promise<FromWorker>((resolve) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'log') io.out(m.line);
      else if (m.type === 'status') io.out(JSON.stringify(m.status) + '\n');
      if (m.type === 'started' || m.type === 'fatal') resolve(m);
    });
    worker.on('error', (e) => resolve({ type: 'fatal', message: e.message }));
  });
  if (started.type === 'fatal') {
    io.err(`haldir: cannot start VRRP: ${started.message}\n`);
    await worker.terminate();
    return 1;
  }
  log.info(`haldir vrrp started`, {
    node: model.node,
    instances: model.vrrpInstances.map((i) => `${i.name}(${i.interface} vrid ${i.vrid} prio ${i.priority})`).join(','),
    pid: process.pid,
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: stopping`, {});
      worker.on('message', (m: FromWorker) => {
        if (m.type !== 'stopped') return;
        log.info('stopped', {});
        for (const [s, h] of handlers) process.off(s, h);
        resolve(0);
      });
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGINT', () => stop('SIGINT')],
      ['SIGUSR2', () => worker.postMessage({ type: 'status' } satisfies ToWorker)],
      ['SIGHUP', () => log.warn('SIGHUP: reload is not implemented yet; restart haldir to apply a new configuration', {})],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    // The VRRP thread dying is fatal: exit non-zero so a supervisor (systemd) restarts haldir,
    // rather than run on without VRRP and hold or miss the addresses silently.
    worker.on('error', (e) => log.error(`VRRP thread failed: ${e.stack ?? e.message}`, {}));
    worker.on('exit', (code) => {
      if (stopping) return;
      log.error('VRRP thread exited unexpectedly', { code });
      for (const [s, h] of handlers) process.off(s, h);
      resolve(1);
    });
  });
}
