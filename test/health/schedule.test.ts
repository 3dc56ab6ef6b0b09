// keepalived's checker timing and retry rules and haldir's rise/fall, on a fake
// clock in µs: each test drives schedule.ts attempt by attempt and asserts the
// exact attempt times and state changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newChecker, type CheckerInherit } from '../../src/model/construct.js';
import type { Checker, CheckerType, HttpChecker, HttpUrl } from '../../src/model/types.js';
import type { CheckResult } from '../../src/health/types.js';
import { BOOTSTRAP_DELAY_US, initCheck, nextAttempt, onAttempt, type CheckState } from '../../src/health/schedule.js';

const S = 1_000_000;
const T0 = 1_000 * S; // an arbitrary start on the fake clock

function checker(type: CheckerType, inherit: Partial<CheckerInherit> = {}): Checker {
  return newChecker(type, { delayLoop: 3, ...inherit });
}

function url(path: string): HttpUrl {
  return { path, statusCodes: [], regexNoMatch: false };
}

/** The seed's HTTP_GET: connect_timeout 2, retry 2, delay_before_retry 1, delay_loop 3. */
function seedHttp(paths = ['/healthz'], extra: Partial<HttpChecker> = {}): HttpChecker {
  const c = checker('HTTP_GET', { connectTimeout: 2, retry: 2, delayBeforeRetry: 1, delayLoop: 3 }) as HttpChecker;
  c.urls = paths.map(url);
  Object.assign(c, extra);
  return c;
}

const ok = (latencyMs = 0): CheckResult => ({ ok: true, reason: 'ok', latencyMs });
const fail = (latencyMs = 0): CheckResult => ({ ok: false, reason: 'connection refused', latencyMs });

interface Log {
  /** Attempt start times, in seconds since T0. */
  at: number[];
  urls: (number | undefined)[];
  /** Verdict changes: [seconds since T0 (end of the attempt), 'up' | 'down']. */
  changes: [number, string][];
  outcomes: string[];
}

/** Runs attempts in turn; `results[i]` is the i-th attempt's result (its latency moves the clock). */
function drive(c: Checker, s: CheckState, results: CheckResult[]): { state: CheckState; log: Log } {
  const log: Log = { at: [], urls: [], changes: [], outcomes: [] };
  for (const r of results) {
    const a = nextAttempt(s, c);
    log.at.push((a.at - T0) / S);
    log.urls.push(a.urlIndex);
    const end = a.at + Math.round(r.latencyMs * 1000);
    const step = onAttempt(s, c, r, end);
    if (step.change) log.changes.push([(end - T0) / S, step.change]);
    log.outcomes.push(step.outcome);
    s = step.state;
  }
  return { state: s, log };
}

/** A checker UP after its first cycle, at the start of a url pass, its next attempt due at T0. */
function settledUp(c: Checker): CheckState {
  return settled(c, true);
}

/** The same, DOWN. */
function settledDown(c: Checker): CheckState {
  return settled(c, false);
}

function settled(c: Checker, up: boolean): CheckState {
  const from = T0 - us(c.delayLoop);
  const s: CheckState = { ...initCheck(c, T0 - 100 * S, () => 0), up, hasRun: true, wait: { kind: 'loop', from, notBefore: from } };
  assert.equal(nextAttempt(s, c).at, T0);
  return s;
}

const us = (s: number) => Math.round(s * S);

const rep = <T>(n: number, x: T): T[] => Array<T>(n).fill(x);

test('warmup: the first attempt waits the 1 s bootstrap plus random(0..warmup)', () => {
  const c = checker('TCP_CHECK', { delayLoop: 3, warmup: 10 });
  assert.equal(BOOTSTRAP_DELAY_US, S);
  assert.equal(nextAttempt(initCheck(c, T0, () => 0), c).at, T0 + S);
  assert.equal(nextAttempt(initCheck(c, T0, () => 0.5), c).at, T0 + S + 5 * S);
  const late = nextAttempt(initCheck(c, T0, () => 0.999999), c).at;
  assert.ok(late <= T0 + S + 10 * S && late > T0 + S + 9 * S);
  // Out-of-range randomness is clamped to the bounds.
  assert.equal(nextAttempt(initCheck(c, T0, () => 7), c).at, T0 + 11 * S);
  assert.equal(nextAttempt(initCheck(c, T0, () => -1), c).at, T0 + S);
  assert.equal(nextAttempt(initCheck(c, T0, () => 0.5, { bootstrapUs: 0 }), c).at, T0 + 5 * S);
  // warmup 0: no jitter; FILE_CHECK is read at once.
  assert.equal(nextAttempt(initCheck(checker('TCP_CHECK', { warmup: 0 }), T0, () => 0.9), c).at, T0 + S);
  const f = checker('FILE_CHECK');
  assert.equal(nextAttempt(initCheck(f, T0, () => 0.9), f).at, T0);
});

test('own timer: the next attempt is delay_loop after the previous one ends', () => {
  const c = checker('TCP_CHECK', { delayLoop: 3 });
  const { log } = drive(c, settledUp(c), [ok(250), ok(100), ok(0)]);
  assert.deepEqual(log.at, [0, 3.25, 6.35]);
  assert.deepEqual(log.changes, []);
});

test('retry: the seed HTTP_GET, UP and failing from t, is DOWN after retry+1 = 3 failed attempts', () => {
  const c = seedHttp();
  // Each failed attempt is a 2 s connect timeout; retries follow 1 s after each ends.
  const { state, log } = drive(c, settledUp(c), [fail(2000), fail(2000), fail(2000), fail(2000)]);
  assert.deepEqual(log.at.slice(0, 3), [0, 3, 6]);
  assert.deepEqual(log.outcomes.slice(0, 3), ['retry', 'retry', 'failed']);
  assert.deepEqual(log.changes, [[8, 'down']]);
  // DOWN: the failed url is re-checked after max(delay_before_retry, delay_loop) = 3 s.
  assert.equal(log.at[3], 11);
  assert.equal(state.up, false);
});

test('retry: TCP_CHECK retry 1 goes DOWN on the second consecutive failure, delay_before_retry apart', () => {
  const c = checker('TCP_CHECK', { retry: 1, delayBeforeRetry: 1, delayLoop: 5 });
  const { log } = drive(c, settledUp(c), [fail(), fail(), fail()]);
  assert.deepEqual(log.at, [0, 1, 6]);
  assert.deepEqual(log.changes, [[1, 'down']]);
});

test('retry: a success during the retries ends the cycle and the checker stays UP', () => {
  const c = checker('TCP_CHECK', { retry: 2, delayBeforeRetry: 1, delayLoop: 5 });
  const { state, log } = drive(c, settledUp(c), [fail(), fail(), ok(), fail(), fail(), fail()]);
  assert.deepEqual(log.at, [0, 1, 2, 7, 8, 9]);
  assert.deepEqual(log.outcomes, ['retry', 'retry', 'ok', 'retry', 'retry', 'failed']);
  assert.deepEqual(log.changes, [[9, 'down']]);
  assert.equal(state.retries, 0);
});

test('DOWN: one attempt per delay_loop without retries; one success brings it UP', () => {
  const c = checker('TCP_CHECK', { retry: 3, delayBeforeRetry: 1, delayLoop: 4 });
  const s = settledDown(c);
  assert.equal(nextAttempt(s, c).at, T0);
  const { log } = drive(c, s, [fail(), fail(), fail(), ok()]);
  assert.deepEqual(log.at, [0, 4, 8, 12]);
  assert.deepEqual(log.outcomes, ['failed', 'failed', 'failed', 'ok']);
  assert.deepEqual(log.changes, [[12, 'up']]);
});

test('first run: no retries, the first failure takes a checker without alpha DOWN', () => {
  const c = checker('TCP_CHECK', { retry: 3, delayBeforeRetry: 1, delayLoop: 3, warmup: 0 });
  const s = initCheck(c, T0, () => 0);
  assert.equal(s.up, true);
  const { log } = drive(c, s, [fail()]);
  assert.deepEqual(log.at, [1]);
  assert.deepEqual(log.changes, [[1, 'down']]);
});

test('first run: without alpha the checker starts UP and a first success changes nothing', () => {
  const c = checker('TCP_CHECK', { warmup: 0 });
  const { state, log } = drive(c, initCheck(c, T0, () => 0), [ok()]);
  assert.deepEqual(log.changes, []);
  assert.equal(state.up, true);
  assert.equal(state.hasRun, true);
});

test('alpha: the checker starts DOWN; the first success brings it UP, a first failure keeps it DOWN', () => {
  const c = checker('TCP_CHECK', { alpha: true, warmup: 0, retry: 2 });
  const s = initCheck(c, T0, () => 0);
  assert.equal(s.up, false);
  assert.deepEqual(drive(c, s, [ok()]).log.changes, [[1, 'up']]);
  const down = drive(c, s, [fail(), fail()]);
  assert.deepEqual(down.log.at, [1, 4]); // no retries: DOWN gets one attempt per delay_loop
  assert.deepEqual(down.log.changes, []);
  assert.equal(down.state.hasRun, true);
});

test('alpha does not apply to FILE_CHECK, which has no retries', () => {
  const c = checker('FILE_CHECK', { alpha: true, retry: 3 });
  const s = initCheck(c, T0, () => 0);
  assert.equal(s.up, true);
  const { log } = drive(c, onAttempt(s, c, ok(), T0).state, [fail()]);
  assert.deepEqual(log.changes, [[3, 'down']]);
});

test('rise/fall: rise 2 fall 3 damps a flapping server, alternating ok/failed cycles never flip it', () => {
  const c = checker('TCP_CHECK', { rise: 2, fall: 3, retry: 1, delayBeforeRetry: 1, delayLoop: 3 });
  // From UP: a failed cycle is the attempt plus its retry.
  const flapUp: CheckResult[] = [];
  for (let i = 0; i < 6; i++) flapUp.push(ok(), fail(), fail());
  const up = drive(c, settledUp(c), flapUp);
  assert.deepEqual(up.log.changes, []);
  assert.equal(up.state.up, true);
  // From DOWN: every cycle is one attempt.
  const flapDown: CheckResult[] = [];
  for (let i = 0; i < 6; i++) flapDown.push(ok(), fail());
  const down = drive(c, settledDown(c), flapDown);
  assert.deepEqual(down.log.changes, []);
  assert.equal(down.state.up, false);
});

test('rise/fall: 1/1 (keepalived) flips on every alternating cycle', () => {
  const c = checker('TCP_CHECK', { retry: 1, delayBeforeRetry: 1, delayLoop: 3 });
  const { log } = drive(c, settledUp(c), [fail(), fail(), ok(), fail(), fail(), ok()]);
  assert.deepEqual(log.at, [0, 1, 4, 7, 8, 11]);
  assert.deepEqual(log.changes, [
    [1, 'down'],
    [4, 'up'],
    [8, 'down'],
    [11, 'up'],
  ]);
});

test('fall 3: DOWN after three consecutive failed cycles, each with its retries', () => {
  const c = checker('TCP_CHECK', { fall: 3, retry: 1, delayBeforeRetry: 1, delayLoop: 3 });
  const { log } = drive(c, settledUp(c), rep(6, fail()));
  assert.deepEqual(log.at, [0, 1, 4, 5, 8, 9]);
  assert.deepEqual(log.outcomes, ['retry', 'failed', 'retry', 'failed', 'retry', 'failed']);
  assert.deepEqual(log.changes, [[9, 'down']]);
});

test('rise 2: UP after two consecutive successful cycles; a failure in between starts over', () => {
  const c = checker('TCP_CHECK', { rise: 2, delayLoop: 3 });
  const { log } = drive(c, settledDown(c), [ok(), fail(), ok(), ok()]);
  assert.deepEqual(log.at, [0, 3, 6, 9]);
  assert.deepEqual(log.changes, [[9, 'up']]);
});

test('first run with rise/fall: a server without alpha survives a failed first cycle when fall > 1', () => {
  const c = checker('TCP_CHECK', { rise: 2, fall: 2, retry: 1, delayBeforeRetry: 1, delayLoop: 3, warmup: 0 });
  const { log } = drive(c, initCheck(c, T0, () => 0), [fail(), fail(), fail()]);
  // First cycle: one attempt, no retry (1 failed cycle); the second cycle has its retry.
  assert.deepEqual(log.at, [1, 4, 5]);
  assert.deepEqual(log.outcomes, ['failed', 'retry', 'failed']);
  assert.deepEqual(log.changes, [[5, 'down']]);
  // With alpha and rise 2, a first success is one of the two needed.
  const a = checker('TCP_CHECK', { rise: 2, alpha: true, warmup: 0, delayLoop: 3 });
  assert.deepEqual(drive(a, initCheck(a, T0, () => 0), [ok(), ok()]).log.changes, [[4, 'up']]);
});

test('HTTP_GET: one url per delay_loop; an alpha checker with 3 urls is UP after 3 × delay_loop', () => {
  const c = seedHttp(['/a', '/b', '/c']);
  c.alpha = true;
  c.warmup = 0;
  const { log } = drive(c, initCheck(c, T0, () => 0), [ok(), ok(), ok(), ok()]);
  assert.deepEqual(log.at, [1, 4, 7, 10]);
  assert.deepEqual(log.urls, [0, 1, 2, 0]);
  assert.deepEqual(log.outcomes, ['progress', 'progress', 'ok', 'progress']);
  assert.deepEqual(log.changes, [[7, 'up']]);
});

test('HTTP_GET fast_recovery: all urls of a pass back to back while not known UP', () => {
  const c = seedHttp(['/a', '/b', '/c'], { fastRecovery: true });
  c.alpha = true;
  c.warmup = 0;
  const { log } = drive(c, initCheck(c, T0, () => 0), [ok(100), ok(100), ok(100), ok(100), ok(100)]);
  assert.deepEqual(log.at, [1, 1.1, 1.2, 4.3, 7.4]);
  assert.deepEqual(log.urls, [0, 1, 2, 0, 1]);
  assert.deepEqual(log.changes, [[1.3, 'up']]);
});

test('HTTP_GET fast_recovery: back to back on the first run and after the failed url recovers, delay_loop apart while UP', () => {
  const c = seedHttp(['/a', '/b'], { fastRecovery: true });
  c.warmup = 0;
  const { log } = drive(c, initCheck(c, T0, () => 0), [ok(), ok(), ok(), fail(), fail(), fail(), ok(), ok(), ok()]);
  assert.deepEqual(log.at, [1, 1, 4, 7, 8, 9, 12, 12, 12]);
  assert.deepEqual(log.urls, [0, 1, 0, 1, 1, 1, 1, 0, 1]);
  assert.deepEqual(log.changes, [
    [9, 'down'],
    [12, 'up'],
  ]);
});

test('HTTP_GET: any failed url takes the checker DOWN after its retries; recovery re-checks every url', () => {
  const c = seedHttp(['/a', '/b']);
  // UP, pass at /a ok, /b fails 3 times (retry 2) → DOWN.
  const { state, log } = drive(c, settledUp(c), [ok(), fail(), fail(), fail(), fail(), ok(), ok(), ok()]);
  assert.deepEqual(log.urls, [0, 1, 1, 1, 1, 1, 0, 1]);
  assert.deepEqual(log.at, [0, 3, 4, 5, 8, 11, 14, 17]);
  assert.deepEqual(log.outcomes, ['progress', 'retry', 'retry', 'failed', 'failed', 'progress', 'progress', 'ok']);
  // keepalived: the failed url answering again restarts the pass at the first url, so UP comes after a whole pass.
  assert.deepEqual(log.changes, [
    [5, 'down'],
    [17, 'up'],
  ]);
  assert.equal(state.failedUrl, undefined);
});

test('HTTP_GET: a failed url is re-checked every max(delay_before_retry, delay_loop)', () => {
  const c = seedHttp(['/a'], { delayBeforeRetry: 5, delayLoop: 3 } as Partial<HttpChecker>);
  const { log } = drive(c, settledDown(c), [fail(), fail(), ok(), ok()]);
  assert.deepEqual(log.at, [0, 5, 10, 13]);
  assert.deepEqual(log.changes, [[13, 'up']]);
});

test('MISC_CHECK: timers run from the start of the script, never before it ends', () => {
  const c = checker('MISC_CHECK', { retry: 1, delayBeforeRetry: 1, delayLoop: 3 });
  const { log } = drive(c, settledUp(c), [ok(500), fail(1500), fail(200), ok(4000), ok()]);
  // ok at 0 (0.5 s) → 3; fail at 3 (1.5 s) → retry at 4 is past, so 4.5 + 1 µs; fail → next loop 4.5 + 3 = 7.5;
  // ok for 4 s at 7.5 → 10.5 + 3 = 10.5 vs ended 11.5: 11.5 + 1 µs.
  assert.deepEqual(log.at, [0, 3, 4.500001, 7.500001, 11.500002]);
  assert.deepEqual(log.changes, [[4.700001, 'down'], [11.500001, 'up']]);
});

test('MISC_CHECK misc_dynamic: a success records the reported weight; a DOWN checker drops it', () => {
  const c = checker('MISC_CHECK', { retry: 0, delayLoop: 3 }) as Extract<Checker, { type: 'MISC_CHECK' }>;
  c.dynamic = true;
  let s = settledUp(c);
  s = onAttempt(s, c, { ok: true, reason: 'ok (exit code 7, weight 5)', latencyMs: 0, weight: 5 }, T0).state;
  assert.equal(s.weight, 5);
  s = onAttempt(s, c, ok(), T0 + 3 * S).state; // exit 0: back to the configured weight
  assert.equal(s.weight, undefined);
  s = onAttempt(s, c, { ok: true, reason: 'ok', latencyMs: 0, weight: 0 }, T0 + 6 * S).state;
  assert.equal(s.weight, 0);
  const down = onAttempt(s, c, fail(), T0 + 9 * S);
  assert.equal(down.change, 'down');
  assert.equal(down.state.weight, undefined);
  // Without misc_dynamic a reported weight is ignored.
  const plain = checker('MISC_CHECK', { delayLoop: 3 });
  assert.equal(onAttempt(settledUp(plain), plain, { ok: true, reason: 'ok', latencyMs: 0, weight: 9 }, T0).state.weight, undefined);
});

test('SMTP_CHECK retries even when DOWN and on the first run (keepalived resets retry_it every cycle)', () => {
  const c = checker('SMTP_CHECK', { retry: 1, delayBeforeRetry: 1, delayLoop: 3, warmup: 0 });
  const { log } = drive(c, initCheck(c, T0, () => 0), [fail(), fail(), fail(), fail()]);
  assert.deepEqual(log.at, [1, 2, 5, 6]);
  assert.deepEqual(log.outcomes, ['retry', 'failed', 'retry', 'failed']);
  assert.deepEqual(log.changes, [[2, 'down']]);
});

test('reload: a carried state keeps its place in the cycle and follows the new delay_loop', () => {
  const c = checker('TCP_CHECK', { delayLoop: 60 });
  const s = settledUp(c);
  assert.equal(nextAttempt(s, c).at, T0);
  const after = onAttempt(s, c, ok(), T0).state;
  assert.equal(nextAttempt(after, c).at, T0 + 60 * S);
  assert.equal(nextAttempt(after, { ...c, delayLoop: 5 }).at, T0 + 5 * S);
  // A carried HTTP state whose url list shrank checks a url that exists.
  const h = seedHttp(['/a', '/b', '/c']);
  const mid = onAttempt(onAttempt(settledUp(h), h, ok(), T0).state, h, ok(), T0 + 3 * S).state;
  assert.equal(nextAttempt(mid, h).urlIndex, 2);
  assert.equal(nextAttempt(mid, seedHttp(['/a'])).urlIndex, 0);
});

test('the state records the last result', () => {
  const c = seedHttp(['/a']);
  const s = onAttempt(settledUp(c), c, { ok: false, reason: 'status 503 (expected 200)', latencyMs: 12.5, status: 503 }, T0 + 13).state;
  assert.deepEqual(s.last, { ok: false, reason: 'status 503 (expected 200)', latencyMs: 12.5, status: 503, at: T0 + 13, urlIndex: 0 });
});
