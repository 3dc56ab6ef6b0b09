// The API and its CLI without root or namespaces: `haldir run` on loopback (userspace
// data plane, no VRRP) with its API on a unix socket and on 127.0.0.1 with a token;
// the CLI's usage errors (exit 2) and refusals (exit 1); drain moving real traffic;
// failover/resume refused on a node without VRRP; SIGUSR1/SIGUSR2 on such a node; the
// socket removed at exit, and a stale one replaced at start.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { call } from '../../src/api/client.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import type { NodeStatus } from '../../src/api/types.js';

const TOKEN = 'feedface'.repeat(6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A backend answering every connection with its name. */
function backend(name: string, port: number): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer((c) => {
      c.on('error', () => undefined);
      c.end(`${name}\n`);
    }).listen(port, '127.0.0.1', () => resolve(s));
  });
}

function hit(port: number): Promise<string> {
  return new Promise((resolve) => {
    let d = '';
    const c = connect(port, '127.0.0.1');
    c.on('data', (b) => (d += b.toString()));
    c.on('end', () => resolve(d.trim()));
    c.on('error', (e) => resolve(`error ${e.message}`));
  });
}

async function spread(port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await hit(port);
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

describe('CLI usage errors (no daemon needed)', () => {
  it('exit 2 with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['status', '--api', 'http://127.0.0.1:1'], /--api needs --token-file/],
      [['status', '--socket', '/x', '--token-file', '/y'], /--token-file is for --api/],
      [['status', '--api', 'ftp://x:1', '--token-file', '/y'], /--api must be|plain HTTP/],
      [['status', '--keepalived', 'xml', '--socket', '/x'], /--keepalived must be data, check-data, stats or json/],
      [['weight', 'lb3:80', '--socket', '/x'], /give the weight \(an integer\), or --reset/],
      [['weight', 'lb3:80', '5', '--reset', '--socket', '/x'], /give a weight or --reset, not both/],
      [['events', '--backlog', '5000', '--socket', '/x'], /--backlog must be 0–1000/],
      [['status', '--cluster', '/nonexistent.yaml', '--token-file', '/y'], /cannot read the cluster file \/nonexistent\.yaml: ENOENT/],
      [['run', 'examples/seed/lb1.conf', '--api-listen', 'localhost'], /--api-listen must be ADDR:PORT/],
      [['run', 'examples/seed/lb1.conf', '--api-listen', '127.0.0.1:9440'], /--api-listen needs --api-token-file/],
      [['run', 'examples/seed/lb1.conf', '--peer-api', 'lb2'], /--peer-api must be NAME=HOST:PORT/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, re, argv.join(' '));
    }
  });

  it('no daemon at the socket: exit 1 and what to check', async () => {
    const r = await cli('status', '--socket', join(tmpdir(), 'haldir-none.sock'));
    assert.equal(r.code, 1);
    assert.match(r.err, /no haldir API at unix:.*haldir-none\.sock\n {2}is haldir run going\?/);
  });
});

describe('haldir run on loopback (no VRRP): the API, the CLI, signals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-apicli-'));
  const sock = join(dir, 'api.sock');
  const tokenFile = join(dir, 'token');
  let vip = 0;
  let tcp = 0;
  const servers: Server[] = [];
  let d: ChildProcess;
  const out: string[] = [];
  const log = () => out.join('');

  async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n${log().slice(-3000)}`);
      await sleep(50);
    }
  }

  before(async () => {
    [vip, tcp] = [await freePort(), await freePort()];
    const b = [await freePort(), await freePort()];
    servers.push(await backend('be1', b[0]!), await backend('be2', b[1]!));
    writeFileSync(tokenFile, `ci ${TOKEN}\n`, { mode: 0o600 });
    const rs = (p: number) => [`  real_server 127.0.0.1 ${p} {`, '    weight 1', '    TCP_CHECK {', '      connect_timeout 1', '    }', '  }'];
    writeFileSync(join(dir, 'lo.conf'), ['global_defs {', '  router_id LO', '}', `virtual_server 127.0.0.1 ${vip} {`, '  delay_loop 2', '  lb_algo wrr', '  lb_kind NAT', '  protocol TCP', ...rs(b[0]!), ...rs(b[1]!), '}', ''].join('\n'));
    // A socket a killed process left behind (SIGKILL: no clean-up): replaced at start.
    const k = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => k.stdout!.once('data', r));
    k.kill('SIGKILL');
    await new Promise((r) => k.once('exit', r));
    assert.ok(existsSync(sock), 'a stale socket file');
    d = spawn(process.execPath, [HALDIR, 'run', join(dir, 'lo.conf'), '--dataplane', 'userspace', '--api-socket', sock, '--api-listen', `127.0.0.1:${tcp}`, '--api-token-file', tokenFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
    d.stdout!.on('data', (x: Buffer) => out.push(x.toString()));
    d.stderr!.on('data', (x: Buffer) => out.push(x.toString()));
    await until('both real servers up', async () => {
      try {
        const s = await call<NodeStatus>({ socket: sock }, 'GET', '/api/v1/status');
        return s.services[0]!.realServers.every((r) => r.healthy) && s.services[0]!.balancing;
      } catch {
        return false;
      }
    }, 15000);
  });

  after(async () => {
    if (d && d.exitCode === null) {
      d.kill('SIGTERM');
      await new Promise((r) => d.once('exit', r));
    }
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status: no VRRP, the service balancing, both servers up', async () => {
    const r = await cli('status', '--socket', sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^node LO — /);
    assert.match(r.out, /data plane userspace: /);
    assert.doesNotMatch(r.out, /^VRRP$/m);
    assert.match(r.out, new RegExp(`\\[127\\.0\\.0\\.1\\]:tcp:${vip}  wrr NAT  balancing here`));
  });

  it('drain moves new connections off be2; undrain brings them back', async () => {
    assert.deepEqual(await spread(vip, 10), { be1: 5, be2: 5 });
    const port2 = (await call<NodeStatus>({ socket: sock }, 'GET', '/api/v1/status')).services[0]!.realServers[1]!.port!;
    let r = await cli('drain', `127.0.0.1:${port2}`, '--socket', sock, '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { action: string }).action, 'drain');
    await sleep(100);
    assert.deepEqual(await spread(vip, 10), { be1: 10 });
    r = await cli('undrain', `127.0.0.1:${port2}`, '--socket', sock);
    assert.equal(r.code, 0, r.err);
    await sleep(100);
    assert.deepEqual(await spread(vip, 10), { be1: 5, be2: 5 });
  });

  it('failover and resume on a node without VRRP: refused (exit 1, 409)', async () => {
    let r = await cli('failover', '--socket', sock);
    assert.equal(r.code, 1);
    assert.match(r.err, /this node is MASTER of no instance: no VRRP instance/);
    r = await cli('failover', '--resume', '--socket', sock);
    assert.equal(r.code, 1);
    assert.match(r.err, /this node runs no VRRP instance/);
  });

  it('TCP: 401 without the token, 200 with it; the token is never logged', async () => {
    await assert.rejects(call({ url: `http://127.0.0.1:${tcp}` }, 'GET', '/api/v1/status'), (e: Error & { status?: number }) => e.status === 401);
    await assert.rejects(call({ url: `http://127.0.0.1:${tcp}`, token: 'x'.repeat(40) }, 'GET', '/metrics'), /the bearer token is not valid/);
    const r = await cli('status', '--api', `http://127.0.0.1:${tcp}`, '--token-file', tokenFile, '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as NodeStatus).node, 'LO');
    await cli('drain', '127.0.0.1', '--api', `127.0.0.1:${tcp}`, '--token-file', tokenFile);
    await cli('undrain', '127.0.0.1', '--api', `127.0.0.1:${tcp}`, '--token-file', tokenFile);
    await until('the TCP drain logged', () => /API: drain 127\.0\.0\.1: .* by="tcp 127\.0\.0\.1:\d+ token ci"/.test(log()), 2000);
    assert.ok(!log().includes(TOKEN));
  });

  it('SIGUSR2: the status line (no VRRP: no stats file); SIGUSR1: keepalived_check.data only', async () => {
    d.kill('SIGUSR2');
    d.kill('SIGUSR1');
    await until('status line and data dump', () => /^\{"status":\[\]/m.test(log()) && /Printing data/.test(log()), 3000);
    assert.ok(!existsSync(join(dir, 'keepalived.stats')));
    assert.ok(!existsSync(join(dir, 'keepalived.data')));
    assert.match(readFileSync(join(dir, 'keepalived_check.data'), 'utf8'), new RegExp(`VS VIP = 127\\.0\\.0\\.1, VPORT = ${vip}`));
  });

  it('SIGTERM: the daemon stops and removes its socket', async () => {
    assert.match(log(), /API listening on="unix:.*api\.sock,tcp:127\.0\.0\.1:\d+"/);
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    assert.equal(d.exitCode, 0, log().slice(-2000));
    assert.ok(!existsSync(sock), 'socket removed');
  });
});
