// State machine tests on a fake clock (µs): one test per rule of RFC 5798 §6.4
// / RFC 3768 §6.4 and of keepalived 2.2's timing (vrrp.c, vrrp_scheduler.c,
// vrrp_track.c), with the worked numbers of docs/keepalived-semantics.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fsmConfigFromInstance,
  initFsm,
  masterDownUs,
  nextDeadline,
  skewUs,
  step,
  type VrrpAction,
  type VrrpEvent,
  type VrrpFsmConfig,
  type VrrpFsmState,
} from '../../src/vrrp/fsm.js';
import type { VrrpInstance } from '../../src/model/types.js';
import { instance, LOCAL, MS, S } from './helpers.js';

const HIGHER = '192.168.2.200';
const LOWER = '192.168.2.2';

function fsm(over: Partial<VrrpInstance> = {}, cfgOver: Partial<VrrpFsmConfig> = {}): VrrpFsmState {
  return initFsm({ ...fsmConfigFromInstance(instance(over), LOCAL), ...cfgOver });
}

/** Runs events in order, returning the final state and every action with the time it was emitted. */
function run(s0: VrrpFsmState, evs: [number, VrrpEvent][]): { s: VrrpFsmState; log: [number, VrrpAction][] } {
  let s = s0;
  const log: [number, VrrpAction][] = [];
  for (const [t, ev] of evs) {
    const r = step(s, ev, t);
    s = r.state;
    for (const a of r.actions) log.push([t, a]);
  }
  return { s, log };
}

/** Fires timers as the runtime would, until `until` (µs); returns the state and actions. */
function advance(s0: VrrpFsmState, from: number, until: number): { s: VrrpFsmState; log: [number, VrrpAction][] } {
  let s = s0;
  const log: [number, VrrpAction][] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const d = nextDeadline(s);
    if (!d || d.at > until || d.at < from) break;
    const r = step(s, { type: 'timer', kind: d.kind }, d.at);
    s = r.state;
    for (const a of r.actions) log.push([d.at, a]);
  }
  return { s, log };
}

const types = (log: [number, VrrpAction][]): string[] => log.map(([, a]) => a.type + ('state' in a ? `:${a.state}` : '') + ('priority' in a && a.type === 'sendAdvert' ? `:${a.priority}` : ''));
const advert = (priority: number, src: string, intervalCs = 100): VrrpEvent => ({ type: 'advert', priority, intervalCs, src });
const started = (s: VrrpFsmState, t = 0): VrrpFsmState => step(s, { type: 'startup' }, t).state;

describe('vrrp fsm: startup', () => {
  it('owner (priority 255) goes MASTER at startup, advert first, then VIPs', () => {
    const r = step(fsm({ priority: 255, state: 'MASTER' }), { type: 'startup' }, 5 * S);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(r.actions.map((a) => a.type), ['sendAdvert', 'becomeMaster', 'notify']);
    assert.deepEqual(r.actions[0], { type: 'sendAdvert', priority: 255, intervalCs: 100 });
    assert.deepEqual(nextDeadline(r.state), { at: 6 * S, kind: 'advert' });
  });

  it('state MASTER with priority < 255 starts in BACKUP and takes over after master_down (keepalived vrrp_init_state)', () => {
    const r = step(fsm({ state: 'MASTER', priority: 100 }), { type: 'startup' }, 0);
    assert.equal(r.state.state, 'BACKUP');
    assert.deepEqual(r.actions.map((a) => a.type), ['becomeBackup', 'notify']);
    assert.equal(r.state.masterDownAt, 3 * S + 609_375);
    const { s } = advance(r.state, 0, 10 * S);
    assert.equal(s.state, 'MASTER');
  });

  it('BACKUP waits master_down: v2, 1 s, P=99 → 3.613281 s, then MASTER', () => {
    const s = started(fsm({ priority: 99 }));
    assert.equal(s.state, 'BACKUP');
    assert.deepEqual(nextDeadline(s), { at: 3_613_281, kind: 'masterDown' });
    assert.equal(step(s, { type: 'timer' }, 3_613_280).state, s, 'one µs early: nothing');
    const r = step(s, { type: 'timer', kind: 'masterDown' }, 3_613_281);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(types(r.actions.map((a) => [0, a])), ['sendAdvert:99', 'becomeMaster', 'notify:MASTER']);
    assert.deepEqual(r.actions[1], { type: 'becomeMaster', reason: 'masterNoResponse' });
  });

  it('v3, 0.1 s, P=100 → master_down 0.360937 s', () => {
    const s = started(fsm({ version: 3, advertInt: 0.1 }));
    assert.equal(s.masterDownAt, 360_937);
  });

  it('holding every VIP at startup (a crashed run left them): MASTER at once, advert first; not with nopreempt or preempt_delay', () => {
    const r = step(fsm({ priority: 100 }), { type: 'startup', holdsVips: true }, 2 * S);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(types(r.actions.map((a) => [0, a])), ['log', 'sendAdvert:100', 'becomeMaster', 'notify:MASTER']);
    assert.deepEqual(nextDeadline(r.state), { at: 3 * S, kind: 'advert' });
    assert.equal(step(fsm({ nopreempt: true }), { type: 'startup', holdsVips: true }, 0).state.state, 'BACKUP');
    assert.equal(step(fsm({ preemptDelay: 5 }), { type: 'startup', holdsVips: true }, 0).state.state, 'BACKUP');
    const faulted = step(fsm(), { type: 'fault', on: true }, 0).state;
    assert.equal(step(faulted, { type: 'startup', holdsVips: true }, 0).state.state, 'FAULT', 'a faulted instance never resumes');
  });

  it('fault before startup: starts in FAULT; unfault then → BACKUP', () => {
    let s = fsm();
    s = step(s, { type: 'fault', on: true }, 0).state;
    const r = step(s, { type: 'startup' }, 0);
    assert.equal(r.state.state, 'FAULT');
    assert.deepEqual(r.actions.map((a) => a.type), ['becomeFault', 'notify']);
    assert.equal(nextDeadline(r.state), undefined);
    assert.equal(step(r.state, { type: 'fault', on: false }, S).state.state, 'BACKUP');
  });
});

describe('vrrp fsm: skew (v2 vs v3)', () => {
  it('v2 skew is (256 − P)/256 s whatever advert_int; v3 scales with the interval', () => {
    assert.equal(skewUs(fsm({ priority: 100, advertInt: 1 })), 609_375);
    assert.equal(skewUs(fsm({ priority: 100, advertInt: 5 })), 609_375);
    assert.equal(masterDownUs(fsm({ priority: 100, advertInt: 5 })), 15_609_375);
    assert.equal(skewUs(fsm({ version: 3, priority: 100, advertInt: 1 })), 609_375);
    assert.equal(skewUs(fsm({ version: 3, priority: 100, advertInt: 0.1 })), 60_937);
    assert.equal(skewUs(fsm({ version: 3, priority: 255, advertInt: 0.01 })), 39);
  });
});

describe('vrrp fsm: BACKUP', () => {
  it('a higher-priority advert resets master_down', () => {
    const { s } = run(fsm(), [[0, { type: 'startup' }], [2 * S, advert(150, HIGHER)]]);
    assert.equal(s.state, 'BACKUP');
    assert.equal(s.masterDownAt, 2 * S + 3_609_375);
    assert.equal(s.masterAddr, HIGHER);
  });

  it('an equal-priority advert is accepted whatever its address (RFC 5798 §6.4.2: greater than or equal)', () => {
    const { s } = run(fsm(), [[0, { type: 'startup' }], [2 * S, advert(100, LOWER)]]);
    assert.equal(s.masterDownAt, 2 * S + 3_609_375);
  });

  it('with preempt, a lower-priority advert is ignored and does NOT reset the timer: we take over at master_down', () => {
    const { s, log } = run(fsm({ priority: 100 }), [
      [0, { type: 'startup' }],
      [1 * S, advert(50, HIGHER)],
      [2 * S, advert(50, HIGHER)],
      [3 * S, advert(50, HIGHER)],
    ]);
    assert.equal(s.state, 'BACKUP');
    assert.equal(s.masterDownAt, 3_609_375, 'still the startup deadline');
    assert.ok(log.some(([, a]) => a.type === 'log'));
    assert.equal(advance(s, 3 * S, 3_609_375).s.state, 'MASTER');
  });

  it('with nopreempt, a lower-priority advert resets the timer (the lower master is accepted)', () => {
    const { s } = run(fsm({ nopreempt: true }), [[0, { type: 'startup' }], [3 * S, advert(50, HIGHER)]]);
    assert.equal(s.masterDownAt, 3 * S + 3_609_375);
    assert.equal(s.masterPriority, 50);
  });

  it('nopreempt does not stop the takeover when the master falls silent', () => {
    const s = started(fsm({ nopreempt: true }));
    assert.equal(advance(s, 0, 4 * S).s.state, 'MASTER');
  });

  it('preempt_delay: lower adverts hold us back until the delay has passed, then we take over at master_down', () => {
    const s0 = started(fsm({ preemptDelay: 10 }));
    let s = s0;
    // The lower master advertises every second; the first one starts the 10 s delay.
    for (let t = 1; t <= 13; t++) {
      s = step(s, advert(50, HIGHER), t * S).state;
      if (t <= 10) assert.equal(s.masterDownAt, t * S + 3_609_375, `t=${t}: accepted while the delay runs`);
      assert.equal(s.state, 'BACKUP');
    }
    assert.equal(s.preemptAt, 11 * S);
    // From t = 11 s the adverts are ignored: the deadline stays at the last accepted one + master_down.
    assert.equal(s.masterDownAt, 10 * S + 3_609_375);
    const r = advance(s, 13 * S, 14 * S);
    assert.equal(r.s.state, 'MASTER');
    assert.equal(r.log[0]?.[0], 13_609_375);
  });

  it('preempt_delay: a higher-priority advert cancels the running delay', () => {
    const { s } = run(fsm({ preemptDelay: 10 }), [[0, { type: 'startup' }], [S, advert(50, HIGHER)], [2 * S, advert(150, HIGHER)]]);
    assert.equal(s.preemptAt, undefined);
  });

  it('a priority-0 advert sets master_down to the skew only', () => {
    const { s } = run(fsm({ priority: 99 }), [[0, { type: 'startup' }], [2 * S, advert(150, HIGHER)], [2.5 * S, advert(0, HIGHER)]]);
    assert.equal(s.masterDownAt, 2.5 * S + 613_281);
    const r = advance(s, 2.5 * S, 4 * S);
    assert.equal(r.s.state, 'MASTER');
    assert.equal(r.s.masterReason, 'priority');
  });

  it('v3 backups adopt the master advertised interval for master_down', () => {
    const { s } = run(fsm({ version: 3, advertInt: 1, priority: 100 }), [[0, { type: 'startup' }], [S, advert(150, HIGHER, 10)]]);
    assert.equal(s.masterAdverIntCs, 10);
    assert.equal(s.masterDownAt, S + 300_000 + 60_937);
  });

  it('v2 never adopts an interval', () => {
    const { s } = run(fsm(), [[0, { type: 'startup' }], [S, advert(150, HIGHER, 300)]]);
    assert.equal(s.masterAdverIntCs, 100);
  });

  it('a tracked priority change recomputes the skew and moves the pending deadline', () => {
    const s = started(fsm({ priority: 100 }));
    const r = step(s, { type: 'priorityChange', effective: 50 }, S);
    assert.equal(r.state.effectivePriority, 50);
    assert.equal(r.state.masterDownAt, 3 * S + 804_687, 'skew (256-50)/256 s');
    assert.deepEqual(r.actions, [{ type: 'priorityChanged', priority: 50 }]);
  });

  it('tracked priorities are clamped to 1–254; the owner ignores tracking', () => {
    const s = started(fsm());
    assert.equal(step(s, { type: 'priorityChange', effective: 300 }, 0).state.effectivePriority, 254);
    assert.equal(step(s, { type: 'priorityChange', effective: -20 }, 0).state.effectivePriority, 1);
    assert.equal(step(s, { type: 'priorityChange', effective: 100 }, 0).actions.length, 0);
    const owner = started(fsm({ priority: 255 }));
    assert.equal(step(owner, { type: 'priorityChange', effective: 10 }, 0).state, owner);
  });
});

describe('vrrp fsm: MASTER', () => {
  const master = (over: Partial<VrrpInstance> = {}): VrrpFsmState => started(fsm({ priority: 255, ...over }));

  it('sends an advert every advert_int', () => {
    const s = advance(started(fsm()), 0, 4 * S).s; // becomes master at 3.609375 s
    const { log } = advance(s, 3 * S, 8 * S);
    assert.deepEqual(log.map(([t]) => t), [4_609_375, 5_609_375, 6_609_375, 7_609_375]);
  });

  it('a higher-priority advert → BACKUP (leave master first); keepalived without higher_prio_send_advert sends nothing', () => {
    const s = advance(started(fsm({}, { higherPrioSendAdvert: false })), 0, 4 * S).s;
    const r = step(s, advert(150, HIGHER), 5 * S);
    assert.equal(r.state.state, 'BACKUP');
    assert.deepEqual(types(r.actions.map((a) => [0, a])), ['leaveMaster', 'becomeBackup', 'notify:BACKUP']);
    assert.equal(r.state.masterDownAt, 5 * S + 3_609_375);
  });

  it('equal priority: the higher source address wins, the lower one loses (RFC 5798 §6.4.3)', () => {
    const s = advance(started(fsm()), 0, 4 * S).s;
    assert.equal(step(s, advert(100, HIGHER), 5 * S).state.state, 'BACKUP');
    const r = step(s, advert(100, LOWER), 5 * S);
    assert.equal(r.state.state, 'MASTER');
    assert.equal(r.actions[0]?.type, 'sendAdvert');
  });

  it('a lower-priority advert → advert at once, stay MASTER (keepalived); lower_prio_no_advert stays quiet', () => {
    const s = advance(started(fsm()), 0, 4 * S).s;
    const r = step(s, advert(50, LOWER), 5 * S);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(r.actions, [
      { type: 'sendAdvert', priority: 100, intervalCs: 100 },
      { type: 'masterRxLowerPri', priority: 50, src: LOWER },
    ]);
    assert.equal(r.state.nextAdvertAt, 6 * S, 'adver timer re-armed after the advert');
    const quiet = advance(started(fsm({ lowerPrioNoAdvert: true })), 0, 4 * S).s;
    const q = step(quiet, advert(50, LOWER), 5 * S);
    assert.deepEqual(q.actions.map((a) => a.type), ['masterRxLowerPri']);
    assert.equal(q.state.nextAdvertAt, quiet.nextAdvertAt);
  });

  it('a priority-0 advert → advert at once, stay MASTER (RFC 5798 §6.4.3)', () => {
    const s = master();
    const r = step(s, advert(0, HIGHER), 100 * MS);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(r.actions, [{ type: 'sendAdvert', priority: 255, intervalCs: 100 }]);
    assert.equal(r.state.nextAdvertAt, 1100 * MS);
  });

  it('haldir always sends one advert before yielding (higher_prio_send_advert), so the winner of a split brain re-announces', () => {
    assert.equal(fsm({ higherPrioSendAdvert: false }).cfg.higherPrioSendAdvert, true, 'on whatever the configuration says');
    const s = advance(started(fsm()), 0, 4 * S).s;
    assert.deepEqual(types(step(s, advert(150, HIGHER), 5 * S).actions.map((a) => [0, a])), ['sendAdvert:100', 'leaveMaster', 'becomeBackup', 'notify:BACKUP']);
  });

  it('v3: yielding to a master adopts its interval for master_down', () => {
    const s = master({ version: 3, priority: 200, advertInt: 1 });
    const r = step(s, advert(250, HIGHER, 10), S);
    assert.equal(r.state.masterDownAt, S + 300_000 + Math.floor((56 * 10 * 625) / 16));
  });

  it('shutdown as MASTER → priority-0 advert, leave master, then STOP', () => {
    const r = step(master(), { type: 'shutdown' }, S);
    assert.equal(r.state.state, 'STOP');
    assert.deepEqual(types(r.actions.map((a) => [0, a])), ['sendAdvert:0', 'leaveMaster', 'notify:STOP']);
    assert.equal(nextDeadline(r.state), undefined);
    assert.equal(step(r.state, { type: 'startup' }, 2 * S).state, r.state, 'STOP is final');
  });

  it('shutdown as BACKUP sends nothing', () => {
    assert.deepEqual(step(started(fsm()), { type: 'shutdown' }, S).actions, [{ type: 'notify', state: 'STOP' }]);
  });

  it('fault as MASTER → priority-0 advert, leave master, FAULT; unfault → BACKUP', () => {
    const s = advance(started(fsm()), 0, 4 * S).s;
    const f = step(s, { type: 'fault', on: true }, 5 * S);
    assert.equal(f.state.state, 'FAULT');
    assert.deepEqual(types(f.actions.map((a) => [0, a])), ['sendAdvert:0', 'leaveMaster', 'becomeFault', 'notify:FAULT']);
    assert.equal(step(f.state, advert(50, HIGHER), 6 * S).state, f.state, 'adverts ignored in FAULT');
    assert.equal(step(f.state, { type: 'fault', on: true }, 6 * S).state, f.state, 'repeated fault: no-op');
    const u = step(f.state, { type: 'fault', on: false }, 7 * S);
    assert.equal(u.state.state, 'BACKUP');
    assert.equal(u.state.masterDownAt, 7 * S + 3_609_375);
  });

  it('unfault of the address owner → MASTER at once', () => {
    const f = step(master(), { type: 'fault', on: true }, S).state;
    const u = step(f, { type: 'fault', on: false }, 2 * S);
    assert.equal(u.state.state, 'MASTER');
    assert.deepEqual(u.actions.map((a) => a.type), ['sendAdvert', 'becomeMaster', 'notify']);
  });

  it('a tracked priority change as MASTER is carried by the next advert', () => {
    const s = advance(started(fsm()), 0, 4 * S).s;
    const p = step(s, { type: 'priorityChange', effective: 90 }, 4 * S).state;
    const { log } = advance(p, 4 * S, 5 * S);
    assert.deepEqual(log.map(([, a]) => a), [{ type: 'sendAdvert', priority: 90, intervalCs: 100 }]);
  });
});

describe('vrrp fsm: config from the model', () => {
  it('state MASTER clears nopreempt and preempt_delay (keepalived vrrp_complete_instance)', () => {
    const c = fsmConfigFromInstance(instance({ state: 'MASTER', nopreempt: true, preemptDelay: 5 }));
    assert.equal(c.nopreempt, false);
    assert.equal(c.preemptDelayUs, 0);
    const b = fsmConfigFromInstance(instance({ nopreempt: true, preemptDelay: 5 }));
    assert.equal(b.nopreempt, true);
    assert.equal(b.preemptDelayUs, 5 * S);
  });

  it('the tie-break address is unicast_src_ip, else mcast_src_ip, else the interface address', () => {
    assert.equal(fsmConfigFromInstance(instance({ unicastSrcIp: '10.0.0.1' }), LOCAL).localAddress, '10.0.0.1');
    assert.equal(fsmConfigFromInstance(instance({ mcastSrcIp: '10.0.0.2' }), LOCAL).localAddress, '10.0.0.2');
    assert.equal(fsmConfigFromInstance(instance(), LOCAL).localAddress, LOCAL);
  });

  it('advert intervals: v2 whole seconds, v3 centiseconds', () => {
    assert.equal(fsmConfigFromInstance(instance({ advertInt: 3 })).advertIntCs, 300);
    assert.equal(fsmConfigFromInstance(instance({ version: 3, advertInt: 0.35 })).advertIntCs, 35);
    assert.equal(fsmConfigFromInstance(instance({ version: 3, advertInt: 40.95 })).advertIntCs, 4095);
  });
});

describe('vrrp_sync_group', () => {
  it('a BACKUP member follows another member to MASTER, and back', async () => {
    const { initFsm, step } = await import('../../src/vrrp/fsm.js');
    let s = initFsm({ version: 2, family: 4, priority: 100, advertIntCs: 100, downTimerAdverts: 3, nopreempt: false, preemptDelayUs: 0, lowerPrioNoAdvert: false, higherPrioSendAdvert: false });
    s = step(s, { type: 'startup' }, 0).state;
    assert.equal(s.state, 'BACKUP');
    const up = step(s, { type: 'sync', state: 'MASTER' }, 1000);
    assert.equal(up.state.state, 'MASTER');
    assert.ok(up.actions.some((a) => a.type === 'becomeMaster'));
    const down = step(up.state, { type: 'sync', state: 'BACKUP' }, 2000);
    assert.equal(down.state.state, 'BACKUP');
    assert.deepEqual(down.actions.map((a) => a.type).slice(0, 1), ['leaveMaster']);
  });
});
