// The director loop's pure part: which services a node balances, given VRRP states and
// directors that just fell silent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activeTable, DirectorLoop, vipOwners } from '../../src/daemon/director.js';
import { createLogger } from '../../src/daemon/log.js';
import type { Dataplane, DesiredService } from '../../src/dataplane/types.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { newNodeModel, newRealServer, newVip, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';

function model() {
  const m = newNodeModel('lb2');
  const vi = newVrrpInstance('VI_1', 'eth0', 51);
  vi.priority = 99;
  vi.vips.push(newVip('192.168.2.100/24'));
  m.vrrpInstances.push(vi);
  for (const [vip, port] of [['192.168.2.100', 80], ['192.168.2.200', 80]] as const) {
    const vs = newVirtualServer({ kind: 'ip', address: vip, family: 4, port });
    vs.forwarding = { kind: 'DR' };
    for (const a of ['192.168.2.11', '192.168.2.12']) vs.realServers.push(newRealServer(a, port));
    m.virtualServers.push(vs);
  }
  return m;
}

describe('activeTable', () => {
  it('balances the services of MASTER instances and those no instance owns', () => {
    const m = model();
    const t = allUpTable(m);
    assert.deepEqual(activeTable(t, vipOwners(m), new Map([['VI_1', 'BACKUP']])).map((d) => d.vsKey), ['tcp:[192.168.2.200]:80']);
    assert.equal(activeTable(t, vipOwners(m), new Map([['VI_1', 'MASTER']])).length, 2);
  });

  it('leaves out a director that just fell silent from the real servers', () => {
    const m = model();
    const t = activeTable(allUpTable(m), vipOwners(m), new Map([['VI_1', 'MASTER']]), new Set(['192.168.2.11']));
    for (const ds of t) assert.deepEqual(ds.dests.map((d) => d.address), ['192.168.2.12']);
  });
});

describe('DirectorLoop', () => {
  it('does not reconcile before health hands over its first table: a restart never empties the kernel', async () => {
    const calls: { services: number; full: boolean }[] = [];
    const dp: Dataplane = {
      kind: 'nftables',
      unsupported: () => [],
      reconcile: async (desired: readonly DesiredService[], o) => {
        calls.push({ services: desired.length, full: o?.full === true });
        return { changes: [], applied: false, ms: 0 };
      },
      stats: async () => [],
      activeConnections: async () => new Map(),
      close: async () => undefined,
    };
    const m = model();
    const d = new DirectorLoop(m, { dataplane: dp, log: createLogger(() => undefined) });
    d.setState('VI_1', 'MASTER');
    d.kick('full');
    await d.idle();
    assert.deepEqual(calls, [], 'nothing reconciled with an empty table');
    d.setTable(allUpTable(m));
    await d.idle();
    assert.deepEqual(calls, [{ services: 2, full: true }], 'the first reconcile is the full one asked for, with the table');
    await d.close({ flush: false });
  });
});
