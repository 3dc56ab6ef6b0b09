// The API's actions and reads doing what they say, on two real daemons (lab.ts) and
// through the real CLI: a drain moves the client's traffic off the server and undrain
// brings it back; a weight changes the split; `haldir failover` hands the VIP to lb2
// within its skew and lb1 stays BACKUP until `failover --resume`; every action is in
// the event stream and the log with who asked; the token never reaches a log;
// SIGUSR2 still prints the status line; metrics over TCP parse; `status --cluster`
// reaches every node of a cluster file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canBuildLabs } from '../../src/lab/netns.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import { main } from '../../src/cli/main.js';
import type { ApiEvent, NodeStatus } from '../../src/api/types.js';
import { ApiLab, sleep, TOKEN, unixRequest, VIP } from './lab.js';
import { promParse } from './promparse.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('daemon API: actions with effect, through the CLI (two daemons in a lab)', { skip }, () => {
  let L: ApiLab;
  const status = async (n: string): Promise<NodeStatus> => JSON.parse((await unixRequest(L.node(n).sock, 'GET', '/api/v1/status')).body) as NodeStatus;
  before(async () => {
    L = new ApiLab();
    await L.start();
    await L.until('lb1 MASTER with both servers up', async () => {
      try {
        const s = await status('lb1');
        return s.vrrp[0]?.state === 'MASTER' && s.services[0]!.realServers.every((r) => r.healthy) && L.holders().join() === 'lb1';
      } catch {
        return false;
      }
    }, 25000);
    await L.until('traffic through the VIP reaches both backends', () => Object.keys(L.probe(8).byServer).length === 2, 10000);
  });
  after(async () => {
    await L?.close();
  });

  it('status: the readable table and --json', async () => {
    const r = await cli('status', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^node lb1 — haldir \S+, pid \d+, up \d+s/);
    assert.match(r.out, /VI_1 +MASTER +100 +100 +71 +eth0 +10\.97\.0\.11 /);
    assert.match(r.out, /\[10\.97\.0\.12\]:tcp:8080 +up +1 /);
    const j = JSON.parse((await cli('status', '--socket', L.node('lb2').sock, '--json')).out) as NodeStatus;
    assert.equal(j.vrrp[0]!.state, 'BACKUP');
    assert.equal(j.vrrp[0]!.masterAddress, '10.97.0.11', 'the master, from its adverts');
    assert.ok(j.vrrp[0]!.lastAdvertAgeMs! < 1500);
    assert.equal(j.services[0]!.balancing, false);
  });

  it('drain: no new connections to lb2 (all go to lb1); undrain: both again; weight 3: lb2 gets three times as many', async () => {
    let r = await cli('drain', '10.97.0.12:8080', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^drain 10\.97\.0\.12:8080: weight 0 until undrain \(1 real server\(s\)\)\n {2}\[10\.97\.0\.12\]:tcp:8080 in \[10\.97\.0\.100\]:tcp:80\n$/);
    await L.until('lb2 drained in the status', async () => (await status('lb1')).services[0]!.realServers[1]!.state === 'draining', 3000);
    const p = L.probe(20);
    assert.deepEqual(p.byServer, { 'be-lb1': 20 }, JSON.stringify(p));
    r = await cli('undrain', '10.97.0.12:8080', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    await sleep(200);
    assert.deepEqual(L.probe(20).byServer, { 'be-lb1': 10, 'be-lb2': 10 });
    r = await cli('weight', '10.97.0.12:8080', '3', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    await sleep(200);
    const w = L.probe(40).byServer;
    assert.deepEqual(w, { 'be-lb1': 10, 'be-lb2': 30 }, 'wrr over weights 1 and 3');
    assert.equal((await status('lb1')).services[0]!.realServers[1]!.weightOverride, 3);
    r = await cli('weight', '10.97.0.12:8080', '--reset', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual((await status('lb1')).overrides, []);
  });

  it('the CLI refuses bad input with exit 2 and the daemon\'s refusals with exit 1 and its message', async () => {
    let r = await cli('weight', '10.97.0.12:8080', 'heavy', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 2);
    assert.match(r.err, /the weight must be a whole number/);
    r = await cli('drain', '10.97.0.99:8080', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 1);
    assert.match(r.err, /haldir drain: no real server 10\.97\.0\.99:8080\n {2}real servers: 10\.97\.0\.11:8080, 10\.97\.0\.12:8080\n/);
    r = await cli('failover', '--socket', L.node('lb2').sock);
    assert.equal(r.code, 1);
    assert.match(r.err, /this node is MASTER of no instance: VI_1 BACKUP \(master 10\.97\.0\.11\)/);
    r = await cli('status', '--socket', join(L.dir, 'nothing.sock'));
    assert.equal(r.code, 1);
    assert.match(r.err, /no haldir API at unix:.*nothing\.sock\n {2}is haldir run going\?/);
    r = await cli('status', '--api', 'http://10.97.0.11:9440');
    assert.equal(r.code, 2);
    assert.match(r.err, /--api needs --token-file/);
  });

  it('failover: lb2 holds the VIP within its skew (0.61 s); lb1 stays BACKUP (resigned); resume: lb1 preempts back', async () => {
    const t0 = Date.now();
    const r = await cli('failover', '--socket', L.node('lb1').sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /planned failover: VI_1 resigned/);
    const took = await L.until('lb2 holds the VIP', () => L.holders().join() === 'lb2', 5000);
    console.log(`# failover: lb2 holds ${VIP} ${took} ms after haldir failover returned (${Date.now() - t0} ms after it was run)`);
    assert.ok(took < 1500, `${took} ms`);
    await sleep(5000); // longer than lb1's master_down: it does not preempt back
    assert.equal(L.holders().join(), 'lb2');
    const s = await status('lb1');
    assert.deepEqual([s.vrrp[0]!.state, s.vrrp[0]!.resigned, s.vrrp[0]!.masterAddress], ['BACKUP', true, '10.97.0.12']);
    assert.equal(s.vrrp[0]!.stats.vrrpv3StatisticsSentPriZeroPackets, 1);
    assert.deepEqual(L.probe(10).failures, {}, 'traffic through lb2');
    const c = await cli('status', '--cluster', '--socket', L.node('lb1').sock);
    assert.match(c.out, /lb1 +VI_1 BACKUP \(resigned\) +100 +10\.97\.0\.12 /);
    assert.match(c.out, /lb2 +VI_1 MASTER +99 /);
    assert.match(c.out, /VI_1: MASTER lb2\n/);
    const back = await cli('failover', '--resume', '--socket', L.node('lb1').sock);
    assert.equal(back.code, 0, back.err);
    const t1 = await L.until('lb1 MASTER again', () => L.holders().join() === 'lb1', 10000);
    console.log(`# resume: lb1 holds the VIP again after ${t1} ms (its master_down, 3.61 s)`);
  });

  it("a real server stops: health's DOWN is an event and the status says why; it returns UP", async () => {
    await L.stopBackend('lb2');
    await L.until('lb2 down on lb1', async () => (await status('lb1')).services[0]!.realServers[1]!.state === 'down', 10000);
    const rs = (await status('lb1')).services[0]!.realServers[1]!;
    assert.deepEqual([rs.healthy, rs.weight, rs.inTable], [false, 0, false]);
    assert.match(rs.checks[0]!.lastReason!, /refused/);
    L.startBackend('lb2');
    await L.until('lb2 up again', async () => (await status('lb1')).services[0]!.realServers[1]!.state === 'up', 10000);
  });

  it('every action is an event with who asked, and a log line; the token never reaches a log', async () => {
    const ev = (await unixRequest(L.node('lb1').sock, 'GET', '/api/v1/events?backlog=1000', { streamMs: 300 })).body;
    const events = ev
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as ApiEvent);
    const kinds = events.map((e) => e.type);
    for (const k of ['vrrp', 'service', 'realserver', 'drain', 'undrain', 'weight', 'failover', 'resume']) assert.ok(kinds.includes(k as ApiEvent['type']), `${k} in ${kinds.join(',')}`);
    const drain = events.find((e) => e.type === 'drain')!;
    assert.equal(drain.by, 'unix socket');
    assert.ok(events.some((e) => e.type === 'vrrp' && e.from === 'MASTER' && e.to === 'BACKUP'));
    const down = events.find((e) => e.type === 'realserver' && e.up === false)!;
    assert.deepEqual([down.server, down.service], ['[10.97.0.12]:tcp:8080', '[10.97.0.100]:tcp:80']);
    assert.ok(events.some((e) => e.type === 'realserver' && e.up === true && e.id > down.id), 'and back UP');
    assert.match(L.log('lb1'), /info API: drain 10\.97\.0\.12:8080: weight 0 until undrain \(1 real server\(s\)\) action=drain by="unix socket"/);
    // An action over TCP names the peer and the token's name, never the token.
    const t = L.tcp('lb1', 'POST', '/api/v1/undrain', { body: JSON.stringify({ server: '10.97.0.12' }) });
    assert.equal(t.status, 200, t.body);
    await L.until('the TCP undrain logged', () => /API: undrain 10\.97\.0\.12: .* by="tcp 10\.97\.0\.10:\d+ token ops"/.test(L.log('lb1')), 3000);
    for (const n of L.nodes) assert.ok(!L.log(n.name).includes(TOKEN), `${n.name}'s log has the token`);
  });

  it('haldir events follows the stream: an action shows up while it runs', async () => {
    const lines: string[] = [];
    const follow = cli('events', '--socket', L.node('lb1').sock, '--backlog', '0', '--count', '1').then((r) => {
      lines.push(r.out);
      return r;
    });
    await sleep(300);
    await cli('drain', '10.97.0.12', '--socket', L.node('lb1').sock);
    try {
      const r = await follow;
      assert.equal(r.code, 0, r.err);
      assert.match(lines[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}drain {7}drain 10\.97\.0\.12: weight 0 until undrain \(1 real server\(s\)\) {2}\[by unix socket\]\n$/);
    } finally {
      await cli('undrain', '10.97.0.12', '--socket', L.node('lb1').sock);
    }
  });

  it('SIGUSR2 prints the {"status" line and writes keepalived.stats; SIGUSR1 keepalived.data', async () => {
    const n = L.node('lb1');
    const before = n.out.join('').split('\n').filter((l) => l.startsWith('{"status"')).length;
    process.kill(n.proc!.pid!, 'SIGUSR2');
    process.kill(n.proc!.pid!, 'SIGUSR1');
    await L.until('status line', () => n.out.join('').split('\n').filter((l) => l.startsWith('{"status"')).length > before, 3000);
    const line = n.out.join('').split('\n').filter((l) => l.startsWith('{"status"')).pop()!;
    const j = JSON.parse(line) as { status: { name: string; state: string }[]; dataplane: { ok: number } };
    assert.equal(j.status[0]!.state, 'MASTER');
    assert.ok(j.dataplane.ok > 0);
    await L.until('dumps', () => /Printing VRRP stats/.test(L.log('lb1')) && /Printing data/.test(L.log('lb1')), 3000);
    assert.match(readFileSync(join(n.tmp, 'keepalived.stats'), 'utf8'), /^VRRP Instance: VI_1\n {2}Advertisements:\n/);
    assert.match(readFileSync(join(n.tmp, 'keepalived.data'), 'utf8'), /^ VRRP Instance = VI_1\n {3}VRRP Version = 2\n {3}State = MASTER$/m);
    assert.match(readFileSync(join(n.tmp, 'keepalived_check.data'), 'utf8'), /RIP = 10\.97\.0\.12, RPORT = 8080, WEIGHT = 1 EFF WEIGHT = 1/);
    // Only the asked-for status lines: the API's own status requests print nothing.
    const lines = n.out.join('').split('\n').filter((l) => l.startsWith('{"status"')).length;
    assert.equal(lines, before + 1);
  });

  it('metrics over TCP with the token parse, with this daemon\'s values', () => {
    const r = L.tcp('lb1', 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^text\/plain; version=0\.0\.4/);
    const f = new Map(promParse(r.body).map((x) => [x.name, x]));
    const s = (name: string, labels: Record<string, string>) => f.get(name)?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    assert.equal(s('haldir_vrrp_state', { instance: 'VI_1', state: 'MASTER' })?.value, '1.0');
    assert.ok(Number(s('haldir_vrrp_transitions', { instance: 'VI_1', to: 'MASTER' })?.value) >= 2);
    assert.equal(s('haldir_realserver_up', { server: '[10.97.0.12]:tcp:8080' })?.value, '1.0');
    assert.ok(Number(s('haldir_check_duration_seconds', { check: 'TCP_CHECK', result: 'ok' })?.value) > 0, 'check durations observed');
    assert.ok(Number(f.get('haldir_dataplane_sync_duration_seconds')?.samples.find((x) => x.name.endsWith('_count'))?.value) > 0);
    assert.ok(Number(s('haldir_api_actions', { action: 'drain' })?.value) >= 1);
    assert.equal(s('haldir_dataplane_info', { kind: 'userspace' })?.value, '1.0');
  });

  it('status --cluster FILE: each node of a cluster file over TCP with the token (from the client namespace)', async () => {
    await L.until('lb1 master', () => L.holders().join() === 'lb1', 10000);
    const f = join(L.dir, 'cluster.yaml');
    writeFileSync(f, 'cluster: api\nnodes:\n  - { name: lb1, address: 10.97.0.11 }\n  - { name: lb2, address: 10.97.0.12 }\n  - { name: lb3, address: 10.97.0.13 }\n');
    const run = (): Promise<{ code: number; out: string }> =>
      new Promise((resolve) => {
        const p = spawn('ip', ['netns', 'exec', L.lab.host('client').ns, process.execPath, HALDIR, 'status', '--cluster', f, '--token-file', L.token, '--api-port', '9440'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.stderr.on('data', (b: Buffer) => (out += b.toString()));
        p.on('exit', (code) => resolve({ code: code ?? -1, out }));
      });
    return run().then((r) => {
      assert.equal(r.code, 1, `lb3 does not answer: exit 1\n${r.out}`);
      assert.match(r.out, /lb1 +VI_1 MASTER +100 /);
      assert.match(r.out, /lb2 +VI_1 BACKUP +99 /);
      assert.match(r.out, /lb3 +unreachable: /);
      assert.match(r.out, /VI_1: MASTER lb1\n/);
    });
  });
});
