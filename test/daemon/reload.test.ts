// `haldir reload`: validates first and sends nothing for a broken file (the daemon keeps
// serving); for a good one it signals the daemon, which adds the new service.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import { freePort } from '../helpers/nginx.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const haldir = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => execFile(process.execPath, [HALDIR, ...args], (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err })));
const canConnect = (port: number): Promise<boolean> =>
  new Promise((r) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
    s.on('error', () => r(false));
  });

describe('haldir reload', () => {
  it('refuses a broken file without signalling; a good one adds the new service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haldir-reload-'));
    const [p1, p2, rs] = [await freePort(), await freePort(), await freePort()];
    const svc = (port: number): string => `virtual_server 127.0.0.1 ${port} {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.1 ${rs} { weight 1 }\n}\n`;
    const conf = join(dir, 'haldir.conf');
    const pidFile = join(dir, 'haldir.pid');
    writeFileSync(conf, svc(p1));
    const d = spawn(process.execPath, [HALDIR, 'run', conf, '--dataplane', 'userspace', '--pid-file', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    d.stdout.on('data', (b: Buffer) => (log += b.toString()));
    try {
      for (let i = 0; i < 100 && !(await canConnect(p1)); i++) await sleep(50);
      assert.ok(existsSync(pidFile));
      writeFileSync(conf, svc(p1) + svc(p2).replace('lb_kind NAT', 'lb_kindd NAT'));
      const bad = await haldir(['reload', conf, '--pid-file', pidFile]);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /unknown keyword "lb_kindd"/);
      assert.match(bad.err, /not reloaded/);
      await sleep(300);
      assert.doesNotMatch(log, /reload/);
      writeFileSync(conf, svc(p1) + svc(p2));
      const good = await haldir(['reload', conf, '--pid-file', pidFile]);
      assert.equal(good.code, 0, good.err);
      for (let i = 0; i < 100 && !(await canConnect(p2)); i++) await sleep(50);
      assert.ok(await canConnect(p2), log);
      assert.ok(await canConnect(p1));
    } finally {
      d.kill('SIGTERM');
      await new Promise((r) => d.once('exit', r));
      assert.ok(!existsSync(pidFile), 'the PID file is removed at exit');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
