// The nftables data plane doing NAT in network namespaces with real traffic: exact
// rr rotation, wrr ratios over 10,000 connections, port mapping, no-op reconcile,
// drift repair, and what `dataplane show` reads back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canBuildLabs } from '../../src/lab/netns.js';
import { BACKEND, DataplaneLab, DP_VIP, PROBE } from '../../src/lab/dp-lab.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import type { ChildProcess } from 'node:child_process';

/** Resolves with a child's stdout once `re` matches it. */
function waitOutput(c: ChildProcess, re: RegExp, ms: number, acc: { out: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; got: ${acc.out}`)), ms);
    const check = (): void => {
      if (re.test(acc.out)) {
        clearTimeout(t);
        resolve(acc.out);
      }
    };
    c.stdout!.on('data', (d: Buffer) => {
      acc.out += d.toString();
      check();
    });
    check();
  });
}

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;

const natConf = (sched: string, weights: number[], vport = 80, rport = 8080): string =>
  [
    `virtual_server ${DP_VIP} ${vport} {`,
    `  lb_algo ${sched}`,
    '  lb_kind NAT',
    '  protocol TCP',
    ...weights.map((w, i) => `  real_server 10.99.0.${21 + i} ${rport} { weight ${w} }`),
    '}',
    '',
  ].join('\n');

describe('nftables NAT in a lab: client → director → three real servers', { skip }, () => {
  let L: DataplaneLab;
  before(async () => {
    L = new DataplaneLab({ mode: 'NAT', directors: 1, servers: 3, ports: [80, 8080] });
    await L.startBackends();
  });
  after(async () => {
    await L?.close();
  });

  it('rr rotates exactly over the servers, with VIP:80 mapped to :8080', () => {
    const f = L.writeConfig('rr.conf', natConf('rr', [1, 1, 1]));
    const r = L.apply('lb1', f);
    assert.equal(r.code, 0, r.err);
    const p = L.probe(80, 9, { concurrency: 1, each: true });
    assert.deepEqual(p.failures, {});
    // numgen inc: consecutive connections take consecutive slots.
    const seq = p.per!;
    for (let i = 3; i < seq.length; i++) assert.equal(seq[i], seq[i - 3], `rotation at ${i}: ${seq.join(' ')}`);
    assert.equal(new Set(seq).size, 3);
  });

  it('a second apply of the same file changes nothing: the ruleset is byte-identical', () => {
    const f = L.writeConfig('rr.conf', natConf('rr', [1, 1, 1]));
    const before = L.nft('lb1', ['list', 'ruleset']);
    const r = L.apply('lb1', f);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no change needed: 0 change/);
    assert.equal(L.nft('lb1', ['list', 'ruleset']), before);
  });

  it('wrr 3:2:1 holds its ratios within 5 % over 10,000 connections', () => {
    const f = L.writeConfig('wrr.conf', natConf('wrr', [3, 2, 1]));
    const r = L.apply('lb1', f);
    assert.equal(r.code, 0, r.err);
    const p = L.probe(80, 10000, { concurrency: 50, timeoutMs: 10000 });
    assert.deepEqual(p.failures, {});
    const total = Object.values(p.byServer).reduce((a, b) => a + b, 0);
    assert.equal(total, 10000);
    const want: Record<string, number> = { be1: 3 / 6, be2: 2 / 6, be3: 1 / 6 };
    for (const [s, share] of Object.entries(want)) {
      const got = (p.byServer[s] ?? 0) / total;
      assert.ok(Math.abs(got - share) / share <= 0.05, `${s}: ${got.toFixed(4)} vs ${share.toFixed(4)} (${JSON.stringify(p.byServer)})`);
    }
  });

  it('changing one weight touches only that service; dataplane show reads the table back', () => {
    const two = natConf('wrr', [3, 2, 1]) + natConf('rr', [1, 1, 1], 81, 80);
    const r0 = L.apply('lb1', L.writeConfig('two.conf', two));
    assert.equal(r0.code, 0, r0.err);
    const changed = natConf('wrr', [3, 2, 1]) + natConf('rr', [1, 1, 0], 81, 80);
    const r = L.apply('lb1', L.writeConfig('two2.conf', changed));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    const changes = lines.filter((l) => /^[+~-] /.test(l));
    assert.ok(changes.length >= 1 && changes.every((l) => l.includes('10.99.0.100]:81') || l.includes('10.99.0.100 . tcp . 81 ')), r.out);
    const show = L.lab.exec('lb1', process.execPath, [new URL('../../../bin/haldir.js', import.meta.url).pathname, 'dataplane', 'show']);
    assert.match(show, /TCP {2}10\.99\.0\.100:80 wrr\n {2}-> 10\.99\.0\.21:8080 +Masq +3/);
    assert.match(show, /TCP {2}10\.99\.0\.100:81 rr\n(.*\n){2} {2}-> 10\.99\.0\.23:80 +Masq +0/);
    const p = L.probe(81, 30, { concurrency: 1 });
    assert.deepEqual(p.failures, {});
    assert.equal(p.byServer.be3, undefined, 'weight 0 gets no new connections');
    // Per-destination connection counters (ipvsadm -Ln --stats layout): 15 each on be1 and be2.
    const stats = L.lab.exec('lb1', process.execPath, [new URL('../../../bin/haldir.js', import.meta.url).pathname, 'dataplane', 'show', '--stats']);
    assert.match(stats, /TCP {2}10\.99\.0\.100:81 +30 /, stats);
    assert.match(stats, /-> 10\.99\.0\.21:80 +15 /, stats);
    assert.match(stats, /-> 10\.99\.0\.23:80 +0 /, stats);
  });

  it('objects removed behind haldir\'s back are restored and the repair is reported', () => {
    const f = L.writeConfig('rr.conf', natConf('rr', [1, 1, 1]));
    const first = L.apply('lb1', f);
    assert.equal(first.code, 0, first.err);
    L.nft('lb1', ['delete', 'element', 'ip', 'haldir', 'services', `{ ${DP_VIP} . tcp . 80 }`]);
    L.nft('lb1', ['flush', 'chain', 'ip', 'haldir', 'vs/tcp/10.99.0.100/80']);
    // Another table is not haldir's: it must survive untouched.
    L.nft('lb1', ['add', 'table', 'ip', 'operator']);
    const r = L.apply('lb1', f);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\+ element ip haldir services \{ 10\.99\.0\.100 \. tcp \. 80 \}/);
    assert.match(r.out, /~ service tcp:\[10\.99\.0\.100\]:80 .*\[drift repaired\]/);
    assert.match(L.nft('lb1', ['list', 'tables']), /table ip operator/);
    const p = L.probe(80, 6, { concurrency: 1 });
    assert.deepEqual(p.failures, {});
    assert.equal(Object.keys(p.byServer).length, 3);
  });

  it('drain: a removed server keeps weight 0 while its connection lives, and leaves when it ends', async () => {
    const all = L.writeConfig('rr.conf', natConf('rr', [1, 1, 1]));
    assert.equal(L.apply('lb1', all).code, 0);
    const holdOut = { out: '' };
    const holder = L.lab.spawn('client', process.execPath, [PROBE, '--to', `${DP_VIP}:80`, '--count', '3', '--hold']);
    const held = JSON.parse(await waitOutput(holder, /\n/, 5000, holdOut)) as { held: string[] };
    assert.deepEqual([...held.held].sort(), ['be1', 'be2', 'be3']);
    // be2 (10.99.0.22) leaves the configuration.
    const without = L.writeConfig('no-be2.conf', natConf('rr', [1, 1, 1]).replace(/ {2}real_server 10\.99\.0\.22 .*\n/, ''));
    const applyOut = { out: '' };
    const apply = L.lab.spawn('lb1', process.execPath, [HALDIR, 'apply', without, '--dataplane', 'nftables', '--drain', '30']);
    const exited = new Promise<number | null>((r) => apply.on('exit', (c) => r(c)));
    await waitOutput(apply, /draining tcp:\[10\.99\.0\.100\]:80 -> \[10\.99\.0\.22\]:8080/, 10000, applyOut);
    const show = L.lab.exec('lb1', process.execPath, [HALDIR, 'dataplane', 'show']);
    assert.match(show, /-> 10\.99\.0\.22:8080 +Masq +0 +1 /, show);
    const p = L.probe(80, 12, { concurrency: 1 });
    assert.deepEqual(p.failures, {});
    assert.equal(p.byServer.be2, undefined, 'no new connection to a draining server');
    holder.kill('SIGTERM');
    assert.equal(await exited, 0, applyOut.out);
    assert.match(applyOut.out, /drained: tcp:\[10\.99\.0\.100\]:80 -> \[10\.99\.0\.22\]:8080/);
    assert.doesNotMatch(L.lab.exec('lb1', process.execPath, [HALDIR, 'dataplane', 'show']), /10\.99\.0\.22/);
  });

  it('full NAT (--masquerade): real servers see the director as the client', () => {
    const f = L.writeConfig('rr.conf', natConf('rr', [1, 1, 1]));
    const plain = L.probe(80, 3, { concurrency: 1 });
    assert.deepEqual(plain.peers, { '10.98.0.10': 3 });
    const r = L.apply('lb1', f, ['--masquerade']);
    assert.equal(r.code, 0, r.err);
    const p = L.probe(80, 6, { concurrency: 1 });
    assert.deepEqual(p.failures, {});
    assert.deepEqual(p.peers, { '10.99.0.11': 6 });
    assert.equal(L.apply('lb1', f).code, 0);
  });

  it('UDP: rr per flow with port mapping (VIP:53 → :5353), replies come back through the director', async () => {
    for (const b of ['be1', 'be2', 'be3']) {
      const c = L.lab.spawn(b, process.execPath, [BACKEND, '--name', b, '--udp', '5353']);
      await waitOutput(c, /ready/, 5000, { out: '' });
    }
    const conf = natConf('rr', [1, 1, 1], 53, 5353).replace('protocol TCP', 'protocol UDP');
    const r = L.apply('lb1', L.writeConfig('udp.conf', conf));
    assert.equal(r.code, 0, r.err);
    // Nine datagrams from nine source ports: nine flows, rotated over the three servers.
    const script = `const d=require('dgram');let n=0,got={};for(let i=0;i<9;i++){const s=d.createSocket('udp4');s.on('message',m=>{const k=String(m).split(' ')[0];got[k]=(got[k]||0)+1;s.close();if(++n===9){console.log(JSON.stringify(got));process.exit(0)}});s.send('x',53,'${DP_VIP}')}setTimeout(()=>{console.log(JSON.stringify(got));process.exit(1)},3000)`;
    const out = L.lab.exec('client', process.execPath, ['-e', script]);
    assert.deepEqual(JSON.parse(out), { be1: 3, be2: 3, be3: 3 });
  });
});
