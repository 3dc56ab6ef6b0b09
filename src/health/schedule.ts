// Owns the per-checker health-check state machine: when the next attempt of a
// checker is due, which url it checks, and what an attempt's result does to
// the checker (retries, up/down, haldir's rise/fall). Pure: the clock (µs) and
// the randomness are parameters; no I/O, no timers.
//
// keepalived's rules (check_tcp.c tcp_epilog, check_http.c epilog, check_misc.c,
// check_smtp.c smtp_final, check_api.c register_checkers_thread, check_data.c):
// - the first attempt comes BOOTSTRAP_DELAY (1 s) + random(0..warmup) after start;
// - an UP checker that fails is retried `retry` times, `delay_before_retry` apart,
//   and goes DOWN after retry+1 consecutive failures; a DOWN checker gets one
//   attempt per delay_loop and one success brings it UP;
// - the first run has no retries: its first result decides; alpha starts DOWN;
// - timers re-arm from the end of an attempt, except MISC_CHECK which re-arms
//   from the start of the script (`last_ran`), never earlier than now + 1 µs;
// - HTTP_GET/SSL_GET check one url per attempt, delay_loop apart; the checker is
//   UP after a whole pass of the urls succeeds; a url that failed is re-checked
//   every max(delay_before_retry, delay_loop), and when it recovers the pass
//   restarts at the first url; fast_recovery runs the urls of a pass back to back
//   while the checker is not known UP (first run, or DOWN);
// - SMTP_CHECK retries whatever its state, on the first run too (smtp_start_check
//   resets retry_it every cycle);
// - FILE_CHECK has no timer in keepalived (the file is watched); here it is
//   polled every delay_loop from start, never alpha, never retried.
//
// haldir's rise/fall (1/1 = keepalived): a *cycle* is an attempt plus its
// retries (for HTTP: a url plus its retries when failing, a whole pass of the
// urls when succeeding). A DOWN checker goes UP after `rise` consecutive
// successful cycles (any failure resets the count); an UP checker goes DOWN
// after `fall` consecutive failed cycles (any successful attempt resets it).
// The first cycle is an ordinary cycle except that it has no retries: a checker
// that starts UP (no alpha) and fails its first cycle goes DOWN only when
// fall = 1; an alpha checker whose first cycle succeeds goes UP only when rise = 1.
import type { Checker } from '../model/types.js';
import type { CheckResult } from './types.js';

export const US_PER_S = 1_000_000;
/** keepalived's BOOTSTRAP_DELAY (TIMER_HZ): every checker's first attempt waits this long plus the warmup jitter. */
export const BOOTSTRAP_DELAY_US = US_PER_S;

/** When the next attempt is due, kept relative to the previous one so that a reload changing delay_loop applies at once. */
export type Wait =
  /** The first attempt, at an absolute time (bootstrap + warmup jitter). */
  | { kind: 'first'; at: number }
  /**
   * After the previous attempt: `from` + delay_loop ('loop'), + delay_before_retry ('retry'),
   * + max(delay_before_retry, delay_loop) ('failedUrl'), or right away ('now', fast_recovery);
   * never before `notBefore`.
   */
  | { kind: 'loop' | 'retry' | 'failedUrl' | 'now'; from: number; notBefore: number };

export interface LastResult {
  ok: boolean;
  reason: string;
  latencyMs: number;
  status?: number;
  /** When the attempt ended (µs). */
  at: number;
  urlIndex?: number;
}

export interface CheckState {
  /** The checker's verdict (keepalived is_up). */
  up: boolean;
  /** The first cycle has completed (keepalived has_run). */
  hasRun: boolean;
  wait: Wait;
  /** Retries used in the current cycle (keepalived retry_it). */
  retries: number;
  /** HTTP/SSL: index of the url the next attempt checks. */
  urlIndex: number;
  /** HTTP/SSL: the url whose failure ended the last failed cycle, until it succeeds again (keepalived failed_url). */
  failedUrl?: number;
  /** Consecutive successful cycles (rise). */
  successes: number;
  /** Consecutive failed cycles (fall). */
  failures: number;
  /** MISC_CHECK misc_dynamic: the weight the last success reported (replaces the configured weight). */
  weight?: number;
  /** FILE_CHECK: value × weight the last success reported (added to the configured weight). */
  weightDelta?: number;
  last?: LastResult;
}

export interface Attempt {
  /** When to start it (µs); at or before now means right away. */
  at: number;
  /** HTTP/SSL: which url block to check. */
  urlIndex?: number;
}

/**
 * What an attempt amounted to: 'retry' (failed, a retry follows), 'progress' (an HTTP url
 * passed, the pass goes on), 'ok' (a successful cycle), 'failed' (a failed cycle).
 */
export type Outcome = 'retry' | 'progress' | 'ok' | 'failed';

export interface Step {
  state: CheckState;
  /** The checker's verdict changed. */
  change?: 'up' | 'down';
  outcome: Outcome;
}

export interface InitOptions {
  /** Delay before the first attempt, before the jitter; keepalived's 1 s unless given. */
  bootstrapUs?: number;
}

export const us = (seconds: number): number => Math.round(seconds * US_PER_S);

function isHttp(c: Checker): c is Extract<Checker, { type: 'HTTP_GET' | 'SSL_GET' }> {
  return c.type === 'HTTP_GET' || c.type === 'SSL_GET';
}

const atLeastOne = (n: number): number => (Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1);

function retryOf(c: Checker): number {
  return c.type === 'FILE_CHECK' ? 0 : Math.max(0, Math.floor(c.retry));
}

/** The checker's first verdict: DOWN with alpha (keepalived check_data.c), except FILE_CHECK whose state is known at once. */
function startsUp(c: Checker): boolean {
  return c.type === 'FILE_CHECK' || !c.alpha;
}


/** A checker's state before it has run; `random()` in [0, 1) picks the warmup jitter. */
export function initCheck(c: Checker, now: number, random: () => number, opts: InitOptions = {}): CheckState {
  let at = now;
  if (c.type !== 'FILE_CHECK') {
    const r = Math.min(Math.max(random(), 0), 1);
    at = now + (opts.bootstrapUs ?? BOOTSTRAP_DELAY_US) + Math.round(us(c.warmup) * r);
  }
  return { up: startsUp(c), hasRun: false, wait: { kind: 'first', at }, retries: 0, urlIndex: 0, successes: 0, failures: 0 };
}

function urlCount(c: Checker): number {
  return isHttp(c) ? c.urls.length : 0;
}

/** When the next attempt is due and, for HTTP/SSL, which url it checks (against the current configuration `c`). */
export function nextAttempt(s: CheckState, c: Checker): Attempt {
  const w = s.wait;
  let at: number;
  switch (w.kind) {
    case 'first':
      at = w.at;
      break;
    case 'now':
      at = w.notBefore;
      break;
    case 'loop':
      at = Math.max(w.from + us(c.delayLoop), w.notBefore);
      break;
    case 'retry':
      at = Math.max(w.from + us(c.delayBeforeRetry), w.notBefore);
      break;
    case 'failedUrl':
      at = Math.max(w.from + us(Math.max(c.delayBeforeRetry, c.delayLoop)), w.notBefore);
      break;
  }
  const n = urlCount(c);
  return n > 0 ? { at, urlIndex: currentUrl(s, n) } : { at };
}

function currentUrl(s: CheckState, n: number): number {
  if (s.failedUrl !== undefined && s.failedUrl < n) return s.failedUrl;
  return s.urlIndex < n ? s.urlIndex : 0;
}

/**
 * Applies one attempt's result. `now` is when the attempt ended (µs); `startedAt`
 * when it began (default: now − latency), which MISC_CHECK schedules from.
 */
export function onAttempt(s: CheckState, c: Checker, r: CheckResult, now: number, startedAt?: number): Step {
  const start = startedAt ?? now - Math.round(r.latencyMs * 1000);
  const misc = c.type === 'MISC_CHECK';
  const wait = (kind: 'loop' | 'retry' | 'failedUrl' | 'now'): Wait => ({
    kind,
    from: misc ? start : now,
    notBefore: misc ? now + 1 : now,
  });
  const n = urlCount(c);
  const url = n > 0 ? currentUrl(s, n) : undefined;
  const last: LastResult = { ok: r.ok, reason: r.reason, latencyMs: r.latencyMs, at: now };
  if (r.status !== undefined) last.status = r.status;
  if (url !== undefined) last.urlIndex = url;
  const st: CheckState = { ...s, last };
  const rise = atLeastOne(c.rise);
  const fall = atLeastOne(c.fall);

  if (r.ok) {
    st.retries = 0;
    st.failures = 0;
    // Reported weights count only for MISC_CHECK with misc_dynamic and for FILE_CHECK.
    if (c.type === 'MISC_CHECK' && c.dynamic) {
      if (r.weight === undefined) delete st.weight;
      else st.weight = r.weight;
    } else if (c.type === 'FILE_CHECK') {
      if (r.weightDelta === undefined) delete st.weightDelta;
      else st.weightDelta = r.weightDelta;
    }
    if (url !== undefined) {
      if (s.failedUrl !== undefined) {
        // keepalived: the failed url answered again; check every url from the first.
        delete st.failedUrl;
        st.urlIndex = 0;
        return { state: { ...st, wait: wait(fast(c, st) ? 'now' : 'loop') }, outcome: 'progress' };
      }
      if (url + 1 < n) {
        st.urlIndex = url + 1;
        return { state: { ...st, wait: wait(fast(c, st) ? 'now' : 'loop') }, outcome: 'progress' };
      }
      st.urlIndex = 0;
    }
    st.successes = s.successes + 1;
    st.hasRun = true;
    st.wait = wait('loop');
    if (!s.up && st.successes >= rise) {
      st.up = true;
      return { state: st, change: 'up', outcome: 'ok' };
    }
    return { state: st, outcome: 'ok' };
  }

  // keepalived retries only a checker known UP (has_run && is_up); SMTP_CHECK always.
  const mayRetry = c.type === 'SMTP_CHECK' || (s.up && s.hasRun);
  if (mayRetry && s.retries < retryOf(c)) {
    st.retries = s.retries + 1;
    st.wait = wait('retry');
    return { state: st, outcome: 'retry' };
  }
  st.retries = 0;
  st.successes = 0;
  st.failures = s.failures + 1;
  st.hasRun = true;
  if (url !== undefined) {
    st.failedUrl = url;
    st.urlIndex = url;
    st.wait = wait('failedUrl');
  } else {
    st.wait = wait('loop');
  }
  if (s.up && st.failures >= fall) {
    st.up = false;
    // keepalived check_misc.c: a failed checker's dynamic weight is dropped.
    delete st.weight;
    delete st.weightDelta;
    return { state: st, change: 'down', outcome: 'failed' };
  }
  return { state: st, outcome: 'failed' };
}

/** keepalived check_http.c: with fast_recovery, the next url follows at once while the checker is not known UP. */
function fast(c: Checker, s: CheckState): boolean {
  return isHttp(c) && c.fastRecovery && (!s.hasRun || (!s.up && s.failedUrl === undefined));
}
