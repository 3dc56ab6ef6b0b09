// Runs lab/traffic.ts in a lab host and hands its per-second lines over as objects
// (for the demo, `haldir lab traffic` and the seed bench).
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';

const TRAFFIC = fileURLToPath(new URL('./traffic.js', import.meta.url));

export interface TrafficTick {
  at: number;
  ok: number;
  fail: number;
  byNode: Record<string, number>;
  errors: Record<string, number>;
  p50: number;
  max: number;
  /** Longest time in that second since a port's last success. */
  maxGapMs: number;
}

/** Starts the loop in `host` (stop it with lab.stop); `onTick` gets one object per second. */
export function startTraffic(lab: Lab, host: string, target: { vip: string; ports: number[]; timeoutMs?: number }, onTick: (t: TrafficTick) => void): ChildProcess {
  const child = lab.spawn(host, process.execPath, [TRAFFIC, '--host', target.vip, '--ports', target.ports.join(','), '--timeout', String(target.timeoutMs ?? 500)]);
  let buf = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        onTick(JSON.parse(line) as TrafficTick);
      } catch {
        /* not a tick line */
      }
    }
  });
  return child;
}
