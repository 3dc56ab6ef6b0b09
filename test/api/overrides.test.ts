// Operator overrides and the status document: targets as operators type them, drain and
// weight applied on top of health's table (never bringing a failed server back), and
// what /api/v1/status then says about each real server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyOverrides, matchServers, Overrides, parseTarget, parseWeight, TargetError, unknownService } from '../../src/api/overrides.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { seedInputs, seedModel, seedStatus } from './fixtures.js';

const now = new Date('2026-11-29T20:00:00Z');

describe('targets', () => {
  it('HOST:PORT, [v6]:PORT, bare v4 and v6 hosts', () => {
    assert.deepEqual(parseTarget('lb3:80'), { host: 'lb3', port: 80 });
    assert.deepEqual(parseTarget(' 192.168.2.13:443 '), { host: '192.168.2.13', port: 443 });
    assert.deepEqual(parseTarget('[fd00::13]:80'), { host: 'fd00::13', port: 80 });
    assert.deepEqual(parseTarget('fd00::13'), { host: 'fd00::13' });
    assert.deepEqual(parseTarget('192.168.2.13'), { host: '192.168.2.13' });
  });

  it('bad targets are refused with the form to use', () => {
    for (const bad of ['', 'lb3:http', 'lb3:70000', ':80', 'a b:80', '[fd00::1]:x']) {
      assert.throws(() => parseTarget(bad), TargetError, bad);
    }
    assert.throws(() => parseTarget('lb3:x'), /port must be a number/);
  });

  it('weights: integers 0..INT32_MAX only', () => {
    assert.equal(parseWeight(0), 0);
    assert.equal(parseWeight(2147483647), 2147483647);
    for (const bad of [-1, 1.5, '3', null, 2147483648, NaN]) assert.throws(() => parseWeight(bad), /weight must be an integer/);
  });

  it('matching: an address and port across services; a port narrows; a service narrows further', () => {
    const m = seedModel();
    assert.deepEqual(
      matchServers(m, ['192.168.2.13'], 80).map((x) => x.name),
      ['[192.168.2.13]:tcp:80 in [192.168.2.100]:tcp:80'],
    );
    assert.equal(matchServers(m, ['192.168.2.13'], undefined).length, 4, 'every port of lb3');
    assert.deepEqual(matchServers(m, ['192.168.2.13'], undefined, '192.168.2.100:443').map((x) => x.rsKey), ['[192.168.2.13]:443']);
    assert.deepEqual(matchServers(m, ['192.168.2.13'], 80, 'tcp:[192.168.2.100]:80').length, 1, 'by service key');
    assert.deepEqual(matchServers(m, ['192.168.2.99'], 80), []);
    assert.equal(unknownService(m, '192.168.2.100:80'), undefined);
    assert.match(unknownService(m, '10.0.0.1:80')!, /no virtual service "10.0.0.1:80" \(there are: \[192.168.2.100\]:tcp:80, /);
  });
});

describe('overrides on the table', () => {
  const model = seedModel();
  const table = allUpTable(model);
  const w = (t: ReturnType<typeof allUpTable>, vk: string, rk: string) => t.find((d) => d.vsKey === vk)?.dests.find((d) => d.key === rk)?.weight;

  it('drain: weight 0 in every service with that server, kept in the table; undrain restores', () => {
    const o = new Overrides();
    o.setDrain(matchServers(model, ['192.168.2.13'], undefined), undefined, true, 'unix socket', now);
    const t = applyOverrides(table, o);
    for (const port of [80, 443, 8443, 6443]) assert.equal(w(t, `tcp:[192.168.2.100]:${port}`, `[192.168.2.13]:${port}`), 0);
    assert.equal(w(t, 'tcp:[192.168.2.100]:80', '[192.168.2.12]:80'), 1, 'others untouched');
    o.setDrain(matchServers(model, ['192.168.2.13'], 80), undefined, false, 'unix socket', now);
    const t2 = applyOverrides(table, o);
    assert.equal(w(t2, 'tcp:[192.168.2.100]:80', '[192.168.2.13]:80'), 1);
    assert.equal(w(t2, 'tcp:[192.168.2.100]:443', '[192.168.2.13]:443'), 0, 'only the port undrained');
  });

  it('a service-scoped drain; undrain for every service lifts it too', () => {
    const o = new Overrides();
    o.setDrain(matchServers(model, ['192.168.2.13'], 80, '192.168.2.100:80'), '192.168.2.100:80', true, 'x', now);
    assert.equal(o.list()[0]!.service, 'tcp:[192.168.2.100]:80');
    assert.equal(w(applyOverrides(table, o), 'tcp:[192.168.2.100]:80', '[192.168.2.13]:80'), 0);
    o.setDrain(matchServers(model, ['192.168.2.13'], 80), undefined, false, 'x', now);
    assert.deepEqual(o.list(), []);
  });

  it('a weight replaces the weight of a live server; drain wins over weight; reset removes it', () => {
    const o = new Overrides();
    const lb2 = matchServers(model, ['192.168.2.12'], 80);
    o.setWeight(lb2, undefined, 7, 'x', now);
    assert.equal(w(applyOverrides(table, o), 'tcp:[192.168.2.100]:80', '[192.168.2.12]:80'), 7);
    o.setDrain(lb2, undefined, true, 'x', now);
    assert.equal(w(applyOverrides(table, o), 'tcp:[192.168.2.100]:80', '[192.168.2.12]:80'), 0);
    o.setDrain(lb2, undefined, false, 'x', now);
    assert.equal(w(applyOverrides(table, o), 'tcp:[192.168.2.100]:80', '[192.168.2.12]:80'), 7);
    o.setWeight(lb2, undefined, undefined, 'x', now);
    assert.deepEqual(o.list(), []);
    assert.equal(applyOverrides(table, o)[0], table[0], 'no override: the same objects');
  });

  it('neither brings back a server health took out', () => {
    const o = new Overrides();
    const lb3 = matchServers(model, ['192.168.2.13'], 80);
    o.setWeight(lb3, undefined, 5, 'x', now);
    const healthTable = table.map((ds) => ({ ...ds, dests: ds.dests.filter((d) => d.key !== '[192.168.2.13]:80') }));
    assert.equal(w(applyOverrides(healthTable, o), 'tcp:[192.168.2.100]:80', '[192.168.2.13]:80'), undefined);
  });
});

describe('the status document', () => {
  it('VRRP, services, real servers with health, weights, counters; lb3 down', () => {
    const s = seedStatus();
    assert.equal(s.uptimeSeconds, 123);
    assert.deepEqual(s.eventLoopLagMs, { p50Ms: 0.1, p99Ms: 2.346, maxMs: 7 });
    const v = s.vrrp[0]!;
    assert.equal(v.state, 'MASTER');
    assert.equal(v.lastTransition, '2026-11-29T20:00:04.250Z');
    assert.equal(v.releaseMaster, 1);
    assert.equal(s.services.length, 4);
    const http = s.services[0]!;
    assert.equal(http.name, '[192.168.2.100]:tcp:80');
    assert.equal(http.balancing, true, 'VI_1 is MASTER here');
    const lb3 = http.realServers.find((r) => r.address === '192.168.2.13')!;
    assert.deepEqual([lb3.healthy, lb3.state, lb3.weight, lb3.inTable], [false, 'down', 0, false]);
    assert.equal(lb3.checks[0]!.lastReason, 'connection refused');
    const lb2 = http.realServers.find((r) => r.address === '192.168.2.12')!;
    assert.deepEqual([lb2.state, lb2.weight, lb2.activeConnections, lb2.connections, lb2.bytes], ['up', 1, 2, 10, 4096]);
  });

  it('BACKUP: not balancing; a drained server shows draining with weight 0; the override is listed with who', () => {
    const i = seedInputs();
    i.vrrp = [{ ...i.vrrp[0]!, state: 'BACKUP', masterAddress: '192.168.2.12' }];
    const o = new Overrides();
    o.setDrain(matchServers(i.model, ['192.168.2.12'], 80), undefined, true, 'tcp 192.168.2.10:5000 token ops', now);
    i.overrides = o;
    const s = seedStatus(i);
    assert.equal(s.services[0]!.balancing, false);
    const lb2 = s.services[0]!.realServers.find((r) => r.address === '192.168.2.12')!;
    assert.deepEqual([lb2.state, lb2.weight, lb2.drained, lb2.inTable], ['draining', 0, true, true]);
    assert.deepEqual(s.overrides, [{ server: '[192.168.2.12]:80', drain: true, since: now.toISOString(), by: 'tcp 192.168.2.10:5000 token ops', matches: 1 }]);
  });
});
