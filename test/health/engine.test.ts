// The engine on a fake clock with scripted check results: keepalived's timing
// end to end, notify scripts and FIFO lines, the data-plane table, reload
// keeping state, stop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { createLogger } from '../../src/daemon/log.js';
import { HealthEngine } from '../../src/health/engine.js';
import type { CheckResult, CheckTarget } from '../../src/health/types.js';
import type { DesiredService } from '../../src/health/server-state.js';
import { SimClock } from '../vrrp/sim.js';

const S = 1_000_000;

function model(extra = '') {
  const r = loadKeepalivedText(
    `virtual_server 10.0.0.100 80 {\n delay_loop 3\n lb_kind DR\n${extra}\n` +
      ' real_server 10.0.0.11 80 {\n  notify_down "/bin/down a"\n  TCP_CHECK {\n   connect_timeout 2\n   retry 2\n   delay_before_retry 1\n  }\n }\n' +
      ' real_server 10.0.0.12 80 {\n  TCP_CHECK {\n   connect_timeout 2\n   retry 2\n   delay_before_retry 1\n  }\n }\n}\n',
    't.conf',
  );
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  return r.model;
}

function engine(m = model()) {
  const clock = new SimClock();
  const down = new Set<string>();
  const attempts: { at: number; target: string }[] = [];
  const tables: DesiredService[][] = [];
  const fifo: string[] = [];
  const scripts: string[] = [];
  const runCheck = async (_c: unknown, t: CheckTarget): Promise<CheckResult> => {
    attempts.push({ at: clock.now, target: t.address });
    // A dead server times out after connect_timeout (2 s): the result arrives then.
    if (down.has(t.address)) {
      await new Promise<void>((r) => clock.at(clock.now + 2 * S, r));
      return { ok: false, reason: 'timeout after 2000 ms', latencyMs: 2000 };
    }
    return { ok: true, reason: 'ok', latencyMs: 1 };
  };
  const e = new HealthEngine(m, {
    runCheck: runCheck as never,
    now: () => clock.now,
    at: (t, cb) => clock.at(t, cb),
    random: () => 0,
    log: createLogger(() => undefined),
    onTable: (t) => void tables.push(t),
    onFifo: (l) => void fifo.push(l),
    runScript: async (s) => {
      scripts.push(s.cmd);
      return { code: 0, signal: null, timedOut: false, ms: 0 };
    },
  });
  return { e, clock, down, attempts, tables, fifo, scripts };
}

const weights = (t: DesiredService[]) => t[0]!.dests.map((d) => `${d.address}:${d.weight}`);

describe('health engine', () => {
  it('checks each server every delay_loop; both up in the table', async () => {
    const { e, clock, attempts, tables } = engine();
    e.start();
    await clock.advance(10 * S);
    const lb1 = attempts.filter((a) => a.target === '10.0.0.11').map((a) => a.at / S);
    // keepalived: first attempt after the 1 s bootstrap (+ warmup jitter 0 here), then every 3 s.
    assert.deepEqual(lb1, [1, 4, 7, 10]);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.11:1', '10.0.0.12:1']);
  });

  it('a dead server leaves the table after retry + 1 timed-out attempts; notify_down and the FIFO line', async () => {
    const { e, clock, down, attempts, tables, fifo, scripts } = engine();
    e.start();
    await clock.advance(4.5 * S);
    down.add('10.0.0.11');
    await clock.advance(30 * S);
    const times = attempts.filter((a) => a.target === '10.0.0.11').map((a) => a.at / S);
    // Attempts at 7 (fails at 9), retry at 10 (fails 12), retry at 13 (fails 15): DOWN at 15.
    assert.deepEqual(times.slice(0, 5), [1, 4, 7, 10, 13]);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.12:1']);
    // keepalived announces the service up at start (quorum met), then the server going down.
    assert.deepEqual(fifo, ['VS [10.0.0.100]:tcp:80 UP\n', 'RS [10.0.0.11]:tcp:80 [10.0.0.100]:tcp:80 DOWN\n']);
    assert.deepEqual(scripts, ['/bin/down a']);
    e.stop();
  });

  it('inhibit_on_failure keeps the server with weight 0', async () => {
    const { e, clock, down, tables } = engine(model(' inhibit_on_failure'));
    e.start();
    down.add('10.0.0.12');
    await clock.advance(10 * S);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.11:1', '10.0.0.12:0']);
  });

  it('reload: an unchanged server keeps its DOWN state across a changed delay_loop', async () => {
    const { e, clock, down, tables } = engine();
    e.start();
    down.add('10.0.0.11');
    await clock.advance(10 * S);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.12:1']);
    // Same servers, a different delay_loop: state is kept, 10.0.0.11 stays out at once.
    const m2 = model();
    m2.virtualServers[0]!.delayLoop = 5;
    e.reload(m2);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.12:1']);
    down.clear();
    await clock.advance(clock.now + 10 * S);
    assert.deepEqual(weights(tables.at(-1)!), ['10.0.0.11:1', '10.0.0.12:1']);
  });

  it('stop cancels every pending attempt', async () => {
    const { e, clock, attempts } = engine();
    e.start();
    await clock.advance(2 * S);
    const n = attempts.length;
    await e.stop();
    await clock.advance(20 * S);
    assert.equal(attempts.length, n);
  });
});
