// Real-server and virtual-service state (server-state.ts): AND of checkers,
// inhibit_on_failure, misc_dynamic weights, quorum with hysteresis, the sorry
// server, the events and FIFO lines they produce, the data-plane table and the
// carry-over of health state across a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newChecker, newNodeModel, newRealServer, newVirtualServer } from '../../src/model/construct.js';
import type { Checker, HttpChecker, NodeModel, RealServer, VirtualServer, VsAddress } from '../../src/model/types.js';
import { initCheck, onAttempt, type CheckState } from '../../src/health/schedule.js';
import {
  carryOver,
  desiredTable,
  evaluate,
  fifoLine,
  fifoLineRs,
  fifoLineVs,
  initChecks,
  listCheckers,
  rsKey,
  shutdownEvents,
  vsKey,
  type CheckStates,
  type HealthEvent,
  type ServiceStates,
} from '../../src/health/server-state.js';

const S = 1_000_000;
const T0 = 1_000 * S;
const VIP = '192.168.2.100';

function tcp(extra: Partial<Checker> = {}): Checker {
  return Object.assign(newChecker('TCP_CHECK', { delayLoop: 3 }), extra);
}

function http(path: string): HttpChecker {
  const c = newChecker('HTTP_GET', { delayLoop: 3 }) as HttpChecker;
  c.urls = [{ path, statusCodes: [], regexNoMatch: false }];
  return c;
}

function server(address: string, port: number | undefined, checkers: Checker[] = [tcp()], extra: Partial<RealServer> = {}): RealServer {
  return Object.assign(newRealServer(address, port), { checkers }, extra);
}

function service(realServers: RealServer[], extra: Partial<VirtualServer> = {}, address: VsAddress = { kind: 'ip', address: VIP, family: 4, port: 80 }): VirtualServer {
  return Object.assign(newVirtualServer(address), { realServers }, extra);
}

function model(...vss: VirtualServer[]): NodeModel {
  const m = newNodeModel('lb1');
  m.virtualServers = vss;
  return m;
}

/** Sets the checker states of real server `rs` (of the first service) to up/down after a run. */
function setRs(m: NodeModel, checks: CheckStates, rs: RealServer, up: boolean | boolean[], weight?: number): CheckStates {
  const out = { ...checks };
  const refs = listCheckers(m).filter((r) => r.rs === rs);
  refs.forEach((r, i) => {
    const u = Array.isArray(up) ? up[i]! : up;
    const s: CheckState = { ...out[r.key]!, up: u, hasRun: true };
    if (weight !== undefined) s.weight = weight;
    out[r.key] = s;
  });
  return out;
}

/** Summary of events for assertions: "rs 10.0.0.1 UP", "quorum DOWN", "sorry IN". */
function ev(events: HealthEvent[]): string[] {
  return events.map((e) => {
    if (e.type === 'rs') return `rs ${e.rs.address} ${e.up ? 'UP' : 'DOWN'}${e.stopping ? ' stopping' : ''}`;
    if (e.type === 'quorum') return `quorum ${e.up ? 'UP' : 'DOWN'}${e.stopping ? ' stopping' : ''}`;
    return `sorry ${e.in ? 'IN' : 'OUT'}`;
  });
}

function table(m: NodeModel, services: ServiceStates): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of desiredTable(m, services)[0]!.dests) out[`${d.address}:${d.port}${d.sorry ? ' sorry' : ''}`] = d.weight;
  return out;
}

const rnd = () => 0;

test('AND: a real server is alive only when all its checkers are UP', () => {
  const rs = server('192.168.2.11', 80, [tcp(), http('/healthz'), tcp({ connectPort: 8080 })]);
  const m = model(service([rs]));
  let checks = initChecks(m, T0, rnd);
  assert.equal(Object.keys(checks).length, 3);
  let { services, events } = evaluate(m, checks);
  assert.equal(services[vsKey(m.virtualServers[0]!)]!.servers[rsKey(rs)]!.alive, true);
  assert.deepEqual(ev(events), ['quorum UP']);

  checks = setRs(m, checks, rs, [true, false, true]);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 DOWN', 'quorum DOWN']);
  checks = setRs(m, checks, rs, [false, false, true]);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), []);
  checks = setRs(m, checks, rs, [true, false, true]);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), []);
  checks = setRs(m, checks, rs, [true, true, true]);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 UP', 'quorum UP']);
});

test('on failure a real server leaves the table, or stays with weight 0 under inhibit_on_failure', () => {
  const a = server('192.168.2.11', 80, [tcp()], { weight: 3 });
  const b = server('192.168.2.12', 80, [tcp()], { weight: 2, inhibitOnFailure: true });
  const m = model(service([a, b]));
  let checks = initChecks(m, T0, rnd);
  let { services } = evaluate(m, checks);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 3, '192.168.2.12:80': 2 });
  checks = setRs(m, setRs(m, checks, a, false), b, false);
  ({ services } = evaluate(m, checks, services));
  assert.deepEqual(table(m, services), { '192.168.2.12:80': 0 });
  const d = desiredTable(m, services)[0]!;
  assert.equal(d.vsKey, 'tcp:[192.168.2.100]:80');
  assert.deepEqual(d.dests[0]!.forwarding, { kind: 'NAT' });
});

test('misc_dynamic: the reported weight replaces the configured one and counts toward quorum', () => {
  const misc = newChecker('MISC_CHECK', { delayLoop: 3 }) as Extract<Checker, { type: 'MISC_CHECK' }>;
  misc.dynamic = true;
  const a = server('192.168.2.11', 80, [misc, tcp()], { weight: 10 });
  const b = server('192.168.2.12', 80, [tcp()], { weight: 1 });
  const m = model(service([a, b], { quorum: 5 }));
  let checks = initChecks(m, T0, rnd);
  let { services, events } = evaluate(m, checks);
  assert.deepEqual(ev(events), ['quorum UP']);
  // MISC exit 5 → ok with weight 3 (exit code − 2): live weight 3 + 1 = 4 < 5.
  const key = listCheckers(m).find((r) => r.checker === misc)!.key;
  checks = { ...checks, [key]: onAttempt(checks[key]!, misc, { ok: true, reason: 'ok', latencyMs: 0, weight: 3 }, T0 + 2 * S).state };
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['quorum DOWN']);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 3, '192.168.2.12:80': 1 });
  // Exit 0 again: the configured weight.
  checks = { ...checks, [key]: onAttempt(checks[key]!, misc, { ok: true, reason: 'ok', latencyMs: 0 }, T0 + 5 * S).state };
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['quorum UP']);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 10, '192.168.2.12:80': 1 });
});

test('FILE_CHECK: value × weight is added to the configured weight while the file says up', () => {
  const f = newChecker('FILE_CHECK', { delayLoop: 3 });
  const a = server('192.168.2.11', 80, [f], { weight: 10 });
  const m = model(service([a]));
  const key = listCheckers(m)[0]!.key;
  let checks = initChecks(m, T0, rnd);
  let { services } = evaluate(m, checks);
  checks = { [key]: onAttempt(checks[key]!, f, { ok: true, reason: 'ok', latencyMs: 0, weightDelta: -4 }, T0).state };
  ({ services } = evaluate(m, checks, services));
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 6 });
  checks = { [key]: onAttempt(checks[key]!, f, { ok: true, reason: 'ok', latencyMs: 0, weightDelta: -40 }, T0 + 3 * S).state };
  ({ services } = evaluate(m, checks, services));
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 0 }); // real_weight clamps at 0
  const down = onAttempt(checks[key]!, f, { ok: false, reason: 'fault', latencyMs: 0 }, T0 + 6 * S);
  assert.equal(down.change, 'down');
  assert.equal(down.state.weightDelta, undefined);
});

test('quorum with hysteresis (keepalived sample): 10 servers, quorum 7, hysteresis 2 → lost below 5, gained at 9', () => {
  const rss = Array.from({ length: 10 }, (_, i) => server(`192.168.2.${11 + i}`, 80));
  const m = model(service(rss, { quorum: 7, hysteresis: 2 }));
  let checks = initChecks(m, T0, rnd);
  let { services, events } = evaluate(m, checks);
  assert.deepEqual(ev(events), ['quorum UP']);
  const quorumAt: [number, string][] = [];
  // Servers fail one by one, then come back one by one.
  for (let i = 0; i < 10; i++) {
    checks = setRs(m, checks, rss[i]!, false);
    ({ services, events } = evaluate(m, checks, services));
    for (const e of events) if (e.type === 'quorum') quorumAt.push([9 - i, e.up ? 'UP' : 'DOWN']);
  }
  for (let i = 0; i < 10; i++) {
    checks = setRs(m, checks, rss[i]!, true);
    ({ services, events } = evaluate(m, checks, services));
    for (const e of events) if (e.type === 'quorum') quorumAt.push([i + 1, e.up ? 'UP' : 'DOWN']);
  }
  assert.deepEqual(quorumAt, [
    [4, 'DOWN'],
    [9, 'UP'],
  ]);
});

test('quorum: a live weight of 0 loses quorum even when quorum − hysteresis ≤ 0', () => {
  const rs = server('192.168.2.11', 80);
  const m = model(service([rs], { quorum: 1, hysteresis: 1 }));
  let checks = initChecks(m, T0, rnd);
  let { services, events } = evaluate(m, checks, { [vsKey(m.virtualServers[0]!)]: { quorumUp: true, sorryIn: false, servers: { [rsKey(rs)]: { alive: true, weight: 1, announced: true } } } });
  assert.deepEqual(ev(events), []);
  checks = setRs(m, checks, rs, false);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 DOWN', 'quorum DOWN']);
  checks = setRs(m, checks, rs, true);
  ({ events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 UP']); // 1 < quorum + hysteresis = 2
});

test('sorry server: in when quorum is lost, replacing the real servers; out when it is regained', () => {
  const a = server('192.168.2.11', 80);
  const b = server('192.168.2.12', 80, [tcp()], { inhibitOnFailure: true });
  const m = model(service([a, b], { quorum: 2, sorryServer: { address: '192.168.2.50', port: 8080, inhibit: false } }));
  let checks = initChecks(m, T0, rnd);
  let { services, events } = evaluate(m, checks);
  assert.deepEqual(ev(events), ['quorum UP']);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 1, '192.168.2.12:80': 1 });

  checks = setRs(m, checks, a, false);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 DOWN', 'sorry IN', 'quorum DOWN']);
  // The live inhibit_on_failure server stays with weight 0 while the sorry server is in.
  assert.deepEqual(table(m, services), { '192.168.2.12:80': 0, '192.168.2.50:8080 sorry': 1 });

  checks = setRs(m, checks, a, true);
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 UP', 'sorry OUT', 'quorum UP']);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 1, '192.168.2.12:80': 1 });
});

test('sorry_server_inhibit: the sorry server stays with weight 0 when not in use; its port defaults to the service port', () => {
  const a = server('192.168.2.11', 80);
  const m = model(service([a], { sorryServer: { address: '192.168.2.50', inhibit: true } }));
  let checks = initChecks(m, T0, rnd);
  let { services } = evaluate(m, checks);
  assert.deepEqual(table(m, services), { '192.168.2.11:80': 1, '192.168.2.50:80 sorry': 0 });
  checks = setRs(m, checks, a, false);
  ({ services } = evaluate(m, checks, services));
  assert.deepEqual(table(m, services), { '192.168.2.50:80 sorry': 1 });
});

test('start: quorum_up when the threshold is met; otherwise quorum_down and the sorry server only when one is configured', () => {
  const alphaRs = () => server('192.168.2.11', 80, [tcp({ alpha: true })], { alpha: true });
  const plain = model(service([alphaRs()]));
  assert.deepEqual(ev(evaluate(plain, initChecks(plain, T0, rnd)).events), []);
  const sorry = model(service([alphaRs()], { sorryServer: { address: '192.168.2.50', port: 80, inhibit: false } }));
  const { services, events } = evaluate(sorry, initChecks(sorry, T0, rnd));
  assert.deepEqual(ev(events), ['sorry IN', 'quorum DOWN']);
  assert.deepEqual(table(sorry, services), { '192.168.2.50:80 sorry': 1 });
});

test('notify: RS events on transitions; an alpha server whose first check fails is notified DOWN once', () => {
  const c = tcp({ alpha: true, warmup: 0 });
  const rs = server('192.168.2.11', 80, [c], { alpha: true });
  const m = model(service([rs]));
  const key = listCheckers(m)[0]!.key;
  let checks = initChecks(m, T0, rnd);
  assert.equal(checks[key]!.up, false);
  let { services, events } = evaluate(m, checks);
  assert.deepEqual(ev(events), []);
  const fail = { ok: false, reason: 'connection refused', latencyMs: 0 };
  checks = { [key]: onAttempt(checks[key]!, c, fail, T0 + S).state };
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 DOWN']);
  checks = { [key]: onAttempt(checks[key]!, c, fail, T0 + 4 * S).state };
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), []);
  checks = { [key]: onAttempt(checks[key]!, c, { ok: true, reason: 'ok', latencyMs: 0 }, T0 + 7 * S).state };
  ({ services, events } = evaluate(m, checks, services));
  assert.deepEqual(ev(events), ['rs 192.168.2.11 UP', 'quorum UP']);
  assert.equal(fifoLine(events[0]!), 'RS [192.168.2.11]:tcp:80 [192.168.2.100]:tcp:80 UP\n');
  assert.equal(fifoLine(events[1]!), 'VS [192.168.2.100]:tcp:80 UP\n');
});

test('FIFO lines: keepalived format_vs / format_rs for IPv4, IPv6, UDP, fwmark and groups', () => {
  const rs = server('192.168.2.11', 80);
  const vs = service([rs]);
  assert.equal(fifoLineVs(vs, true), 'VS [192.168.2.100]:tcp:80 UP\n');
  assert.equal(fifoLineVs(vs, false), 'VS [192.168.2.100]:tcp:80 DOWN\n');
  assert.equal(fifoLineRs(vs, rs, true), 'RS [192.168.2.11]:tcp:80 [192.168.2.100]:tcp:80 UP\n');
  assert.equal(fifoLineRs(vs, rs, false), 'RS [192.168.2.11]:tcp:80 [192.168.2.100]:tcp:80 DOWN\n');
  const rs6 = server('2001:DB8:0:0::11', 53);
  const vs6 = service([rs6], { protocol: 'UDP' }, { kind: 'ip', address: '2001:db8::0:100', family: 6, port: 53 });
  assert.equal(fifoLineRs(vs6, rs6, false), 'RS [2001:db8::11]:udp:53 [2001:db8::100]:udp:53 DOWN\n');
  const rsm = server('192.168.2.11', undefined);
  const fwm = service([rsm], {}, { kind: 'fwmark', fwmark: 1 });
  assert.equal(fifoLineVs(fwm, true), 'VS FWM 1 UP\n');
  assert.equal(fifoLineRs(fwm, rsm, true), 'RS [192.168.2.11]:tcp:0 FWM 1 UP\n');
  const grp = service([rs], {}, { kind: 'group', group: 'web' });
  assert.equal(fifoLineVs(grp, false), 'VS [web]:0 DOWN\n');
  assert.equal(fifoLine({ type: 'sorry', vs, vsKey: vsKey(vs), in: true }), undefined);
});

test('identity: services, servers and checkers are keyed by what they are, however addresses are written', () => {
  const a = service([server('2001:db8::11', 80)], {}, { kind: 'ip', address: '2001:DB8::100', family: 6, port: 80 });
  const b = service([server('2001:db8:0::11', 80)], {}, { kind: 'ip', address: '2001:db8:0:0::100', family: 6, port: 80 });
  assert.equal(vsKey(a), vsKey(b));
  assert.equal(vsKey(a), 'tcp:[2001:db8::100]:80');
  assert.equal(listCheckers(model(a))[0]!.key, listCheckers(model(b))[0]!.key);
  assert.notEqual(vsKey(service([], { protocol: 'UDP' })), vsKey(service([])));
  assert.equal(vsKey(service([], {}, { kind: 'fwmark', fwmark: 3 })), 'fwmark:3:4');
  // Two identical checkers on one server get distinct keys.
  const keys = listCheckers(model(service([server('192.168.2.11', 80, [tcp(), tcp()])]))).map((r) => r.key);
  assert.equal(new Set(keys).size, 2);
});

test('carryOver: an unchanged real server keeps its health state, a changed checker starts fresh', () => {
  const build = (path: string, delayLoop: number) => {
    const h = http(path);
    h.delayLoop = delayLoop;
    h.alpha = true;
    return model(
      service(
        [
          server('192.168.2.11', 80, [Object.assign(http('/healthz'), { delayLoop, alpha: true })], { alpha: true }),
          server('192.168.2.12', 80, [h], { alpha: true }),
        ],
        { quorum: 1 },
      ),
    );
  };
  const oldM = build('/healthz', 3);
  let checks = initChecks(oldM, T0, rnd);
  let { services } = evaluate(oldM, checks);
  // Both servers come up.
  for (const rs of oldM.virtualServers[0]!.realServers) checks = setRs(oldM, checks, rs, true);
  ({ services } = evaluate(oldM, checks, services));

  // Reload: .11 only changes its delay_loop (kept); .12's url changes (fresh: alpha, but its server was alive → starts UP).
  const newM = build('/ready', 10);
  const carried = carryOver({ checks, services }, oldM, newM, T0 + 100 * S, rnd);
  assert.deepEqual(ev(carried.events), []);
  const [k11, k12] = listCheckers(newM).map((r) => r.key) as [string, string];
  assert.equal(carried.checks[k11], checks[k11]);
  assert.equal(carried.checks[k11]!.hasRun, true);
  assert.equal(carried.checks[k12]!.hasRun, false);
  assert.equal(carried.checks[k12]!.up, true);
  const after = evaluate(newM, carried.checks, carried.services);
  assert.deepEqual(ev(after.events), []);
  assert.deepEqual(table(newM, after.services), { '192.168.2.11:80': 1, '192.168.2.12:80': 1 });

  // Without carryOver (keepalived issue 1720) the alpha checkers would start DOWN.
  assert.equal(initChecks(newM, T0, rnd)[k11]!.up, false);
});

test('carryOver: a live server or service that goes away is notified DOWN; a new alpha server starts DOWN', () => {
  const a = server('192.168.2.11', 80);
  const b = server('192.168.2.12', 80);
  const web = service([a, b], { quorum: 2 });
  const dns = service([server('192.168.2.13', 53)], {}, { kind: 'ip', address: VIP, family: 4, port: 53 });
  const oldM = model(web, dns);
  const checks = initChecks(oldM, T0, rnd);
  const { services } = evaluate(oldM, checks);

  const c = server('192.168.2.14', 80, [tcp({ alpha: true })], { alpha: true });
  const newM = model(service([server('192.168.2.11', 80), c], { quorum: 2 }));
  const carried = carryOver({ checks, services }, oldM, newM, T0 + 100 * S, rnd);
  // The DNS service goes away with its live server and its quorum (keepalived clear_service_vs).
  assert.deepEqual(ev(carried.events), ['rs 192.168.2.12 DOWN', 'rs 192.168.2.13 DOWN', 'quorum DOWN']);
  assert.equal(carried.events[2]!.vs, dns);
  const ck = listCheckers(newM).find((r) => r.rs === c)!.key;
  assert.equal(carried.checks[ck]!.up, false);
  const after = evaluate(newM, carried.checks, carried.services);
  assert.deepEqual(ev(after.events), ['quorum DOWN']);
  assert.deepEqual(table(newM, after.services), { '192.168.2.11:80': 1 });
});

test('carryOver: a fresh checker on a server that was down starts as at start; the schedule restarts with warmup', () => {
  const oldM = model(service([server('192.168.2.11', 80, [tcp({ alpha: true })], { alpha: true })]));
  const checks = initChecks(oldM, T0, rnd);
  const { services } = evaluate(oldM, checks);
  const newM = model(service([server('192.168.2.11', 80, [tcp({ alpha: true, connectPort: 81 })], { alpha: true })]));
  const carried = carryOver({ checks, services }, oldM, newM, T0 + 50 * S, () => 0.5);
  const s = Object.values(carried.checks)[0]!;
  assert.equal(s.up, false);
  assert.deepEqual(s.wait, { kind: 'first', at: T0 + 50 * S + S + 1.5 * S });
});

test('omega: on shutdown live servers are notified DOWN and quorum_down runs; without omega nothing', () => {
  const a = server('192.168.2.11', 80);
  const b = server('192.168.2.12', 80);
  const m = model(service([a, b], { omega: true, quorum: 5 }));
  let checks = initChecks(m, T0, rnd);
  let { services } = evaluate(m, checks);
  checks = setRs(m, checks, b, false);
  ({ services } = evaluate(m, checks, services));
  assert.deepEqual(ev(shutdownEvents(m, services)), ['rs 192.168.2.11 DOWN stopping', 'quorum DOWN stopping']);
  m.global.lvs.flushOnStop = 'all';
  assert.deepEqual(ev(shutdownEvents(m, services)), ['quorum DOWN stopping']);
  m.virtualServers[0]!.omega = false;
  assert.deepEqual(ev(shutdownEvents(m, services)), []);
});

test('initCheck on each checker: the same as initChecks', () => {
  const c = tcp({ warmup: 4 });
  const m = model(service([server('192.168.2.11', 80, [c])]));
  assert.deepEqual(Object.values(initChecks(m, T0, () => 0.25)), [initCheck(c, T0, () => 0.25)]);
});
