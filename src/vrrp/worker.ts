// The VRRP runtime in its own thread: its timers and sockets run on the
// worker's event loop, so a stall of the main thread (a large reload, a burst
// of health checks) cannot delay adverts or takeovers. Measured in
// bench/timer-isolation.ts. Messages: in 'status' | 'stop' | 'resign' | 'resume' (planned
// failover); out log lines, 'started', 'state' (an instance's new state), 'status',
// 'resigned' (the answer to resign/resume), 'stopped', 'fatal'.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../daemon/log.js';
import { LagMonitor } from '../daemon/lag.js';
import type { NodeModel } from '../model/types.js';
import { LinuxVrrpIo } from './io-linux.js';
import { Notifier } from './notify.js';
import { VrrpRuntime } from './runtime.js';

export type ToWorker = { type: 'status' } | { type: 'stop' } | { type: 'resign' | 'resume'; id: number; instances?: string[] };
export type FromWorker =
  | { type: 'log'; line: string }
  | { type: 'started'; minSkewUs: number }
  | { type: 'status'; status: unknown }
  | { type: 'stopped' }
  | { type: 'resigned'; id: number; result: { instance: string; before: string; after: string; resigned: boolean }[] }
  | { type: 'state'; instance: string; state: string; reason?: string; formerMaster?: string }
  | { type: 'fatal'; message: string };

const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const model = (workerData as { model: NodeModel }).model;
const log = createLogger((line) => send({ type: 'log', line }));

try {
  const io = new LinuxVrrpIo(log, model.global.vrrp.garpInterval * 1000);
  const notifier = new Notifier(model.global, (m) => log.warn(m));
  const rt = new VrrpRuntime(model, { io, log, notifier, onState: (instance, state, info) => send({ type: 'state', instance, state, ...info }) });
  rt.start();
  const lag = new LagMonitor();
  lag.start();
  const marginMs = rt.minSkewUs() / 1000;
  lag.watch(1000, Math.max(5, marginMs / 2), (s) => log.warn('VRRP thread late', { maxMs: s.max.toFixed(1), skewMs: marginMs.toFixed(1) }));
  send({ type: 'started', minSkewUs: rt.minSkewUs() });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'status') send({ type: 'status', status: { status: rt.status(), unknownVrid: rt.unknownVrid, vrrpThreadLagMs: lag.stats() } });
    else if (m.type === 'resign' || m.type === 'resume') send({ type: 'resigned', id: m.id, result: m.type === 'resign' ? rt.resign(m.instances) : rt.resume(m.instances) });
    else if (m.type === 'stop') {
      void (async () => {
        await rt.stop();
        await notifier.close(3000);
        lag.stop();
        io.close();
        send({ type: 'stopped' });
        port.close();
      })();
    }
  });
} catch (e) {
  const msg = (e as Error).message;
  send({ type: 'fatal', message: `${msg}${/EPERM|EACCES/.test(msg) ? ' (VRRP needs root, or CAP_NET_RAW and CAP_NET_ADMIN)' : ''}` });
  port.close();
}
