// keepalived's lvs_sync_daemon on IPVS: which connection-sync daemon runs for each VRRP state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { syncDaemonPlan } from '../../src/daemon/sync-daemon.js';
import { newNodeModel, newVrrpInstance } from '../../src/model/construct.js';

function model(d?: { interface: string; instance?: string; syncId?: number; port?: number }) {
  const m = newNodeModel('lb1');
  const a = newVrrpInstance('VI_1', 'eth0', 51);
  const b = newVrrpInstance('VI_2', 'eth1', 52);
  m.vrrpInstances.push(a, b);
  if (d) m.global.lvs.syncDaemon = d;
  return m;
}

describe('syncDaemonPlan', () => {
  it('MASTER runs the master daemon and stops the backup one; BACKUP and FAULT the reverse; the sync id defaults to the VRID', () => {
    const m = model({ interface: 'eth1', instance: 'VI_2' });
    assert.deepEqual(syncDaemonPlan(m, 'VI_2', 'MASTER'), { stop: ['backup'], start: { state: 'master', ifname: 'eth1', syncId: 52 } });
    assert.deepEqual(syncDaemonPlan(m, 'VI_2', 'BACKUP'), { stop: ['master'], start: { state: 'backup', ifname: 'eth1', syncId: 52 } });
    assert.deepEqual(syncDaemonPlan(m, 'VI_2', 'FAULT')?.start?.state, 'backup');
  });

  it('only the named instance moves it; without a name, the first instance on its interface', () => {
    assert.equal(syncDaemonPlan(model({ interface: 'eth1', instance: 'VI_2' }), 'VI_1', 'MASTER'), undefined);
    assert.equal(syncDaemonPlan(model({ interface: 'eth0' }), 'VI_1', 'MASTER')?.start?.syncId, 51);
    assert.equal(syncDaemonPlan(model({ interface: 'eth0' }), 'VI_2', 'MASTER'), undefined);
  });

  it('id, port and the like are passed on; stopping haldir stops both daemons; no lvs_sync_daemon, no plan', () => {
    assert.deepEqual(syncDaemonPlan(model({ interface: 'eth0', instance: 'VI_1', syncId: 7, port: 8850 }), 'VI_1', 'MASTER')?.start, { state: 'master', ifname: 'eth0', syncId: 7, port: 8850 });
    assert.deepEqual(syncDaemonPlan(model({ interface: 'eth0', instance: 'VI_1' }), 'VI_1', 'STOP'), { stop: ['master', 'backup'] });
    assert.equal(syncDaemonPlan(model(), 'VI_1', 'MASTER'), undefined);
  });
});
