// Draining on a fake clock: weight 0 first, removal when connections reach 0 or at the timeout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Drainer } from '../../src/dataplane/drain.js';
import type { DesiredService } from '../../src/dataplane/types.js';
import { newVirtualServer } from '../../src/model/construct.js';

const vs = newVirtualServer({ kind: 'ip', address: '10.0.0.100', family: 4, port: 80 });
const dest = (a: string) => ({ address: a, family: 4 as const, port: 80, weight: 1, forwarding: { kind: 'NAT' as const }, key: `[${a}]:80` });
const svc = (...as: string[]): DesiredService[] => [{ vsKey: 'tcp:[10.0.0.100]:80', vs, dests: as.map(dest) }];
const act = (n: number) => new Map([['tcp:[10.0.0.100]:80', new Map([['[10.0.0.22]:80', n]])]]);

describe('Drainer', () => {
  it('a removed destination stays at weight 0 while it has connections, then goes', () => {
    const d = new Drainer(60_000);
    d.step(svc('10.0.0.21', '10.0.0.22'), 0);
    let s = d.step(svc('10.0.0.21'), 1000, act(3));
    assert.deepEqual(s.effective[0]!.dests.map((x) => [x.address, x.weight]), [['10.0.0.21', 1], ['10.0.0.22', 0]]);
    assert.equal(s.draining.length, 1);
    s = d.step(svc('10.0.0.21'), 2000, act(1));
    assert.equal(s.effective[0]!.dests.length, 2);
    s = d.step(svc('10.0.0.21'), 3000, act(0));
    assert.deepEqual(s.effective[0]!.dests.map((x) => x.address), ['10.0.0.21']);
    assert.deepEqual(s.finished.map((f) => f.reason), ['drained']);
  });

  it('the timeout ends a drain whose connections never close (or cannot be counted)', () => {
    const d = new Drainer(10_000);
    d.step(svc('10.0.0.21', '10.0.0.22'), 0);
    assert.equal(d.step(svc('10.0.0.21'), 5_000).effective[0]!.dests.length, 2);
    const s = d.step(svc('10.0.0.21'), 15_000, act(7));
    assert.equal(s.effective[0]!.dests.length, 1);
    assert.deepEqual(s.finished.map((f) => f.reason), ['timeout']);
  });

  it('a destination that comes back stops draining with its weight', () => {
    const d = new Drainer(10_000);
    d.step(svc('10.0.0.21', '10.0.0.22'), 0);
    d.step(svc('10.0.0.21'), 1, act(2));
    const s = d.step(svc('10.0.0.21', '10.0.0.22'), 2, act(2));
    assert.deepEqual(s.effective[0]!.dests.map((x) => x.weight), [1, 1]);
    assert.deepEqual(s.finished.map((f) => f.reason), ['returned']);
  });

  it('a removed service keeps its draining destinations until they finish', () => {
    const d = new Drainer(10_000);
    d.step(svc('10.0.0.22'), 0);
    let s = d.step([], 1, act(1));
    assert.equal(s.effective.length, 1);
    assert.deepEqual(s.effective[0]!.dests.map((x) => x.weight), [0]);
    s = d.step([], 2, act(0));
    assert.equal(s.effective.length, 0);
  });
});
