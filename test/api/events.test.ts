// The event stream's pure parts: the ring and subscribers, SSE framing read back by the
// parser the CLI uses, resuming by Last-Event-ID within a run only, and health's
// notify lines (as health/server-state.ts writes them) turned into events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, eventOfFifoLine, resumeAfter, SseParser, sseFrame } from '../../src/api/events.js';
import { fifoLineRs, fifoLineVs } from '../../src/health/server-state.js';
import { seedModel } from './fixtures.js';

describe('event bus', () => {
  it('numbers and timestamps events, keeps the last N, fans out; a throwing subscriber harms no one', () => {
    let t = Date.parse('2026-11-29T20:00:00Z');
    const bus = new EventBus(3, () => new Date((t += 1000)));
    const got: number[] = [];
    bus.subscribe(() => {
      throw new Error('bad subscriber');
    });
    const off = bus.subscribe((e) => got.push(e.id));
    for (let i = 0; i < 5; i++) bus.emit({ type: 'reload', message: `r${i}` });
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    assert.deepEqual(bus.last(10).map((e) => e.id), [3, 4, 5]);
    assert.deepEqual(bus.after(3).map((e) => e.message), ['r3', 'r4']);
    assert.equal(bus.last(1)[0]!.time, '2026-11-29T20:00:05.000Z');
    off();
    bus.emit({ type: 'reload', message: 'x' });
    assert.equal(got.length, 5);
    assert.equal(bus.lastId, 6);
  });

  it('SSE frames read back by the parser, whatever the chunking; comments and retry lines skipped', () => {
    const bus = new EventBus();
    const a = bus.emit({ type: 'vrrp', instance: 'VI_1', from: 'BACKUP', to: 'MASTER', message: 'VI_1: BACKUP -> MASTER\nsecond line' });
    const b = bus.emit({ type: 'drain', server: 'lb3:80', by: 'unix socket', message: 'drain "lb3:80"' });
    const text = 'retry: 2000\n\n' + sseFrame(a, bus.boot) + ': keepalive\n\n' + sseFrame(b, bus.boot);
    for (const size of [1, 7, 64, text.length]) {
      const p = new SseParser();
      const out = [];
      for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
      assert.deepEqual(out.map((f) => JSON.parse(f.data)), [a, b], `chunks of ${size}`);
      assert.deepEqual(out.map((f) => f.event), ['vrrp', 'drain']);
      assert.deepEqual(out.map((f) => f.id), [`${bus.boot}.1`, `${bus.boot}.2`]);
    }
  });

  it('Last-Event-ID resumes within the same run only (after a restart the client gets the backlog)', () => {
    assert.equal(resumeAfter('k3x.17', 'k3x'), 17);
    assert.equal(resumeAfter('old.17', 'k3x'), undefined);
    assert.equal(resumeAfter('17', 'k3x'), undefined);
    assert.equal(resumeAfter(undefined, 'k3x'), undefined);
  });
});

describe("health's notify lines as events", () => {
  it('RS and VS lines from the real writers', () => {
    const m = seedModel();
    const vs = m.virtualServers[0]!;
    const rs = vs.realServers[2]!;
    assert.deepEqual(eventOfFifoLine(fifoLineRs(vs, rs, false)), {
      type: 'realserver',
      server: '[192.168.2.13]:tcp:80',
      service: '[192.168.2.100]:tcp:80',
      up: false,
      message: 'real server [192.168.2.13]:tcp:80 of [192.168.2.100]:tcp:80 DOWN',
    });
    assert.deepEqual(eventOfFifoLine(fifoLineVs(vs, true) + '\0'), { type: 'service', service: '[192.168.2.100]:tcp:80', up: true, message: 'service [192.168.2.100]:tcp:80: quorum gained' });
    assert.equal(eventOfFifoLine('something else\n'), undefined);
  });
});
