// `haldir lab` end to end, as an operator uses it: `lab up` in the foreground (its own
// process, control socket in a temp dir), then `lab status`, `lab fault` (nginx stopped
// and healed, a partition's split brain and its healing, a whole node killed and
// healed, an upstream stopped), `lab traffic` and `lab down` from other processes; `lab
// down` after `lab up` was SIGKILLed; and `lab status` / `lab down` / `lab fault` with no
// lab running.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canBuildLabs } from '../../src/lab/netns.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import type { LabStatus } from '../../src/lab/control.js';

const can = canBuildLabs();
const skip = !can.ok ? can.why : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** `haldir ARGS` in its own process (asynchronously: `lab up`'s output keeps being read meanwhile). */
function haldir(socket: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HALDIR, ...args], { env: { ...process.env, HALDIR_LAB_SOCKET: socket }, encoding: 'utf8', timeout: 90_000 }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : 1) : 0;
      resolve({ code, out, err });
    });
  });
}

describe('haldir lab with no lab running', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-lab-none-'));
  const socket = join(dir, 'lab.sock');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lab status exits 1 and says how to start one', async () => {
    const r = await haldir(socket, 'lab', 'status');
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /no lab is running \(start one with haldir lab up\)/);
  });

  it('lab down exits 0', async () => {
    const r = await haldir(socket, 'lab', 'down');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no lab (is|was) running/);
  });

  it('an unknown fault or node is a usage error (exit 2) listing the valid ones', async () => {
    const a = await haldir(socket, 'lab', 'fault', 'explode', 'lb1');
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown fault "explode".*link-down <lbN>, kill <lbN>, stop-daemon <lbN>, stop-nginx <lbN>, stop-upstream <IP>, partition <lbA> <lbB>, heal/);
    const b = await haldir(socket, 'lab', 'fault', 'kill', 'lb9');
    assert.equal(b.code, 2);
    assert.match(b.err, /unknown node "lb9": the nodes are lb1, lb2, lb3, lb4/);
    const c = await haldir(socket, 'lab', 'fault', 'partition', 'lb1', 'lb1');
    assert.equal(c.code, 2);
  });
});

describe('haldir lab: up, status, faults, traffic, down', { skip }, () => {
  let dir: string;
  let socket: string;
  let up: ChildProcess | undefined;
  let upOut = '';
  let upExit: Promise<number | null>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'haldir-lab-'));
    socket = join(dir, 'lab.sock');
    const t0 = Date.now();
    const p = spawn(process.execPath, [HALDIR, 'lab', 'up'], { env: { ...process.env, HALDIR_LAB_SOCKET: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
    up = p;
    upExit = new Promise((res) => p.once('exit', (code) => res(code)));
    p.stdout!.on('data', (b: Buffer) => (upOut += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (upOut += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`lab up: no "lab is up" within 60 s:\n${upOut}`)), 60_000);
      const check = (): void => {
        if (/^lab is up; /m.test(upOut)) {
          clearTimeout(t);
          resolve();
        }
      };
      p.stdout!.on('data', check);
      p.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`lab up exited (${code}) before the lab was up:\n${upOut}`));
      });
    });
    console.log(`# lab up: ready after ${Date.now() - t0} ms`);
  });

  after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGTERM');
      const done = await Promise.race([upExit.then(() => true), sleep(20_000).then(() => false)]);
      if (!done) {
        up.kill('SIGKILL');
        await upExit;
      }
    }
    // Whatever is left (a crashed or killed lab up): the command's own cleanup.
    if (up?.pid !== undefined && execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`hs${up.pid}-`)) await haldir(socket, 'lab', 'down');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function status(): Promise<LabStatus> {
    const r = await haldir(socket, 'lab', 'status', '--json');
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as LabStatus;
  }

  /** Polls `lab status --json` until `cond`; returns the time it took and the last status. */
  async function until(what: string, cond: (s: LabStatus) => boolean, ms: number): Promise<{ took: number; st: LabStatus }> {
    const t0 = Date.now();
    let st = await status();
    while (!cond(st)) {
      if (Date.now() - t0 > ms) {
        const text = await haldir(socket, 'lab', 'status');
        throw new Error(`not within ${ms} ms: ${what}\n${text.out}\n--- lab up:\n${upOut.slice(-3000)}`);
      }
      await sleep(300);
      st = await status();
    }
    return { took: Date.now() - t0, st };
  }

  const has = (st: LabStatus, ip: string): boolean => st.realServers.some((r) => r.address === ip);

  it('status: lb1 is master and balances, four real servers, every node serving', { timeout: 60_000 }, async () => {
    const { st } = await until('lb1 master with four real servers', (s) => s.master === 'lb1' && s.realServers.length === 4, 15_000);
    assert.deepEqual(st.holders, ['lb1']);
    assert.equal(st.splitBrain, false);
    assert.equal(st.tableFrom, 'lb1');
    assert.deepEqual(st.realServers.map((r) => r.node), ['lb1', 'lb2', 'lb3', 'lb4']);
    for (const rs of st.realServers) assert.deepEqual(rs.ports, [80, 443, 8443, 6443], rs.address);
    for (const n of st.nodes) {
      assert.equal(n.daemon, true, n.name);
      assert.equal(n.nginx, true, n.name);
      assert.equal(n.link, 'up', n.name);
      assert.equal(n.vrrp, n.name === 'lb1' ? 'MASTER' : 'BACKUP', n.name);
      assert.equal(n.balances, n.name === 'lb1', `${n.name} balances`);
    }
    const text = await haldir(socket, 'lab', 'status');
    assert.match(text.out, /^master: lb1$/m);
    assert.match(text.out, /real servers in lb1's table .*: 4/);
    // One lab at a time.
    const second = await haldir(socket, 'lab', 'up');
    assert.equal(second.code, 1);
    assert.match(second.err, /a lab is already running \(hs\d+-\d+, pid \d+, ready;/);
  });

  it('fault stop-nginx lb3: lb3 leaves the master\'s table; heal brings it back', { timeout: 60_000 }, async () => {
    const f = await haldir(socket, 'lab', 'fault', 'stop-nginx', 'lb3');
    assert.equal(f.code, 0, f.err);
    assert.match(f.out, /^\d\d:\d\d:\d\d\.\d{3} lb3: nginx stopped/m);
    const gone = await until('lb3 out of lb1\'s table', (s) => !has(s, '192.168.2.13'), 15_000);
    console.log(`# lb3 left the table ${gone.took} ms after stop-nginx`);
    assert.equal(gone.st.nodes.find((n) => n.name === 'lb3')!.nginx, false);
    assert.equal(gone.st.faults.length, 1);
    const h = await haldir(socket, 'lab', 'fault', 'heal');
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /lb3: nginx started/);
    const back = await until('lb3 back in the table', (s) => s.realServers.length === 4, 20_000);
    console.log(`# lb3 back ${back.took} ms after heal`);
    assert.deepEqual(back.st.faults, []);
  });

  it('fault partition lb1 lb2: lb2 takes the VIP too (split brain); heal leaves lb1 alone', { timeout: 60_000 }, async () => {
    const f = await haldir(socket, 'lab', 'fault', 'partition', 'lb1', 'lb2');
    assert.equal(f.code, 0, f.err);
    assert.match(f.out, /partition lb1 \| lb2/);
    const split = await until('lb1 and lb2 both holding the VIP', (s) => s.holders.includes('lb1') && s.holders.includes('lb2'), 10_000);
    console.log(`# split brain after ${split.took} ms`);
    assert.equal(split.st.splitBrain, true);
    assert.match((await haldir(socket, 'lab', 'status')).out, /SPLIT BRAIN: lb1 and lb2 hold the VIP/);
    const h = await haldir(socket, 'lab', 'fault', 'heal');
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /partition removed/);
    const one = await until('only lb1 holding the VIP', (s) => s.holders.join() === 'lb1', 10_000);
    console.log(`# only lb1 holds the VIP ${one.took} ms after heal`);
    assert.equal(one.st.master, 'lb1');
  });

  it('fault kill lb1: the whole node goes, lb2 takes over; heal brings lb1 back as master', { timeout: 60_000 }, async () => {
    const f = await haldir(socket, 'lab', 'fault', 'kill', 'lb1');
    assert.equal(f.code, 0, f.err);
    assert.match(f.out, /lb1: killed — haldir \(pid \d+\) SIGKILLed, VIP 192\.168\.2\.100 removed from eth0, nginx stopped, link down/);
    const over = await until('lb2 master', (s) => s.master === 'lb2' && s.tableFrom === 'lb2' && !has(s, '192.168.2.11'), 25_000);
    console.log(`# lb2 master without lb1 in its table ${over.took} ms after kill`);
    const lb1 = over.st.nodes.find((n) => n.name === 'lb1')!;
    assert.deepEqual([lb1.link, lb1.daemon, lb1.nginx, lb1.vip], ['down', false, false, false]);
    const h = await haldir(socket, 'lab', 'fault', 'heal');
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /lb1: link up[\s\S]*lb1: nginx started[\s\S]*lb1: haldir run started/);
    const back = await until('lb1 master again with four real servers', (s) => s.holders.join() === 'lb1' && s.tableFrom === 'lb1' && s.realServers.length === 4, 30_000);
    console.log(`# lb1 master again ${back.took} ms after heal`);
  });

  it('fault stop-upstream: the upstream shows stopped; heal starts it', { timeout: 30_000 }, async () => {
    const f = await haldir(socket, 'lab', 'fault', 'stop-upstream', '192.168.3.33');
    assert.equal(f.code, 0, f.err);
    assert.match(f.out, /upstream 192\.168\.3\.33 stopped: \/healthz of lb3/);
    assert.equal((await status()).upstreams.find((u) => u.ip === '192.168.3.33')!.running, false);
    const h = await haldir(socket, 'lab', 'fault', 'heal');
    assert.match(h.out, /upstream 192\.168\.3\.33 started/);
    assert.equal((await status()).upstreams.every((u) => u.running), true);
  });

  it('traffic --seconds 3: three lines, each with successes', { timeout: 30_000 }, async () => {
    const r = await haldir(socket, 'lab', 'traffic', '--seconds', '3');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3}\s+ok /.test(l));
    assert.equal(lines.length, 3, r.out);
    for (const l of lines) assert.ok(Number(/ok\s+(\d+)/.exec(l)![1]) > 0, l);
    assert.match(r.out, /^3 s: \d+ answered/m);
  });

  it('down: lab up exits 0 and leaves no namespace', { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const r = await haldir(socket, 'lab', 'down');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /is down after/);
    assert.equal(await upExit, 0, upOut.slice(-2000));
    console.log(`# lab down took ${Date.now() - t0} ms`);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith(`hs${up!.pid}`));
    assert.deepEqual(left, []);
    assert.equal(existsSync(socket), false);
    assert.equal(existsSync(`${socket}.json`), false);
    // And nothing answers any more.
    assert.equal((await haldir(socket, 'lab', 'status')).code, 1);
  });
});

describe('haldir lab down after lab up crashed (SIGKILL)', { skip }, () => {
  let dir: string;
  let up: ChildProcess | undefined;
  after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    if (up?.pid !== undefined && execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`hs${up.pid}-`)) await haldir(join(dir, 'lab.sock'), 'lab', 'down');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('removes the namespaces, kills the processes left in them and the stale socket', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'haldir-lab-crash-'));
    const socket = join(dir, 'lab.sock');
    const p = spawn(process.execPath, [HALDIR, 'lab', 'up'], { env: { ...process.env, HALDIR_LAB_SOCKET: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
    up = p;
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((res) => p.once('exit', () => res()));
    const t0 = Date.now();
    while (!/^lab is up; /m.test(out)) {
      assert.ok(Date.now() - t0 < 60_000 && p.exitCode === null, `lab up did not come up:\n${out}`);
      await sleep(100);
    }
    const st = JSON.parse((await haldir(socket, 'lab', 'status', '--json')).out) as LabStatus;
    const nsList = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`hs${p.pid}-`));
    const namespaces = nsList();
    assert.equal(namespaces.length, 9, namespaces.join(' '));
    const pids = namespaces.flatMap((ns) => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number));
    assert.ok(pids.length >= 11, `daemons, nginx and upstreams: ${pids.join(' ')}`);
    const state = JSON.parse(readFileSync(`${socket}.json`, 'utf8')) as { pid: number; dir: string };
    assert.equal(state.pid, p.pid);
    assert.ok(existsSync(state.dir), state.dir);
    p.kill('SIGKILL');
    await exited;
    // lab status: the socket file is there, nobody answers.
    const s = await haldir(socket, 'lab', 'status');
    assert.equal(s.code, 1);
    assert.match(s.err, /no lab is running/);
    const r = await haldir(socket, 'lab', 'down');
    assert.equal(r.code, 0, r.err);
    for (const ns of namespaces) assert.match(r.out, new RegExp(`removed namespace ${ns}\\b`));
    assert.match(r.out, /removed the stale control socket/);
    assert.equal(existsSync(state.dir), false, `${state.dir} left behind`);
    assert.equal(existsSync(`${socket}.json`), false);
    assert.deepEqual(nsList(), []);
    // SIGKILL is delivered asynchronously; a zombie waiting for init to reap it counts as gone.
    const running = (pid: number): boolean => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const k0 = Date.now();
    while (pids.some(running) && Date.now() - k0 < 5000) await sleep(100);
    assert.deepEqual(pids.filter(running), [], 'processes of the crashed lab still running');
    assert.equal(st.tag.startsWith(`hs${p.pid}-`), true);
  });
});
