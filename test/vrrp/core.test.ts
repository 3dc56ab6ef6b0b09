// The composed core the runtime drives: onPacket (decode → validate → step),
// onTimer, counters from actions, and the bytes of our own adverts — ending
// with two simulated directors electing a master over a fake wire and
// failing over with keepalived's timing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VrrpInstance } from '../../src/model/types.js';
import {
  addStats,
  countActions,
  decode,
  encodeAdvert,
  initFsm,
  instanceCtx,
  nextDeadline,
  onPacket,
  onTimer,
  step,
  zeroStats,
  type VrrpFsmState,
  type VrrpInstanceCtx,
} from '../../src/vrrp/index.js';
import { instance, MCAST4, S } from './helpers.js';

const LB1 = '192.168.2.11';
const LB2 = '192.168.2.12';

function node(addr: string, over: Partial<VrrpInstance>): { ctx: VrrpInstanceCtx; s: VrrpFsmState } {
  const ctx = instanceCtx(instance({ auth: { type: 'PASS', pass: 'secret12345' }, ...over }), { localAddress: addr });
  return { ctx, s: initFsm(ctx.fsm) };
}

describe('vrrp core: onPacket', () => {
  it('an accepted advert steps the machine; the counters come back', () => {
    const a = node(LB1, { priority: 100 });
    const b = node(LB2, { priority: 150 });
    const s = step(a.s, { type: 'startup' }, 0).state;
    const raw = encodeAdvert(b.ctx, { priority: 150, intervalCs: 100 }, LB2, MCAST4);
    const r = onPacket(s, a.ctx, raw, { src: LB2, dst: MCAST4, ttl: 255 }, 2 * S);
    assert.equal(r.rx.accept, true);
    assert.equal(r.state.masterDownAt, 2 * S + 3_609_375);
    assert.equal(r.state.masterAddr, LB2);
    assert.deepEqual(r.stats, { vrrpv3StatisticsRcvdAdvertisements: 1 });
  });

  it('a rejected packet returns the very same state and no actions', () => {
    const a = node(LB1, {});
    const s = step(a.s, { type: 'startup' }, 0).state;
    const raw = encodeAdvert(node(LB2, { auth: { type: 'PASS', pass: 'other' } }).ctx, { priority: 200, intervalCs: 100 }, LB2, MCAST4);
    const r = onPacket(s, a.ctx, raw, { src: LB2, dst: MCAST4, ttl: 255 }, S);
    assert.equal(r.state, s);
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.stats, { vrrpStatsAuthFailures: 1 });
  });

  it('packets are not looked at in INIT, FAULT and STOP', () => {
    const a = node(LB1, {});
    const raw = encodeAdvert(a.ctx, { priority: 200, intervalCs: 100 }, LB2, MCAST4);
    for (const s of [a.s, step(step(a.s, { type: 'fault', on: true }, 0).state, { type: 'startup' }, 0).state, step(a.s, { type: 'shutdown' }, 0).state]) {
      const r = onPacket(s, a.ctx, raw, { src: LB2, dst: MCAST4, ttl: 255 }, S);
      assert.equal(r.state, s);
      assert.equal(r.rx.reason, 'notListening');
      assert.deepEqual(r.stats, {});
    }
  });

  it('onTimer fires only at the deadline; becomeMaster and priority-0 adverts are counted', () => {
    const a = node(LB1, {});
    const s = step(a.s, { type: 'startup' }, 0).state;
    assert.equal(onTimer(s, 3 * S).state, s);
    const m = onTimer(s, 3_609_375);
    assert.equal(m.state.state, 'MASTER');
    assert.deepEqual(m.stats, { vrrpv3StatisticsMasterTransitions: 1, advertsSent: 1 });
    const stop = step(m.state, { type: 'shutdown' }, 4 * S);
    assert.deepEqual(countActions(stop.actions), { advertsSent: 1, vrrpv3StatisticsSentPriZeroPackets: 1 });
  });

  it('our adverts decode to what keepalived would send: v2 PASS truncated to 8 bytes, VIPs, interval', () => {
    const a = node(LB1, { priority: 100 });
    const d = decode(encodeAdvert(a.ctx, { priority: 100, intervalCs: 100 }, LB1, MCAST4), 4);
    assert.ok(d.ok);
    assert.deepEqual(d.packet, {
      version: 2, type: 1, vrid: 51, priority: 100, authType: 1, advertIntSec: 1, addresses: ['192.168.2.100'],
      authData: Uint8Array.from([...'secret12'].map((c) => c.charCodeAt(0))),
    });
  });
});

describe('vrrp core: two directors on a fake wire', () => {
  /** Runs both nodes with a shared clock; `deliver(t)` says whether the wire works at t. */
  function simulate(v: Partial<VrrpInstance>, until: number, deliver: (t: number, from: string) => boolean) {
    const nodes = [
      { addr: LB1, ...node(LB1, { priority: 100, ...v }), stats: zeroStats(), history: [] as [number, string][] },
      { addr: LB2, ...node(LB2, { priority: 99, ...v }), stats: zeroStats(), history: [] as [number, string][] },
    ];
    const lastAdvert: Record<string, number> = {};
    for (const n of nodes) {
      const r = step(n.s, { type: 'startup' }, 0);
      n.s = r.state;
      for (const a of r.actions) if (a.type === 'notify') n.history.push([0, a.state]);
    }
    for (let guard = 0; guard < 100_000; guard++) {
      const due = nodes.map((n) => nextDeadline(n.s)?.at ?? Infinity);
      const t = Math.min(...due);
      if (t > until) break;
      const i = due.indexOf(t);
      const n = nodes[i] as (typeof nodes)[number];
      const r = onTimer(n.s, t);
      n.s = r.state;
      n.stats = addStats(n.stats, r.stats);
      for (const a of r.actions) {
        if (a.type === 'notify') n.history.push([t, a.state]);
        if (a.type !== 'sendAdvert' || !deliver(t, n.addr)) continue;
        lastAdvert[n.addr] = t;
        const raw = encodeAdvert(n.ctx, a, n.addr, MCAST4);
        for (const o of nodes) {
          if (o === n) continue;
          const rr = onPacket(o.s, o.ctx, raw, { src: n.addr, dst: MCAST4, ttl: 255 }, t);
          o.s = rr.state;
          o.stats = addStats(o.stats, rr.stats);
          for (const x of rr.actions) if (x.type === 'notify') o.history.push([t, x.state]);
        }
      }
    }
    return { nodes, lastAdvert };
  }

  it('v2: lb1 (100) wins the election, lb2 (99) takes over 3.613281 s after lb1 last advert', () => {
    const cut = 20 * S;
    const { nodes, lastAdvert } = simulate({}, 40 * S, (t, from) => from !== LB1 || t < cut);
    const [lb1, lb2] = nodes;
    assert.deepEqual(lb1?.history, [[0, 'BACKUP'], [3_609_375, 'MASTER']]);
    const lb2Master = lb2?.history.find(([, st]) => st === 'MASTER')?.[0];
    assert.equal(lb2Master, (lastAdvert[LB1] ?? 0) + 3_613_281);
    assert.equal(lb2?.stats.vrrpv3StatisticsRcvdAdvertisements, 17, 'adverts at 3.609375 … 19.609375 s');
    assert.equal(lb2?.stats.vrrpv3StatisticsMasterTransitions, 1);
  });

  it('v3 at 0.1 s: takeover 0.361 s after the last advert', () => {
    const cut = 2 * S;
    const { nodes, lastAdvert } = simulate({ version: 3, advertInt: 0.1, auth: undefined }, 4 * S, (t, from) => from !== LB1 || t < cut);
    const lb2Master = nodes[1]?.history.find(([, st]) => st === 'MASTER')?.[0];
    assert.equal(lb2Master, (lastAdvert[LB1] ?? 0) + 300_000 + 61_328);
  });

  it('graceful stop: the backup takes over after the skew only', () => {
    const a = simulate({}, 10 * S, () => true);
    const [lb1, lb2] = a.nodes;
    assert.equal(lb1?.s.state, 'MASTER');
    const stop = step(lb1?.s as VrrpFsmState, { type: 'shutdown' }, 10 * S);
    const adv = stop.actions.find((x) => x.type === 'sendAdvert');
    assert.deepEqual(adv, { type: 'sendAdvert', priority: 0, intervalCs: 100 });
    const raw = encodeAdvert(lb1?.ctx as VrrpInstanceCtx, { priority: 0, intervalCs: 100 }, LB1, MCAST4);
    const r = onPacket(lb2?.s as VrrpFsmState, lb2?.ctx as VrrpInstanceCtx, raw, { src: LB1, dst: MCAST4, ttl: 255 }, 10 * S);
    assert.equal(r.stats.vrrpv3StatisticsRcvdPriZeroPackets, 1);
    assert.deepEqual(nextDeadline(r.state), { at: 10 * S + 613_281, kind: 'masterDown' });
  });
});
