// The net.ipv4.vs sysctls a configuration implies, and raising them (in a scratch
// directory standing in for /proc/sys/net/ipv4/vs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { applySysctls, impliedSysctls } from '../../src/dataplane/ipvs/sysctl.js';

const table = (body: string, global = '') => {
  const r = loadKeepalivedText(`global_defs {\n${global}\n}\n${body}`, 't.conf');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), []);
  return { desired: allUpTable(r.model), lvs: r.model.global.lvs };
};
const names = (t: ReturnType<typeof table>): string[] => impliedSysctls(t.desired, t.lvs).map((w) => w.name);
const vs = (addr: string, body: string): string => `virtual_server ${addr} {\n${body}\n  real_server 10.0.0.21 80 { weight 1 }\n}\n`;

test('each sysctl follows from the configuration', () => {
  assert.deepEqual(impliedSysctls([]), []);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo rr\nlb_kind DR\nprotocol TCP'))), ['expire_nodest_conn']);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo rr\nlb_kind NAT\nprotocol TCP'))), ['expire_nodest_conn', 'conntrack']);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo wlc\nlb_kind DR\nprotocol TCP\npersistence_timeout 60'))), ['expire_nodest_conn', 'expire_quiescent_template']);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo mh\nlb_kind DR\nprotocol TCP'))), ['expire_nodest_conn', 'sloppy_tcp']);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo sh\nlb_kind DR\nprotocol SCTP'))), ['expire_nodest_conn', 'sloppy_sctp']);
  assert.deepEqual(names(table(vs('fwmark 5', 'lb_algo mh\nlb_kind DR'))), ['expire_nodest_conn', 'sloppy_tcp']);
  // UDP has no handshake to miss; with a sync daemon the backup already knows the connections.
  assert.deepEqual(names(table(vs('10.0.0.1 53', 'lb_algo mh\nlb_kind DR\nprotocol UDP'))), ['expire_nodest_conn']);
  assert.deepEqual(names(table(vs('10.0.0.1 80', 'lb_algo mh\nlb_kind DR\nprotocol TCP'), 'lvs_sync_daemon eth0 VI_1')), ['expire_nodest_conn']);
  for (const w of impliedSysctls(table(vs('10.0.0.1 80', 'lb_algo mh\nlb_kind NAT\nprotocol TCP\npersistence_timeout 9')).desired)) assert.ok(w.why.length > 20, w.name);
});

test('raises what is below, leaves what an operator set higher, names what the kernel lacks; dry run writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-vs-'));
  try {
    writeFileSync(join(dir, 'expire_nodest_conn'), '0\n');
    writeFileSync(join(dir, 'conntrack'), '2\n');
    const wants = impliedSysctls(table(vs('10.0.0.1 80', 'lb_algo mh\nlb_kind NAT\nprotocol TCP')).desired);
    const dry = applySysctls(wants, { dir, dryRun: true });
    assert.equal(readFileSync(join(dir, 'expire_nodest_conn'), 'utf8'), '0\n');
    assert.deepEqual(dry.changes.map((c) => c.object), ['sysctl net.ipv4.vs.expire_nodest_conn']);
    const r = applySysctls(wants, { dir });
    assert.deepEqual(r.changes.map((c) => `${c.object} ${c.detail!.split(':')[0]}`), ['sysctl net.ipv4.vs.expire_nodest_conn 0 -> 1']);
    assert.equal(readFileSync(join(dir, 'expire_nodest_conn'), 'utf8'), '1\n');
    assert.equal(readFileSync(join(dir, 'conntrack'), 'utf8'), '2\n');
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, /sysctl net\.ipv4\.vs\.sloppy_tcp: ENOENT .*this kernel may not have it/);
    assert.deepEqual(applySysctls(wants, { dir }).changes, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
