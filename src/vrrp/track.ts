// Tracking, as pure logic: vrrp_script results with rise/fall, and the effective
// priority and FAULT state an instance derives from its tracked scripts,
// interfaces and files (keepalived vrrp_track.c / vrrp_scheduler.c semantics).

/** A vrrp_script's counter: good when result ≥ rise (keepalived's encoding). */
export interface ScriptState {
  rise: number;
  fall: number;
  result: number;
  /** No result yet: the first one decides in either direction. */
  init: boolean;
}

export function newScriptState(rise: number, fall: number, initFail: boolean): ScriptState {
  // keepalived: one success is enough at start, unless init_fail says "assume failed".
  return { rise, fall, result: initFail ? 0 : rise - 1, init: !initFail };
}

export function scriptGood(s: ScriptState): boolean {
  return s.result >= s.rise;
}

/** The state after one run; `changed` when the script went good or bad (or gave its first verdict). */
export function scriptResult(s: ScriptState, success: boolean): { state: ScriptState; changed: boolean } {
  const top = s.rise + s.fall - 1;
  let result = s.result;
  let changed = false;
  if (success) {
    if (result < s.rise - 1) result++;
    else if (result !== top) {
      changed = result < s.rise; // was bad (or init): now good
      result = top;
    }
  } else if (result > s.rise) result--;
  else {
    changed = result === s.rise || s.init; // was good (or init): now bad
    result = 0;
  }
  return { state: { ...s, result, init: false }, changed };
}

/** One tracked object as the instance sees it. */
export interface Tracked {
  /** Tracking weight (script's own, or overridden in track_script); 0 means FAULT on failure. */
  weight: number;
  reverse: boolean;
  /** undefined: no verdict yet (a script that has not run). */
  ok: boolean | undefined;
  /** track_file: the file's value times the weight, instead of ok. */
  fileValue?: number;
}

export interface EffectivePriority {
  priority: number;
  /** A weight-0 tracked object is failing (or a weighted file reads the fault value). */
  fault: boolean;
  /** A weight-0 script has not reported yet: the instance stays in INIT. */
  waiting: boolean;
}

/**
 * keepalived: total = base + Σ(weight > 0 and OK: +weight; weight < 0 and failing:
 * +weight), each negated by `reverse`; clamped to 1..254. An address owner
 * (base 255) keeps 255 whatever it tracks.
 */
export function effectivePriority(base: number, tracked: Tracked[]): EffectivePriority {
  let total = base;
  let fault = false;
  let waiting = false;
  for (const t of tracked) {
    if (t.fileValue !== undefined) {
      // track_file (keepalived.conf(5) "Track files"): with weight 0 a non-zero value
      // is a failure; otherwise value × weight is added, and below -253 means FAULT.
      if (t.weight === 0) fault ||= t.fileValue !== 0;
      else {
        const v = t.fileValue * t.weight * (t.reverse ? -1 : 1);
        if (v < -253) fault = true;
        else total += v;
      }
      continue;
    }
    if (t.ok === undefined) {
      if (t.weight === 0) waiting = true;
      continue;
    }
    if (t.weight === 0) {
      // reverse flips the condition: a reversed weight-0 object faults while it is OK.
      fault ||= t.reverse ? t.ok : !t.ok;
      continue;
    }
    // reverse negates the adjustment (keepalived's weight multiplier -1).
    const c = (t.weight > 0 && t.ok) || (t.weight < 0 && !t.ok) ? t.weight : 0;
    total += t.reverse ? -c : c;
  }
  if (base === 255) return { priority: 255, fault, waiting };
  return { priority: Math.min(254, Math.max(1, total)), fault, waiting };
}
