// `haldir run` as a whole director in a lab: two directors (VRRP MASTER/BACKUP) in DR
// mode in front of three real servers with TCP checks. Only the master balances; a
// failed server leaves the rotation and comes back; the backup takes over on link
// loss; SIGHUP with a broken file keeps serving, with a new service adds it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { canBuildLabs } from '../../src/lab/netns.js';
import { DataplaneLab, DP_VIP, PROBE } from '../../src/lab/dp-lab.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const conf = (prio: number, ports: number[]): string =>
  [
    'vrrp_instance VI_1 {',
    '  state BACKUP',
    '  interface eth0',
    '  virtual_router_id 51',
    `  priority ${prio}`,
    '  advert_int 1',
    `  virtual_ipaddress { ${DP_VIP}/32 dev eth0 }`,
    '}',
    ...ports.flatMap((port) => [
      `virtual_server ${DP_VIP} ${port} {`,
      '  delay_loop 1',
      '  lb_algo rr',
      '  lb_kind DR',
      '  protocol TCP',
      ...[21, 22, 23].map((n) => `  real_server 10.99.0.${n} ${port} { weight 1\n    TCP_CHECK { connect_timeout 1 retry 1 delay_before_retry 1 }\n  }`),
      '}',
    ]),
    '',
  ].join('\n');

describe('haldir run: VRRP + health + nftables DR, two directors', { skip }, () => {
  let L: DataplaneLab;
  const daemons = new Map<string, { proc: ChildProcess; out: string[]; file: string }>();
  before(async () => {
    L = new DataplaneLab({ mode: 'DR', directors: 2, servers: 3, ports: [80, 8080], staticVip: false });
    await L.startBackends();
    for (const [d, prio] of [['lb1', 100], ['lb2', 99]] as const) {
      const file = L.writeConfig(`${d}.conf`, conf(prio, [80]));
      const proc = L.lab.spawn(d, process.execPath, [HALDIR, 'run', file, '--dataplane', 'nftables']);
      const out: string[] = [];
      proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
      proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
      daemons.set(d, { proc, out, file });
    }
  });
  after(async () => {
    for (const d of daemons.values()) await L.lab.stop(d.proc, 3000);
    await L?.close();
  });

  const log = (d: string): string => daemons.get(d)!.out.join('');
  async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n--- lb1:\n${log('lb1').slice(-3000)}\n--- lb2:\n${log('lb2').slice(-2000)}`);
      await sleep(100);
    }
    return Date.now() - t0;
  }
  const programmed = (d: string, port = 80): boolean => {
    try {
      return L.nft(d, ['list', 'map', 'netdev', 'haldir', 'dr4']).includes(`${DP_VIP} . tcp . ${port} :`);
    } catch {
      return false;
    }
  };

  it('the master balances over all three servers; the backup programs nothing', async () => {
    await until('lb1 MASTER and programmed', () => /VI_1: \w+ -> MASTER/.test(log('lb1')) && programmed('lb1'), 15000);
    await sleep(1500);
    assert.equal(programmed('lb2'), false, 'a backup must not balance (it would forward again what the master sends it)');
    const p = L.probe(80, 30, { concurrency: 5 });
    assert.deepEqual(p.failures, {});
    assert.deepEqual(Object.keys(p.byServer).sort(), ['be1', 'be2', 'be3']);
  });

  it('a real server that fails its check leaves the rotation, and comes back', async () => {
    await L.stopBackend('be2');
    // delay_loop 1 + (retry 1 + 1) × connect_timeout 1 + retry × delay_before_retry 1, plus margin.
    const left = await until('be2 removed', () => /10\.99\.0\.22\]:tcp:80 DOWN/.test(log('lb1')) && !L.nft('lb1', ['list', 'table', 'netdev', 'haldir']).includes('10.99.0.22/80'), 8000);
    const p = L.probe(80, 30, { concurrency: 5 });
    assert.deepEqual(p.failures, {}, `after removal (${left} ms)`);
    assert.equal(p.byServer.be2, undefined);
    await L.startBackends([80, 8080], ['be2']);
    await until('be2 back', () => L.nft('lb1', ['list', 'table', 'netdev', 'haldir']).includes('10.99.0.22/80'), 8000);
    assert.ok(L.probe(80, 30, { concurrency: 5 }).byServer.be2! > 0);
  });

  it('SIGHUP with a broken file keeps serving; with a new service adds it', async () => {
    const d = daemons.get('lb1')!;
    writeFileSync(d.file, conf(100, [80]) + 'virtual_server 10.99.0.100 81 { lb_algo rr\n  lb_kindd DR\n}\n');
    d.proc.kill('SIGHUP');
    await until('reload refused', () => /reload refused/.test(log('lb1')), 5000);
    assert.deepEqual(L.probe(80, 9, { concurrency: 3 }).failures, {}, log('lb1').slice(-4000));
    const counter80 = (): number => Number(/counter packets (\d+)/.exec(L.nft('lb1', ['list', 'chain', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80']))?.[1] ?? -1);
    const before80 = counter80();
    assert.ok(before80 > 0);
    writeFileSync(d.file, conf(100, [80, 8080]));
    d.proc.kill('SIGHUP');
    await until('8080 programmed', () => programmed('lb1', 8080), 8000);
    // Only the new service was programmed: port 80's objects (and counters) were not touched.
    assert.ok(counter80() >= before80, `port 80 counter reset by the reload: ${before80} -> ${counter80()}`);
    // DR hashes flows: 60 connections reach all three servers but with odds of 1e-10 (9 missed one in 13 runs).
    const p = L.probe(8080, 60, { concurrency: 6 });
    assert.deepEqual(p.failures, {});
    assert.equal(Object.keys(p.byServer).length, 3);
  });

  it('kill -9 of the master and a restart: no takeover, the kernel objects kept (counters too), no failed connection', async () => {
    const d = daemons.get('lb1')!;
    const counter80 = (): number => Number(/counter packets (\d+)/.exec(L.nft('lb1', ['list', 'chain', 'netdev', 'haldir', 'vs/tcp/10.99.0.100/80']))?.[1] ?? -1);
    const lb2Masters = (): number => (log('lb2').match(/VI_1: \w+ -> MASTER/g) ?? []).length;
    const mastersBefore = lb2Masters();
    // Connections all the way through: a probe of 10 every 100 ms from the client.
    let failures = 0;
    let ok = 0;
    let probing = true;
    const loop = (async () => {
      while (probing) {
        const p = L.lab.spawn('client', process.execPath, [PROBE, '--to', `${DP_VIP}:80`, '--count', '10', '--concurrency', '2', '--timeout', '1000']);
        let out = '';
        p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        await new Promise<void>((r) => p.on('exit', () => r()));
        const r = JSON.parse(out) as { byServer: Record<string, number>; failures: Record<string, number> };
        ok += Object.values(r.byServer).reduce((a, b) => a + b, 0);
        failures += Object.values(r.failures).reduce((a, b) => a + b, 0);
        await sleep(100);
      }
    })();
    await sleep(500);
    const before80 = counter80();
    const exited = new Promise<void>((r) => d.proc.once('exit', () => r()));
    d.proc.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    await sleep(300);
    const proc = L.lab.spawn('lb1', process.execPath, [HALDIR, 'run', d.file, '--dataplane', 'nftables']);
    const out: string[] = [];
    proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    daemons.set('lb1', { proc, out, file: d.file });
    await until('lb1 resumed and balancing', () => /resuming as MASTER/.test(log('lb1')) && /haldir balancing/.test(log('lb1')), 8000);
    // Past lb2's master_down (3 × 1 s + 157/256 s) counted from the crash, with margin.
    await sleep(Math.max(0, 5000 - (Date.now() - t0)));
    probing = false;
    await loop;
    assert.equal(lb2Masters(), mastersBefore, `lb2 took over during the restart:\n${log('lb2').slice(-2000)}`);
    assert.equal(failures, 0, `${failures} of ${failures + ok} connections failed`);
    assert.ok(ok > 50, `only ${ok} connections made`);
    assert.ok(counter80() >= before80, `port 80's objects were recreated (counter ${before80} -> ${counter80()})`);
    assert.doesNotMatch(log('lb1'), /data plane updated/, 'the first reconcile found everything in place');
  });

  it('master link down: the backup takes the VIP, programs the services and serves', async () => {
    L.lab.setLink('lb1', false);
    try {
      const took = await until('lb2 MASTER and programmed', () => /VI_1: \w+ -> MASTER/.test(log('lb2')) && programmed('lb2'), 10000);
      await sleep(300);
      const p = L.probe(80, 30, { concurrency: 5, timeoutMs: 5000 });
      assert.deepEqual(p.failures, {}, `after takeover in ${took} ms`);
      assert.equal(Object.keys(p.byServer).length, 3);
    } finally {
      L.lab.setLink('lb1', true);
    }
  });

  it('a slow 100 MB download survives a director failover (same flow hash on both directors)', async () => {
    const holds = (d: string): boolean => L.lab.exec(d, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${DP_VIP}/`);
    await until('lb1 master again', () => holds('lb1') && programmed('lb1') && !holds('lb2') && !programmed('lb2'), 15000);
    await sleep(1500);
    const dl = L.lab.spawn('client', process.execPath, [PROBE, '--to', `${DP_VIP}:80`, '--bulk', '100000000', '--rate', '12']);
    let out = '';
    dl.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<void>((r) => dl.on('exit', () => r()));
    await sleep(2000);
    L.lab.setLink('lb1', false);
    try {
      await done;
    } finally {
      L.lab.setLink('lb1', true);
    }
    const r = JSON.parse(out) as { received: number; expected: number; error?: string; ms: number };
    assert.equal(r.error, undefined, out);
    assert.equal(r.received, r.expected, out);
    assert.ok((log('lb2').match(/VI_1: \w+ -> MASTER/g) ?? []).length >= 2, 'lb2 took over during the download');
  });
});
