// Event-loop lateness: how late timers fire. keepalived's users suffer spurious
// failovers when its single loop runs late ("thread timer expired"); haldir
// measures continuously and reports when lateness eats into a margin.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LagStats {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

export class LagMonitor {
  private readonly h: IntervalHistogram;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly resolutionMs = 10) {
    this.h = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  start(): void {
    this.h.enable();
  }

  stats(reset = false): LagStats {
    // The histogram records each sampling interval as it ran; lateness is what exceeds the interval.
    const late = (ns: number) => Math.max(0, ns / 1e6 - this.resolutionMs);
    const s = { p50: late(this.h.percentile(50)), p99: late(this.h.percentile(99)), max: late(this.h.max) };
    if (reset) this.h.reset();
    return s;
  }

  /**
   * Calls `report` every `everyMs` with the window's stats when its max exceeds
   * `thresholdMs` (e.g. a fraction of the smallest VRRP skew: beyond it a backup
   * may declare the master dead while the master is only late).
   */
  watch(everyMs: number, thresholdMs: number, report: (s: LagStats) => void): void {
    this.timer = setInterval(() => {
      const s = this.stats(true);
      if (s.max > thresholdMs) report(s);
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.h.disable();
  }
}
