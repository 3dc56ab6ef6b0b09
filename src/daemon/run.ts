// `haldir run`: load the configuration, start the node's parts, and run until
// SIGTERM/SIGINT, handing over gracefully. For now the parts are VRRP only
// (`--vrrp-only`, like `keepalived --vrrp`).
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { loadConfig, selectNode } from '../config/load.js';
import type { IO } from '../cli/main.js';
import { LinuxVrrpIo } from '../vrrp/io-linux.js';
import { Notifier } from '../vrrp/notify.js';
import { VrrpRuntime } from '../vrrp/runtime.js';
import { LagMonitor } from './lag.js';
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

  let vio: LinuxVrrpIo;
  try {
    vio = new LinuxVrrpIo(log, model.global.vrrp.garpInterval * 1000);
  } catch (e) {
    io.err(`haldir: cannot open netlink: ${(e as Error).message}\n`);
    return 1;
  }
  const notifier = new Notifier(model.global, (m) => log.warn(m));
  const rt = new VrrpRuntime(model, { io: vio, log, notifier });
  try {
    rt.start();
  } catch (e) {
    const msg = (e as Error).message;
    io.err(`haldir: cannot start VRRP: ${msg}${/EPERM|EACCES/.test(msg) ? ' (VRRP needs root, or CAP_NET_RAW and CAP_NET_ADMIN)' : ''}\n`);
    vio.close();
    return 1;
  }
  log.info(`haldir vrrp started`, {
    node: model.node,
    instances: model.vrrpInstances.map((i) => `${i.name}(${i.interface} vrid ${i.vrid} prio ${i.priority})`).join(','),
    pid: process.pid,
  });

  // Lateness that eats into the smallest skew can make a backup take over from a live master.
  const lag = new LagMonitor();
  lag.start();
  const marginMs = rt.minSkewUs() / 1000;
  lag.watch(1000, Math.max(5, marginMs / 2), (s) =>
    log.warn('event loop late', { maxMs: s.max.toFixed(1), p99Ms: s.p99.toFixed(1), skewMs: marginMs.toFixed(1) }),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: stopping`, {});
      void (async () => {
        await rt.stop();
        await notifier.close(3000);
        lag.stop();
        vio.close();
        log.info('stopped', {});
        for (const [s, h] of handlers) process.off(s, h);
        resolve(0);
      })();
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGINT', () => stop('SIGINT')],
      ['SIGUSR2', () => io.out(JSON.stringify({ status: rt.status(), unknownVrid: rt.unknownVrid, eventLoopLagMs: lag.stats() }) + '\n')],
      ['SIGHUP', () => log.warn('SIGHUP: reload is not implemented yet; restart haldir to apply a new configuration', {})],
    ];
    for (const [s, h] of handlers) process.on(s, h);
  });
}
