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

export interface TrafficTarget {
  vip: string;
  ports: number[];
  timeoutMs?: number;
}

/** node's arguments for the loop. */
export function trafficArgs(t: TrafficTarget): string[] {
  return [TRAFFIC, '--host', t.vip, '--ports', t.ports.join(','), '--timeout', String(t.timeoutMs ?? 500)];
}

/** A stdout 'data' handler that hands over each tick (and its raw line). */
export function tickReader(onTick: (t: TrafficTick, line: string) => void): (b: Buffer) => void {
  let buf = '';
  return (b) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let t: TrafficTick;
      try {
        t = JSON.parse(line) as TrafficTick;
      } catch {
        continue; // not a tick line
      }
      onTick(t, line);
    }
  };
}

/** Starts the loop in `host` (stop it with lab.stop); `onTick` gets one object per second. */
export function startTraffic(lab: Lab, host: string, target: TrafficTarget, onTick: (t: TrafficTick) => void): ChildProcess {
  const child = lab.spawn(host, process.execPath, trafficArgs(target));
  child.stdout!.on('data', tickReader(onTick));
  return child;
}
