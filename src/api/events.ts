// The daemon's event stream: every state change (VRRP transitions, real servers up/
// down, drains and weights, failovers, reloads, drift repairs) as a numbered,
// timestamped event, kept in a ring for late subscribers and fanned out to the
// server-sent-events clients (/api/v1/events) and the metrics. The SSE framing and the
// parsing of health's notify lines are pure functions.
import type { ApiEvent } from './types.js';

export type NewEvent = Omit<ApiEvent, 'id' | 'time'>;

export class EventBus {
  /** This run's mark in SSE ids (`BOOT.N`): a client resuming across a restart gets the backlog, not a gap. */
  readonly boot = Date.now().toString(36);
  private readonly ring: ApiEvent[] = [];
  private next = 1;
  private readonly subs = new Set<(e: ApiEvent) => void>();

  constructor(
    private readonly keep = 1000,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  emit(e: NewEvent): ApiEvent {
    const ev: ApiEvent = { id: this.next++, time: this.clock().toISOString(), ...e };
    this.ring.push(ev);
    if (this.ring.length > this.keep) this.ring.splice(0, this.ring.length - this.keep);
    for (const s of this.subs) {
      try {
        s(ev);
      } catch {
        /* a subscriber's failure is its own */
      }
    }
    return ev;
  }

  subscribe(fn: (e: ApiEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  /** Events after `lastId` still in the ring (a reconnecting client's gap), or the last `n`. */
  after(lastId: number): ApiEvent[] {
    return this.ring.filter((e) => e.id > lastId);
  }

  last(n: number): ApiEvent[] {
    return n <= 0 ? [] : this.ring.slice(-n);
  }

  get lastId(): number {
    return this.next - 1;
  }
}

/** One SSE frame (WHATWG HTML §9.2 event stream): id, event name, the JSON on one data line. */
export function sseFrame(e: ApiEvent, boot: string): string {
  return `id: ${boot}.${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** The event id to resume after, from a Last-Event-ID of this run (`BOOT.N`); undefined for another run's or none. */
export function resumeAfter(lastEventId: string | undefined, boot: string): number | undefined {
  const m = /^([0-9a-z]+)\.(\d+)$/.exec(lastEventId ?? '');
  return m && m[1] === boot ? Number(m[2]) : undefined;
}

/** Parses an SSE stream incrementally: feed chunks, get complete events (id, event, data). */
export class SseParser {
  private buf = '';

  push(chunk: string): { id?: string; event?: string; data: string }[] {
    this.buf += chunk;
    const out: { id?: string; event?: string; data: string }[] = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const f: { id?: string; event?: string; data: string[] } = { data: [] };
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const k = i < 0 ? line : line.slice(0, i);
        const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (k === 'data') f.data.push(v);
        else if (k === 'id') f.id = v;
        else if (k === 'event') f.event = v;
      }
      if (f.data.length) out.push({ ...(f.id !== undefined ? { id: f.id } : {}), ...(f.event !== undefined ? { event: f.event } : {}), data: f.data.join('\n') });
    }
    return out;
  }
}

/**
 * Health's notify lines (keepalived's LVS notify FIFO format, health/server-state.ts
 * fifoLine) as events: `RS [192.168.2.13]:tcp:80 [192.168.2.100]:tcp:80 DOWN` and
 * `VS [192.168.2.100]:tcp:80 UP` (quorum).
 */
export function eventOfFifoLine(line: string): NewEvent | undefined {
  const l = line.replace(/\0/g, '').trim();
  let m = /^RS (\S+) (.+) (UP|DOWN)$/.exec(l);
  if (m) {
    const up = m[3] === 'UP';
    return { type: 'realserver', server: m[1]!, service: m[2]!, up, message: `real server ${m[1]} of ${m[2]} ${up ? 'UP' : 'DOWN'}` };
  }
  m = /^VS (.+) (UP|DOWN)$/.exec(l);
  if (m) {
    const up = m[2] === 'UP';
    return { type: 'service', service: m[1]!, up, message: `service ${m[1]}: quorum ${up ? 'gained' : 'lost'}` };
  }
  return undefined;
}
