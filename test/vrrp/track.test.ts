// vrrp_script rise/fall and effective priority, as keepalived computes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePriority, newScriptState, scriptGood, scriptResult, type ScriptState } from '../../src/vrrp/track.js';

function run(s: ScriptState, results: boolean[]): { good: boolean[]; changes: number[] } {
  const good: boolean[] = [];
  const changes: number[] = [];
  results.forEach((r, i) => {
    const x = scriptResult(s, r);
    s = x.state;
    good.push(scriptGood(s));
    if (x.changed) changes.push(i);
  });
  return { good, changes };
}

describe('vrrp_script rise/fall', () => {
  it('one success is enough at start (keepalived result = rise - 1)', () => {
    const r = run(newScriptState(3, 2, false), [true]);
    assert.deepEqual(r, { good: [true], changes: [0] });
  });

  it('init_fail: starts failed and needs rise successes', () => {
    const s = newScriptState(3, 2, true);
    assert.equal(scriptGood(s), false);
    assert.deepEqual(run(s, [true, true, true]), { good: [false, false, true], changes: [2] });
  });

  it('the first failure at start is a verdict', () => {
    assert.deepEqual(run(newScriptState(2, 2, false), [false]), { good: [false], changes: [0] });
  });

  it('fall consecutive failures take a good script down, rise successes bring it back', () => {
    const r = run(newScriptState(2, 3, false), [true, false, false, true, false, false, false, true, true]);
    assert.deepEqual(r.good, [true, true, true, true, true, true, false, false, true]);
    assert.deepEqual(r.changes, [0, 6, 8]);
  });
});

describe('effective priority', () => {
  it('adds a positive weight while OK and a negative weight while failing', () => {
    const p = (ok1: boolean, ok2: boolean) =>
      effectivePriority(100, [
        { weight: 10, reverse: false, ok: ok1 },
        { weight: -20, reverse: false, ok: ok2 },
      ]).priority;
    assert.equal(p(true, true), 110);
    assert.equal(p(false, true), 100);
    assert.equal(p(true, false), 90);
    assert.equal(p(false, false), 80);
  });

  it('reverse negates the adjustment', () => {
    assert.equal(effectivePriority(100, [{ weight: 10, reverse: true, ok: true }]).priority, 90);
    assert.equal(effectivePriority(100, [{ weight: -10, reverse: true, ok: false }]).priority, 110);
  });

  it('weight 0: failure means FAULT; a script without a verdict keeps the instance waiting', () => {
    assert.deepEqual(effectivePriority(100, [{ weight: 0, reverse: false, ok: false }]), { priority: 100, fault: true, waiting: false });
    assert.deepEqual(effectivePriority(100, [{ weight: 0, reverse: true, ok: true }]), { priority: 100, fault: true, waiting: false });
    assert.deepEqual(effectivePriority(100, [{ weight: 0, reverse: false, ok: undefined }]), { priority: 100, fault: false, waiting: true });
  });

  it('clamps to 1..254 and leaves an owner at 255', () => {
    assert.equal(effectivePriority(250, [{ weight: 50, reverse: false, ok: true }]).priority, 254);
    assert.equal(effectivePriority(10, [{ weight: -50, reverse: false, ok: false }]).priority, 1);
    assert.equal(effectivePriority(255, [{ weight: -50, reverse: false, ok: false }]).priority, 255);
  });

  it('track_file adds value × weight; with weight 0 a non-zero value is FAULT', () => {
    assert.equal(effectivePriority(100, [{ weight: -2, reverse: false, ok: undefined, fileValue: 5 }]).priority, 90);
    assert.equal(effectivePriority(100, [{ weight: 0, reverse: false, ok: undefined, fileValue: 1 }]).fault, true);
    assert.equal(effectivePriority(100, [{ weight: 100, reverse: false, ok: undefined, fileValue: -3 }]).fault, true);
  });
});
