// keepalived-compatible dumps. Without root: the formats against what keepalived 2.2.7
// wrote for the same instance (captured below). As root: keepalived 2.2.7 and haldir
// run the same vrrp_instance side by side in network namespaces, each gets SIGUSR1 and
// SIGUSR2 and SIGRTMIN+2 with its own $TMPDIR, and the files are
// compared: the stats line for line, the JSON key for key, the data dump's instance
// block field by field for every field haldir writes.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keepalivedData, keepalivedJson, keepalivedStats } from '../../src/api/keepalived.js';
import { canBuildLabs, Lab } from '../../src/lab/netns.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import { call } from '../../src/api/client.js';
import { seedModel, seedStatus } from './fixtures.js';

/** keepalived 2.2.7's keepalived.stats for one instance (SIGUSR2). */
const KA_STATS = `VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 2
  Became master: 1
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 0
  Priority Zero:
    Received: 0
    Sent: 0
`;

const shape = (text: string): string => text.replace(/\d+/g, 'N');

/** `key = value` lines of one block (the instance's, or the global definitions). */
function fields(text: string, start: RegExp, end: RegExp): Map<string, string> {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => start.test(l));
  const out = new Map<string, string>();
  if (i < 0) return out;
  for (const l of lines.slice(i + 1)) {
    if (end.test(l)) break;
    const m = /^\s+([A-Za-z][^=:]*?)\s*[=:]\s*(.*)$/.exec(l);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe('keepalived dumps: formats', () => {
  const s = seedStatus();
  const m = seedModel();

  it('keepalived.stats has keepalived 2.2.7 lines, with our counters in them', () => {
    const t = keepalivedStats(s);
    assert.equal(shape(t), shape(KA_STATS));
    assert.match(t, /Became master: 2\n {2}Released master: 1\n/);
    assert.match(t, / {2}Authentication Errors:\n {4}Invalid Type: 0\n {4}Type Mismatch: 0\n {4}Failure: 3\n/);
    assert.match(t, / {2}Priority Zero:\n {4}Received: 0\n {4}Sent: 1\n$/);
  });

  it('keepalived.json: keepalived 2.2.7 keys; the password masked', () => {
    const j = keepalivedJson(m, s) as { data: Record<string, unknown>; stats: Record<string, unknown> }[];
    assert.equal(j.length, 1);
    assert.deepEqual(Object.keys(j[0]!.stats), ['advert_rcvd', 'advert_sent', 'become_master', 'release_master', 'packet_len_err', 'advert_interval_err', 'ip_ttl_err', 'invalid_type_rcvd', 'addr_list_err', 'invalid_authtype', 'authtype_mismatch', 'auth_failure', 'pri_zero_rcvd', 'pri_zero_sent']);
    const d = j[0]!.data;
    assert.equal(d.iname, 'VI_1');
    assert.equal(d.state, 2, 'MASTER is 2 (vrrp.h VRRP_STATE_MAST)');
    assert.deepEqual(d.vips, ['192.168.2.100/24 dev eth0 scope global label eth0:vip set']);
    assert.equal(d.auth_type, 1);
    assert.equal(d.auth_data, '********');
    assert.ok(!JSON.stringify(j).includes('supersec'), 'the password never leaves');
  });

  it('keepalived.data: global definitions and the instance block; no password', () => {
    const t = keepalivedData(m, s);
    assert.match(t, /^------< Global definitions >------\n Network namespace = \(default\)\n Router ID = LB1\n/);
    const f = fields(t, /^ VRRP Instance = VI_1$/, /^ VRRP Instance|^-/);
    assert.equal(f.get('State'), 'MASTER');
    assert.equal(f.get('Virtual Router ID'), '51');
    assert.equal(f.get('Master down timer'), '3609375 usecs');
    assert.equal(f.get('Password'), '********');
    assert.match(f.get('Last transition')!, /^1795982404\.250000 \(\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.250000 2026\)$/);
    assert.ok(!t.includes('supersec'));
  });
});

const lab = canBuildLabs();
const haveKa = existsSync('/usr/sbin/keepalived');
const skip = !lab.ok ? lab.why : !haveKa ? 'keepalived is not installed' : undefined;

const CONF = (vrid: number, vip: string): string => `global_defs {
  router_id R${vrid}
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id ${vrid}
  priority 100
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass supersecret
  }
  virtual_ipaddress {
    ${vip}/24 dev eth0 label eth0:vip
  }
}
`;

describe('keepalived dumps: haldir beside keepalived 2.2.7', { skip }, () => {
  let L: Lab;
  const procs: ChildProcess[] = [];
  let dir: string;
  const out: string[] = [];
  before(async () => {
    L = new Lab('hk');
    dir = mkdtempSync(join(tmpdir(), 'haldir-kadump-'));
    for (const d of ['ka', 'hd']) mkdirSync(join(dir, d), { recursive: true });
    L.addHost('ka', { ip: '10.98.0.11/24' });
    L.addHost('hd', { ip: '10.98.0.12/24' });
    writeFileSync(join(dir, 'ka.conf'), CONF(61, '10.98.0.100'));
    writeFileSync(join(dir, 'hd.conf'), CONF(62, '10.98.0.101'));
    const ka = L.spawn('ka', '/usr/sbin/keepalived', ['-n', '-l', '-D', '-P', '-f', join(dir, 'ka.conf'), '-p', join(dir, 'ka.pid'), '-r', join(dir, 'ka-vrrp.pid')], { env: { ...process.env, TMPDIR: join(dir, 'ka') } });
    const hd = L.spawn('hd', process.execPath, [HALDIR, 'run', join(dir, 'hd.conf'), '--api-socket', join(dir, 'hd.sock')], { env: { ...process.env, TMPDIR: join(dir, 'hd') } });
    for (const p of [ka, hd]) {
      procs.push(p);
      p.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
      p.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    }
    // Both MASTER of their own VRID after master_down (3.6 s).
    const t0 = Date.now();
    while (!(L.exec('ka', 'ip', ['-4', 'addr']).includes('10.98.0.100') && L.exec('hd', 'ip', ['-4', 'addr']).includes('10.98.0.101'))) {
      if (Date.now() - t0 > 15000) throw new Error(`not both MASTER:\n${out.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const kaVrrp = Number(readFileSync(join(dir, 'ka-vrrp.pid'), 'utf8'));
    // SIGRTMIN+2: glibc's SIGRTMIN is 34 (the kernel's 32 plus two it keeps).
    for (const sig of ['SIGUSR1', 'SIGUSR2', 36] as const) process.kill(kaVrrp, sig);
    for (const sig of ['SIGUSR1', 'SIGUSR2', 36] as const) process.kill(hd.pid!, sig);
    const want = [join(dir, 'ka', 'keepalived.data'), join(dir, 'ka', 'keepalived.stats'), join(dir, 'ka', 'keepalived.json'), join(dir, 'hd', 'keepalived.data'), join(dir, 'hd', 'keepalived.stats'), join(dir, 'hd', 'keepalived.json')];
    while (!want.every((f) => existsSync(f))) {
      if (Date.now() - t0 > 20000) throw new Error(`dumps missing: ${want.filter((f) => !existsSync(f)).join(', ')}\n${out.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
  });
  after(async () => {
    for (const p of procs) await L?.stop(p, 3000);
    await L?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const read = (who: string, f: string): string => readFileSync(join(dir, who, f), 'utf8');

  it('the files on the signals, mode 0600, in $TMPDIR; SIGRTMIN+2 writes keepalived.json and haldir lives on', () => {
    for (const f of ['keepalived.data', 'keepalived.stats', 'keepalived.json']) assert.equal(statSync(join(dir, 'hd', f)).mode & 0o777, 0o600, f);
    assert.equal(procs[1]!.exitCode, null, 'haldir still running after SIGRTMIN+2');
    assert.equal(procs[1]!.signalCode, null);
    assert.ok(!existsSync(join(dir, 'hd', 'keepalived_check.data')), 'no virtual_server: no checker dump');
  });

  it('keepalived.stats: the same lines', () => {
    assert.equal(shape(read('hd', 'keepalived.stats')), shape(read('ka', 'keepalived.stats')));
    assert.match(read('hd', 'keepalived.stats'), /Became master: 1\n/);
  });

  it('keepalived.json (haldir: GET /api/v1/keepalived/json): the same keys and types; the same values for what the configuration decides', async () => {
    const ka = JSON.parse(read('ka', 'keepalived.json')) as { data: Record<string, unknown>; stats: Record<string, unknown> }[];
    const hd = await call<typeof ka>({ socket: join(dir, 'hd.sock') }, 'GET', '/api/v1/keepalived/json');
    const hdFile = JSON.parse(read('hd', 'keepalived.json')) as typeof ka;
    assert.deepEqual(Object.keys(hdFile[0]!.data).sort(), Object.keys(ka[0]!.data).sort(), 'the SIGRTMIN+2 file has the same keys');
    assert.deepEqual(Object.keys(hd[0]!.data).sort(), Object.keys(ka[0]!.data).sort());
    assert.deepEqual(Object.keys(hd[0]!.stats), Object.keys(ka[0]!.stats));
    for (const [k, v] of Object.entries(ka[0]!.data)) assert.equal(typeof hd[0]!.data[k], typeof v, `type of ${k}`);
    const same = ['iname', 'dont_track_primary', 'skip_check_adv_addr', 'strict_mode', 'ifp_ifname', 'garp_delay', 'garp_refresh', 'garp_rep', 'garp_refresh_rep', 'garp_lower_prio_delay', 'garp_lower_prio_rep', 'lower_prio_no_advert', 'base_priority', 'effective_priority', 'vipset', 'promote_secondaries', 'adver_int', 'master_adver_int', 'accept', 'nopreempt', 'preempt_delay', 'state', 'wantstate', 'version', 'smtp_alert', 'notify_deleted', 'auth_type'];
    for (const k of same) assert.deepEqual(hd[0]!.data[k], ka[0]!.data[k], k);
    assert.deepEqual(hd[0]!.data.vips, [(ka[0]!.data.vips as string[])[0]!.replace('10.98.0.100', '10.98.0.101')]);
    assert.equal(hd[0]!.data.auth_data, '********', 'keepalived 2.2.7 writes the password; haldir masks it as keepalived 2.3 does');
    assert.equal(hd[0]!.stats.become_master, ka[0]!.stats.become_master);
  });

  it("keepalived.data: every field haldir writes is keepalived's, with keepalived's value where the configuration decides it", () => {
    const hdData = read('hd', 'keepalived.data');
    const kaData = read('ka', 'keepalived.data');
    const inst = /^ VRRP Instance = VI_1$/;
    const end = /^ VRRP Instance|^------/;
    const hd = fields(hdData, inst, end);
    const ka = fields(kaData, inst, end);
    assert.ok(hd.size >= 25, `${hd.size} fields`);
    const differ = new Set(['Last transition', 'Password', 'Virtual Router ID', 'Flags']);
    for (const [k, v] of hd) {
      assert.ok(ka.has(k), `keepalived has no "${k}" in its instance block`);
      if (!differ.has(k)) assert.equal(v, ka.get(k), k);
    }
    assert.equal(hd.get('Virtual Router ID'), '62');
    assert.match(kaData, /^ {5}10\.98\.0\.100\/24 dev eth0 scope global label eth0:vip set$/m);
    assert.match(hdData, /^ {5}10\.98\.0\.101\/24 dev eth0 scope global label eth0:vip set$/m);
    const g = /^------< Global definitions >------$/;
    const gEnd = /^------/;
    const hg = fields(hdData, g, gEnd);
    const kg = fields(kaData, g, gEnd);
    for (const [k, v] of hg) {
      assert.ok(kg.has(k) || k.startsWith('Script security'), `keepalived has no global "${k}"`);
      if (k !== 'Router ID' && kg.has(k)) assert.equal(v, kg.get(k), `global ${k}`);
    }
  });
});
