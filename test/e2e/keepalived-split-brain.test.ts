// The split brain haldir predicts in the seed, on real keepalived 2.2.7: lb1
// and lb2 in network namespaces (eth0 192.168.2.11/24 and .12/24 on one
// bridge, as the seed's files expect) run the seed's VERBATIM lb1.conf and
// lb2.conf. haldir validate --strict-keepalived predicts that keepalived runs
// lb2 without authentication and lb1 with PASS, so each drops the other's
// adverts: keepalived then holds the VIP on both nodes. haldir run on the
// same two files reads lb2's one-line authentication block as written: one
// node holds the VIP. Processes are stopped by PID (keepalived's VRRP child
// too, by its pid file); the namespaces are removed even on failure.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportKeepalived } from '../../src/config/keepalived/export.js';
import { loadKeepalivedFile } from '../../src/config/keepalived/load.js';
import { loadConfig } from '../../src/config/load.js';
import { canBuildLabs, Lab } from '../../src/lab/netns.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import { SEED } from '../helpers/paths.js';

const lab = canBuildLabs();
const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;
const skip = !lab.ok ? lab.why : !hasKeepalived ? 'keepalived is not installed' : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VIP = '192.168.2.100';
const NODES = ['lb1', 'lb2'] as const;

describe('the seed on keepalived 2.2.7: the split brain haldir predicts, and haldir without it', { skip }, () => {
  let L: Lab;
  const dir = mkdtempSync(join(tmpdir(), 'haldir-splitbrain-'));
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<string, string[]>();

  before(() => {
    L = new Lab('hb');
    // The seed's own addresses: its files name eth0 and 192.168.2.100/24 dev eth0.
    L.addHost('lb1', { ip: '192.168.2.11/24', mac: '02:94:00:00:00:11' });
    L.addHost('lb2', { ip: '192.168.2.12/24', mac: '02:94:00:00:00:12' });
  });
  after(async () => {
    await stopAll();
    await L?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(node: string, cmd: string, args: string[]): void {
    const p = L.spawn(node, cmd, args);
    const out: string[] = [];
    p.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    p.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    procs.set(node, p);
    logs.set(node, out);
  }

  /** Stops what runs on every node by PID; keepalived's VRRP child is killed by its pid file if it outlives its parent. */
  async function stopAll(): Promise<void> {
    for (const [node, p] of procs) {
      await L.stop(p, 5000);
      const child = join(dir, `${node}.vrrp.pid`);
      if (existsSync(child)) {
        const pid = Number(readFileSync(child, 'utf8').trim());
        try {
          if (pid > 0) process.kill(pid, 'SIGKILL');
        } catch {
          /* gone with its parent */
        }
        rmSync(child, { force: true });
      }
    }
    procs.clear();
  }

  const holders = () => NODES.filter((n) => L.exec(n, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${VIP}/`));
  const log = (n: string) => (logs.get(n) ?? []).join('');

  async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n${NODES.map((n) => `--- ${n}\n${log(n).slice(-3000)}`).join('\n')}`);
      await sleep(100);
    }
  }

  /** Who holds the VIP, sampled every 100 ms for `ms`. */
  async function sample(ms: number): Promise<string[]> {
    const seen = new Set<string>();
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      seen.add(holders().join(','));
      await sleep(100);
    }
    return [...seen];
  }

  it('haldir predicts it: validate --strict-keepalived reports the authentication split between lb1.conf and lb2.conf', () => {
    const files = [`${SEED}lb1.conf`, `${SEED}lb2.conf`];
    const real = loadConfig(files, { strictKeepalived: true });
    const d = real.diagnostics.find((x) => x.code === 'cluster-auth-mismatch');
    assert.ok(d, 'cluster-auth-mismatch');
    assert.match(d.message, /LB1 and LB2 use different authentication for VRID 51 \(PASS vs none\).*split brain: both become MASTER/);
    assert.ok(!loadConfig(files).diagnostics.some((x) => x.code === 'cluster-auth-mismatch'), 'as haldir reads them the files agree');
  });

  it('keepalived 2.2.7 on the verbatim files: both nodes hold the VIP', async () => {
    for (const n of NODES) {
      start(n, 'keepalived', ['--vrrp', '-n', '-l', '-D', '-f', `${SEED}${n}.conf`, '-p', join(dir, `${n}.pid`), '-r', join(dir, `${n}.vrrp.pid`)]);
    }
    // lb1 starts MASTER; lb2 drops lb1's adverts and takes the VIP after its master_down interval.
    await until('both nodes hold the VIP', () => holders().length === 2, 15000);
    assert.deepEqual(await sample(3000), ['lb1,lb2'], 'both hold it, all the time');
    assert.match(log('lb2'), /\(VI_1\) Authentication specified but no password given\. Ignoring/);
    assert.match(log('lb2'), /\(VI_1\) Entering MASTER STATE/);
    assert.match(log('lb1'), /\(VI_1\) Entering MASTER STATE/);
    await stopAll();
    await until('keepalived released the VIP', () => holders().length === 0, 5000);
  });

  it('haldir run on the same verbatim files: exactly one node (lb1) holds the VIP', async () => {
    for (const n of NODES) start(n, process.execPath, [HALDIR, 'run', `${SEED}${n}.conf`, '--vrrp-only']);
    await until('lb1 holds the VIP', () => holders().join() === 'lb1', 15000);
    // lb2's master_down is 3.6 s: sample well past it.
    assert.deepEqual(await sample(5000), ['lb1'], `only lb1, all the time\n${log('lb2').slice(-2000)}`);
    // haldir read lb2's one-line authentication block as written and warned that keepalived would not.
    assert.match(log('lb2'), /keepalived reads one keyword per line: here it sees `auth_type PASS` and ignores `auth_pass \*{8}`/);
    assert.doesNotMatch(log('lb1') + log('lb2'), /supersec/);
    await stopAll();
    await until('haldir released the VIP', () => holders().length === 0, 5000);
  });

  it('haldir on lb1.conf next to keepalived on haldir\'s export of lb2.conf: they agree on the 8-octet password, one node holds the VIP', async () => {
    // The export writes one keyword per line and the 8 octets VRRP carries; haldir sends the same 8 of "supersecret".
    const lb2 = join(dir, 'lb2.export.conf');
    writeFileSync(lb2, exportKeepalived(loadKeepalivedFile(`${SEED}lb2.conf`).model));
    // haldir first: keepalived then hears its adverts from the start (a keepalived started alone would be MASTER first).
    start('lb1', process.execPath, [HALDIR, 'run', `${SEED}lb1.conf`, '--vrrp-only']);
    await until('lb1 holds the VIP', () => holders().join() === 'lb1', 15000);
    start('lb2', 'keepalived', ['--vrrp', '-n', '-l', '-D', '-f', lb2, '-p', join(dir, 'lb2.pid'), '-r', join(dir, 'lb2.vrrp.pid')]);
    await until('keepalived started', () => /Entering BACKUP STATE/.test(log('lb2')), 10000);
    assert.deepEqual(await sample(5000), ['lb1'], `only lb1, all the time\n${log('lb2').slice(-2000)}`);
    assert.match(log('lb2'), /\(VI_1\) Entering BACKUP STATE/);
    assert.doesNotMatch(log('lb2'), /Entering MASTER STATE|received an invalid passwd|Authentication specified but no password/);
    await stopAll();
  });
});
