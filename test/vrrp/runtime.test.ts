// The VRRP runtime on a simulated wire: election, failover timings, graceful
// stop, tracking scripts, sync groups, VIPs and announcements.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadClusterText } from '../../src/config/cluster/load.js';
import { createLogger } from '../../src/daemon/log.js';
import type { NodeModel } from '../../src/model/types.js';
import { defaultGlobals } from '../../src/model/defaults.js';
import { makeScript } from '../../src/model/script.js';
import type { RunResult } from '../../src/process/run.js';
import { Notifier } from '../../src/vrrp/notify.js';
import { VrrpRuntime } from '../../src/vrrp/runtime.js';
import { SimClock, SimNode, SimWire } from './sim.js';

const S = 1_000_000;

function cluster(extra = '', version = 2, advert = 1): Map<string, NodeModel> {
  const yaml = `
cluster: t
nodes:
  - { name: lb1, address: 10.0.0.11 }
  - { name: lb2, address: 10.0.0.12 }
  - { name: lb3, address: 10.0.0.13 }
  - { name: lb4, address: 10.0.0.14 }
vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    version: ${version}
    advert_int: ${advert}
    vips: [10.0.0.100/24]
${extra}`;
  const r = loadClusterText(yaml, 't.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  return r.models;
}

interface Node {
  sim: SimNode;
  rt: VrrpRuntime;
  log: string[];
}

function boot(models: Map<string, NodeModel>, opts: { scripts?: (node: string, cmd: string) => boolean } = {}) {
  const clock = new SimClock();
  const wire = new SimWire(clock);
  const nodes = new Map<string, Node>();
  let i = 11;
  for (const [name, model] of models) {
    const sim = new SimNode(name, `10.0.0.${i++}`, wire);
    const log: string[] = [];
    const logger = createLogger((l) => void log.push(l), 'debug');
    const runScript = async (s: { cmd: string }): Promise<RunResult> => ({ code: opts.scripts?.(name, s.cmd) === false ? 1 : 0, signal: null, timedOut: false, ms: 1 });
    const rt = new VrrpRuntime(model, { io: sim, log: logger, notifier: new Notifier(defaultGlobals(), () => undefined), runScript });
    nodes.set(name, { sim, rt, log });
  }
  for (const n of nodes.values()) n.rt.start();
  return { clock, wire, nodes };
}

const state = (n: Node) => n.rt.status()[0]!.state;
const masters = (nodes: Map<string, Node>) => [...nodes].filter(([, n]) => state(n) === 'MASTER').map(([k]) => k);

describe('VRRP runtime on a simulated wire', () => {
  it('four nodes: the highest priority becomes the only MASTER and holds the VIP; it is announced 5 + 5 times', async () => {
    const { clock, nodes } = boot(cluster());
    await clock.advance(10 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    assert.deepEqual([...nodes.get('lb1')!.sim.vips], ['10.0.0.100']);
    for (const n of ['lb2', 'lb3', 'lb4']) assert.equal(nodes.get(n)!.sim.vips.size, 0);
    const ann = nodes.get('lb1')!.sim.announced;
    assert.deepEqual(ann.map((a) => a.count), [5, 5]);
    // keepalived: the second batch garp_master_delay (5 s) after the first.
    assert.equal(ann[1]!.at - ann[0]!.at, 5 * S);
  });

  it('master link down: lb2 takes over exactly master_down (3 × 1 s + skew 157/256 s) after the last advert', async () => {
    const { clock, wire, nodes } = boot(cluster());
    await clock.advance(10 * S);
    const lb1 = nodes.get('lb1')!;
    lb1.sim.setLink(false);
    const lastAdvert = Math.max(...wire.sent.filter((s) => s.from === 'lb1' && s.delivered).map((s) => s.at));
    await clock.advance(20 * S);
    assert.deepEqual(masters(nodes).filter((n) => n !== 'lb1'), ['lb2']);
    const takeover = wire.sent.find((s) => s.from === 'lb2' && s.at > lastAdvert)!.at;
    // lb2 (priority 99): 3 s + (256 − 99)/256 s, +100 µs wire delay of the last advert.
    assert.equal(takeover - lastAdvert, 3 * S + Math.floor((157 * S) / 256) + 100);
    // lb1 lost carrier: FAULT, VIP removed.
    assert.equal(state(lb1), 'FAULT');
    assert.equal(lb1.sim.vips.size, 0);
  });

  it('lb1 back: it preempts after its own master_down and lb2 returns to BACKUP', async () => {
    const { clock, nodes } = boot(cluster());
    await clock.advance(10 * S);
    nodes.get('lb1')!.sim.setLink(false);
    await clock.advance(20 * S);
    nodes.get('lb1')!.sim.setLink(true);
    await clock.advance(30 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    assert.equal(nodes.get('lb2')!.sim.vips.size, 0);
  });

  it('graceful stop of the master: priority 0 advert, backups take over after skew only', async () => {
    const { clock, wire, nodes } = boot(cluster());
    await clock.advance(10 * S);
    const t0 = clock.now;
    await nodes.get('lb1')!.rt.stop();
    const zero = wire.sent.filter((s) => s.from === 'lb1' && s.at === t0);
    assert.equal(zero.length, 1);
    assert.equal(zero[0]!.payload[2], 0, 'priority 0 in the advert');
    await clock.advance(t0 + 2 * S);
    assert.deepEqual(masters(nodes), ['lb2']);
    const took = wire.sent.find((s) => s.from === 'lb2' && s.at > t0)!.at;
    assert.equal(took - t0, Math.floor((157 * S) / 256) + 100);
  });

  it('v3 at 0.1 s: failover in 0.3 s + skew', async () => {
    const { clock, wire, nodes } = boot(cluster('', 3, 0.1));
    await clock.advance(5 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    nodes.get('lb1')!.sim.setLink(false);
    const last = Math.max(...wire.sent.filter((s) => s.from === 'lb1' && s.delivered).map((s) => s.at));
    await clock.advance(7 * S);
    const took = wire.sent.find((s) => s.from === 'lb2' && s.at > last)!.at;
    assert.ok(took - last < 0.37 * S && took - last > 0.35 * S, `${took - last} µs`);
    assert.equal(masters(nodes).filter((n) => n !== 'lb1').length, 1);
  });

  it('a failing track_script with weight -10 hands the VIP to the next node', async () => {
    let healthy = true;
    const models = cluster(`    track_scripts: [{ name: chk }]
vrrp_scripts:
  - { name: chk, script: "/bin/chk", interval: 1, weight: -10, fall: 2, rise: 1 }
`);
    const { clock, nodes } = boot(models, { scripts: () => healthy });
    await clock.advance(10 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    healthy = false; // every node's script fails: lb1 90, lb2 89 …; lb1 stays the highest
    await clock.advance(15 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    assert.equal(nodes.get('lb1')!.rt.status()[0]!.effectivePriority, 90);
  });

  it('a weight-0 track_script failing puts the instance in FAULT and the next node takes over', async () => {
    const models = cluster(`    track_scripts: [{ name: chk }]
vrrp_scripts:
  - { name: chk, script: "/bin/chk", interval: 1, weight: 0 }
`);
    let lb1Healthy = true;
    const { clock, nodes } = boot(models, { scripts: (node) => node !== 'lb1' || lb1Healthy });
    await clock.advance(10 * S);
    assert.deepEqual(masters(nodes), ['lb1']);
    lb1Healthy = false;
    await clock.advance(20 * S);
    assert.equal(state(nodes.get('lb1')!), 'FAULT');
    assert.equal(nodes.get('lb1')!.sim.vips.size, 0);
    assert.deepEqual(masters(nodes), ['lb2']);
  });

  it('counts a foreign VRID on the link and drops bad adverts without a state change', async () => {
    const { clock, wire, nodes } = boot(cluster());
    await clock.advance(5 * S);
    const lb2 = nodes.get('lb2')!;
    const rogue = new SimNode('rogue', '10.0.0.99', wire);
    const ch = rogue.channel('eth0', 4, '224.0.0.18', () => undefined);
    // A VRID 52 advert (another router group on this link), then VRID 51 ones that are wrong.
    const advert = (vrid: number, prio: number, auth = 0, csumOk = true) => {
      const p = new Uint8Array([0x21, vrid, prio, 1, auth, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0]);
      let sum = 0;
      for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
      const c = ~sum & 0xffff;
      p[6] = c >> 8;
      p[7] = (c & 0xff) ^ (csumOk ? 0 : 1);
      return p;
    };
    ch.send(advert(52, 200), '10.0.0.99', '224.0.0.18');
    ch.send(advert(51, 254, 0, false), '10.0.0.99', '224.0.0.18'); // bad checksum
    ch.send(advert(51, 254, 1), '10.0.0.99', '224.0.0.18'); // auth PASS where none is configured
    await clock.advance(clock.now + 1000);
    assert.equal(lb2.rt.unknownVrid, 1);
    const st = lb2.rt.status()[0]!;
    assert.equal(st.state, 'BACKUP');
    assert.equal(st.masterAddress, '10.0.0.11', 'still following lb1');
    assert.equal(st.stats.vrrpv3RouterChecksumErrors, 1);
    assert.deepEqual(masters(nodes), ['lb1']);
  });

  it('a sync group moves together: group tracking moves both instances to the other node', async () => {
    const yaml = `
cluster: t
nodes:
  - { name: a, address: 10.0.0.11 }
  - { name: b, address: 10.0.0.12 }
vrrp:
  - { name: V1, interface: eth0, vrid: 1, vips: [10.0.0.101/24] }
  - { name: V2, interface: eth0, vrid: 2, vips: [10.0.0.102/24] }
vrrp_scripts:
  - { name: chk, script: "/bin/chk", interval: 1, weight: -10 }
sync_groups:
  - { name: G, members: [V1, V2], track_scripts: [{ name: chk }], tracking_weight: true }
`;
    const r = loadClusterText(yaml, 't.yaml');
    assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
    let aHealthy = true;
    const { clock, nodes } = boot(r.models, { scripts: (node) => node !== 'a' || aHealthy });
    const states = () => [...nodes].map(([k, n]) => `${k}:${n.rt.status().map((x) => x.state).join(',')}`).join(' ');
    await clock.advance(10 * S);
    assert.equal(states(), 'a:MASTER,MASTER b:BACKUP,BACKUP');
    aHealthy = false;
    await clock.advance(20 * S);
    assert.equal(states(), 'a:BACKUP,BACKUP b:MASTER,MASTER');
    assert.deepEqual([...nodes.get('b')!.sim.vips].sort(), ['10.0.0.101', '10.0.0.102']);
  });
});

describe('VRRP runtime: restart after a crash, and a healed split brain', () => {
  /** lb1's process dies (no priority-0 advert, VIPs left in the kernel) and a new one starts `afterUs` later. */
  async function crashRestart(env: ReturnType<typeof boot>, models: Map<string, NodeModel>, name: string, afterUs: number, keepVips = true): Promise<Node> {
    const old = env.nodes.get(name)!;
    old.sim.dead = true;
    await env.clock.advance(env.clock.now + afterUs);
    const sim = new SimNode(name, old.sim.address, env.wire);
    if (keepVips) for (const v of old.sim.vips) sim.vips.add(v);
    const log: string[] = [];
    const rt = new VrrpRuntime(models.get(name)!, { io: sim, log: createLogger((l) => void log.push(l), 'debug'), notifier: new Notifier(defaultGlobals(), () => undefined) });
    const n = { sim, rt, log };
    env.nodes.set(name, n);
    rt.start();
    return n;
  }
  const becameMaster = (n: Node): number => n.log.filter((l) => /-> MASTER/.test(l)).length;

  it('the master restarted within master_down resumes at once with the VIP it still holds: no backup takes over', async () => {
    const models = cluster();
    const env = boot(models);
    await env.clock.advance(10 * S);
    const lb1 = await crashRestart(env, models, 'lb1', 0.8 * S);
    assert.equal(state(lb1), 'MASTER', 'MASTER at startup, not BACKUP for master_down');
    assert.ok(lb1.log.some((l) => /resuming as MASTER/.test(l)), lb1.log.join('\n'));
    await env.clock.advance(env.clock.now + 20 * S);
    assert.deepEqual(masters(env.nodes), ['lb1']);
    for (const n of ['lb2', 'lb3', 'lb4']) assert.equal(becameMaster(env.nodes.get(n)!), 0, `${n} took over during a 0.8 s restart`);
    assert.deepEqual([...lb1.sim.vips], ['10.0.0.100']);
  });

  it('without the VIP (keepalived removed it, or a clean restart) the peer takes over, as RFC 5798 §6.4.1 says', async () => {
    const models = cluster();
    const env = boot(models);
    await env.clock.advance(10 * S);
    const lb1 = await crashRestart(env, models, 'lb1', 0.8 * S, false);
    assert.equal(state(lb1), 'BACKUP');
    await env.clock.advance(env.clock.now + 20 * S);
    assert.equal(becameMaster(env.nodes.get('lb2')!), 1, 'lb2 took over while lb1 waited master_down');
    assert.deepEqual(masters(env.nodes), ['lb1'], 'and lb1 preempted back');
  });

  it('a stale VIP on a lower-priority node: it resumes, hears the real master and yields; the master re-announces', async () => {
    const models = cluster();
    const env = boot(models);
    await env.clock.advance(10 * S);
    env.nodes.get('lb2')!.sim.vips.add('10.0.0.100');
    const announcedBefore = env.nodes.get('lb1')!.sim.announced.length;
    const lb2 = await crashRestart(env, models, 'lb2', 0.5 * S);
    await env.clock.advance(env.clock.now + 3 * S);
    assert.deepEqual(masters(env.nodes), ['lb1']);
    assert.equal(state(lb2), 'BACKUP');
    assert.equal(lb2.sim.vips.size, 0, 'the stale VIP is gone');
    assert.ok(env.nodes.get('lb1')!.sim.announced.length > announcedBefore, 'lb1 announced the VIP again');
  });

  it('nopreempt: a node that must not preempt does not resume either', async () => {
    const models = cluster('    nopreempt: true\n');
    const env = boot(models);
    await env.clock.advance(10 * S);
    const lb1 = await crashRestart(env, models, 'lb1', 0.5 * S);
    assert.equal(state(lb1), 'BACKUP');
  });

  it('a healed partition: the master that yields sends one advert, so the winner hears it and announces the VIP again', async () => {
    const models = cluster();
    const env = boot(models);
    await env.clock.advance(10 * S);
    env.wire.blocked.add('lb1>lb2').add('lb2>lb1');
    await env.clock.advance(20 * S);
    assert.deepEqual(masters(env.nodes), ['lb1', 'lb2'], 'split brain');
    // Heal just after lb2's (dropped) advert: lb1's next advert reaches lb2 before lb2 sends
    // again — the ordering in which lb2 would step down without lb1 ever hearing it.
    const lastLb2 = Math.max(...env.wire.sent.filter((x) => x.from === 'lb2').map((x) => x.at));
    await env.clock.advance(lastLb2 + S + 200);
    const healed = env.clock.now;
    env.wire.blocked.clear();
    const lb1 = env.nodes.get('lb1')!;
    const before = lb1.sim.announced.length;
    await env.clock.advance(healed + 3 * S);
    assert.deepEqual(masters(env.nodes), ['lb1']);
    const lb2Sent = env.wire.sent.filter((x) => x.from === 'lb2' && x.at > healed);
    assert.equal(lb2Sent.length, 1, 'lb2 sent exactly its yielding advert');
    assert.equal(lb2Sent[0]!.payload[2], 99, 'at its own priority');
    const again = lb1.sim.announced.slice(before);
    assert.ok(again.length > 0 && again[0]!.at > healed, 'lb1 announced the VIP after the heal');
  });
});

void makeScript;
