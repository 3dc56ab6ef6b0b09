// Planned failover (`haldir failover`): the pure state machine's resign/resume events
// (src/vrrp/fsm.ts) and the runtime on the simulated wire — the master sends priority 0
// (RFC 5798 §6.4.3), the next-highest takes over after its Skew_Time alone, the
// resigned node stays BACKUP instead of preempting back, still takes over if the new
// master dies, and preempts again after resume.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fsmConfigFromInstance, initFsm, skewUs, step, type VrrpAction, type VrrpFsmState } from '../../src/vrrp/fsm.js';
import { loadClusterText } from '../../src/config/cluster/load.js';
import { createLogger } from '../../src/daemon/log.js';
import { defaultGlobals } from '../../src/model/defaults.js';
import type { NodeModel } from '../../src/model/types.js';
import { Notifier } from '../../src/vrrp/notify.js';
import { VrrpRuntime } from '../../src/vrrp/runtime.js';
import { instance, LOCAL, S } from '../vrrp/helpers.js';
import { SimClock, SimNode, SimWire } from '../vrrp/sim.js';

const LOWER = '192.168.2.12';
const types = (a: VrrpAction[]): string[] => a.map((x) => x.type + (x.type === 'sendAdvert' ? `:${x.priority}` : 'state' in x ? `:${x.state}` : ''));

function master(): VrrpFsmState {
  let s = initFsm(fsmConfigFromInstance(instance({ priority: 100 }), LOCAL));
  s = step(s, { type: 'startup' }, 0).state;
  s = step(s, { type: 'timer', kind: 'masterDown' }, 10 * S).state;
  assert.equal(s.state, 'MASTER');
  return s;
}

describe('fsm: resign (planned failover)', () => {
  it('MASTER → priority-0 advert, leave master, BACKUP, resigned', () => {
    const r = step(master(), { type: 'resign' }, 20 * S);
    assert.deepEqual(types(r.actions), ['sendAdvert:0', 'leaveMaster', 'becomeBackup', 'notify:BACKUP']);
    assert.equal(r.state.state, 'BACKUP');
    assert.equal(r.state.resigned, true);
    // A full Master_Down_Timer: if no one takes over, we come back (v2, P=100: 3 + 156/256 s).
    assert.equal(r.state.masterDownAt, 20 * S + 3 * S + Math.round((156 * S) / 256));
  });

  it('resigned: a lower-priority master is accepted (its adverts reset our timer), not preempted', () => {
    let s = step(master(), { type: 'resign' }, 20 * S).state;
    const r = step(s, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, 21 * S);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.masterAddr, LOWER);
    assert.equal(r.state.masterDownAt, 21 * S + 3 * S + Math.round((156 * S) / 256), 'timer reset by the lower advert');
    s = r.state;
    // Every second an advert: we never take over.
    for (let t = 22; t < 40; t++) s = step(s, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, t * S).state;
    assert.equal(step(s, { type: 'timer' }, 40 * S).state.state, 'BACKUP');
  });

  it('without resign, the same lower adverts are ignored and we preempt at master_down', () => {
    let s = master();
    s = step(s, { type: 'advert', priority: 200, intervalCs: 100, src: '192.168.2.200' }, 20 * S).state; // yield to a higher one
    assert.equal(s.state, 'BACKUP');
    const r = step(s, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, 21 * S);
    assert.equal(r.state.masterDownAt, s.masterDownAt, 'a lower advert does not reset the timer');
  });

  it('resigned and the new master falls silent: we take over at master_down, and the resignation ends', () => {
    let s = step(master(), { type: 'resign' }, 20 * S).state;
    s = step(s, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, 21 * S).state;
    const r = step(s, { type: 'timer', kind: 'masterDown' }, s.masterDownAt!);
    assert.equal(r.state.state, 'MASTER');
    assert.equal(r.state.resigned, undefined);
  });

  it('resume: preemption again — the next lower advert no longer resets the timer', () => {
    let s = step(master(), { type: 'resign' }, 20 * S).state;
    s = step(s, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, 21 * S).state;
    const r = step(s, { type: 'resume' }, 21.5 * S);
    assert.equal(r.state.resigned, undefined);
    assert.deepEqual(types(r.actions), ['log']);
    const after = step(r.state, { type: 'advert', priority: 99, intervalCs: 100, src: LOWER }, 22 * S).state;
    assert.equal(after.masterDownAt, r.state.masterDownAt);
    assert.equal(step(after, { type: 'timer' }, after.masterDownAt!).state.state, 'MASTER');
  });

  it('resign as BACKUP only stops preemption; resign in INIT/FAULT and resume when not resigned change nothing', () => {
    let s = initFsm(fsmConfigFromInstance(instance({ priority: 100 }), LOCAL));
    assert.equal(step(s, { type: 'resign' }, 0).state, s);
    s = step(s, { type: 'startup' }, 0).state;
    assert.equal(step(s, { type: 'resume' }, 0).state, s);
    const r = step(s, { type: 'resign' }, 1 * S);
    assert.equal(r.state.state, 'BACKUP');
    assert.equal(r.state.resigned, true);
    assert.deepEqual(r.actions, []);
    const f = step(step(s, { type: 'fault', on: true }, 0).state, { type: 'resign' }, 0);
    assert.equal(f.state.state, 'FAULT');
    assert.equal(f.state.resigned, undefined);
  });

  it('the backups take over after Skew_Time only: the highest first (RFC 5798 §6.4.2)', () => {
    const b = (p: number): VrrpFsmState => step(initFsm(fsmConfigFromInstance(instance({ priority: p }), LOWER)), { type: 'startup' }, 0).state;
    const [b99, b98] = [b(99), b(98)];
    const zero = { type: 'advert' as const, priority: 0, intervalCs: 100, src: LOCAL };
    const at99 = step(b99, zero, 5 * S).state.masterDownAt!;
    const at98 = step(b98, zero, 5 * S).state.masterDownAt!;
    assert.equal(at99 - 5 * S, skewUs(b99));
    assert.ok(at99 < at98);
  });
});

function cluster(): Map<string, NodeModel> {
  const r = loadClusterText(
    `
cluster: t
nodes:
  - { name: lb1, address: 10.0.0.11 }
  - { name: lb2, address: 10.0.0.12 }
  - { name: lb3, address: 10.0.0.13 }
vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    advert_int: 1
    vips: [10.0.0.100/24]
  - name: VI_2
    interface: eth0
    vrid: 52
    advert_int: 1
    vips: [10.0.0.101/24]
sync_groups:
  - { name: G1, members: [VI_1, VI_2] }
`,
    't.yaml',
  );
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  return r.models;
}

function boot(models: Map<string, NodeModel>) {
  const clock = new SimClock();
  const wire = new SimWire(clock);
  const nodes = new Map<string, { sim: SimNode; rt: VrrpRuntime }>();
  let i = 11;
  for (const [name, model] of models) {
    const sim = new SimNode(name, `10.0.0.${i++}`, wire);
    const rt = new VrrpRuntime(model, { io: sim, log: createLogger(() => {}), notifier: new Notifier(defaultGlobals(), () => undefined) });
    nodes.set(name, { sim, rt });
  }
  for (const n of nodes.values()) n.rt.start();
  return { clock, wire, nodes };
}

describe('runtime: resign / resume on the simulated wire (three nodes, a sync group of two instances)', () => {
  const states = (nodes: ReturnType<typeof boot>['nodes']) => Object.fromEntries([...nodes].map(([k, n]) => [k, n.rt.status().map((s) => s.state + (s.resigned ? '*' : '')).join(',')]));

  it('lb1 resigns: both instances send priority 0; lb2 takes over after its skew; lb1 stays BACKUP; resume: lb1 preempts back', async () => {
    const { clock, wire, nodes } = boot(cluster());
    await clock.advance(10 * S);
    assert.deepEqual(states(nodes), { lb1: 'MASTER,MASTER', lb2: 'BACKUP,BACKUP', lb3: 'BACKUP,BACKUP' });
    const t0 = clock.now;
    const out = nodes.get('lb1')!.rt.resign(['VI_1']);
    assert.deepEqual(
      out.map((x) => `${x.instance} ${x.before}->${x.after}${x.resigned ? ' resigned' : ''}`),
      ['VI_1 MASTER->BACKUP resigned', 'VI_2 MASTER->BACKUP resigned'],
      'the sync group moves with the instance named',
    );
    const zero = wire.sent.filter((s) => s.from === 'lb1' && s.at === t0 && s.payload[2] === 0);
    assert.equal(zero.length, 2, 'one priority-0 advert per instance');
    assert.equal(nodes.get('lb1')!.sim.vips.size, 0, 'the VIPs leave with the mastership');
    await clock.advance(t0 + 2 * S);
    assert.deepEqual(states(nodes), { lb1: 'BACKUP*,BACKUP*', lb2: 'MASTER,MASTER', lb3: 'BACKUP,BACKUP' });
    const took = wire.sent.find((s) => s.from === 'lb2' && s.at > t0)!.at;
    assert.equal(took - t0, Math.floor((157 * S) / 256) + 100, 'lb2 (priority 99) after Skew_Time 157/256 s (+100 µs on the wire)');
    await clock.advance(t0 + 30 * S);
    assert.deepEqual(states(nodes), { lb1: 'BACKUP*,BACKUP*', lb2: 'MASTER,MASTER', lb3: 'BACKUP,BACKUP' }, 'no preemption back while resigned');
    assert.equal(nodes.get('lb1')!.rt.status()[0]!.masterAddress, '10.0.0.12');
    assert.ok(nodes.get('lb1')!.rt.status()[0]!.lastAdvertAgeMs! <= 1000);

    const t1 = clock.now;
    nodes.get('lb1')!.rt.resume();
    await clock.advance(t1 + 6 * S);
    assert.deepEqual(states(nodes), { lb1: 'MASTER,MASTER', lb2: 'BACKUP,BACKUP', lb3: 'BACKUP,BACKUP' });
  });

  it('resigned lb1 takes over again when lb2 dies (the resignation never costs availability)', async () => {
    const { clock, nodes } = boot(cluster());
    await clock.advance(10 * S);
    nodes.get('lb1')!.rt.resign();
    await clock.advance(15 * S);
    nodes.get('lb2')!.sim.setLink(false);
    nodes.get('lb3')!.sim.setLink(false);
    await clock.advance(25 * S);
    assert.equal(states(nodes).lb1, 'MASTER,MASTER');
  });
});
