// `haldir run` under systemd's notify protocol: READY=1 once running, RELOADING=1 and
// READY=1 around a SIGHUP, STOPPING=1 at SIGTERM, watchdog pings at half WATCHDOG_USEC —
// read from a real AF_UNIX datagram socket, as systemd would.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addon } from '../../src/native/addon.js';
import { SOCK_DGRAM } from '../../src/native/constants.js';
import { sockaddrUn } from '../../src/daemon/sd-notify.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';
import { freePort } from '../helpers/nginx.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sd_notify', () => {
  it('sockaddr_un: paths are NUL-terminated, abstract names start with NUL', () => {
    assert.deepEqual([...sockaddrUn('/run/x')], [1, 0, ...Buffer.from('/run/x'), 0]);
    assert.deepEqual([...sockaddrUn('@sd')], [1, 0, 0, ...Buffer.from('sd')]);
  });

  it('haldir run says READY, RELOADING/READY on SIGHUP, STOPPING on SIGTERM, and pings the watchdog', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haldir-sd-'));
    const A = addon();
    const fd = A.socket(1, SOCK_DGRAM, 0);
    assert.ok(fd >= 0);
    try {
      const sock = join(dir, 'notify');
      assert.equal(A.bind(fd, sockaddrUn(sock)), 0);
      const [vport, rport] = [await freePort(), await freePort()];
      const conf = join(dir, 'haldir.conf');
      writeFileSync(conf, `virtual_server 127.0.0.1 ${vport} {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.1 ${rport} { weight 1 }\n}\n`);
      const p = spawn(process.execPath, [HALDIR, 'run', conf, '--dataplane', 'userspace'], {
        env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const got: string[] = [];
      const buf = Buffer.alloc(4096);
      const drain = (): void => {
        for (;;) {
          const r = A.recvmsg(fd, buf, null, null);
          if (typeof r === 'number') return;
          got.push(buf.subarray(0, r[0]).toString());
        }
      };
      const waitFor = async (re: RegExp, ms: number): Promise<void> => {
        const t0 = Date.now();
        while (!got.some((g) => re.test(g))) {
          if (Date.now() - t0 > ms) throw new Error(`no ${re} within ${ms} ms; got ${JSON.stringify(got)}; output:\n${out}`);
          await sleep(20);
          drain();
        }
      };
      const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
      await waitFor(/^READY=1\n/, 10000);
      await sleep(350);
      drain();
      assert.ok(got.filter((g) => g === 'WATCHDOG=1').length >= 2, `watchdog pings: ${JSON.stringify(got)}`);
      got.length = 0;
      p.kill('SIGHUP');
      await waitFor(/^READY=1$/, 5000);
      assert.match(got.find((g) => g.startsWith('RELOADING=1')) ?? '', /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
      p.kill('SIGTERM');
      await waitFor(/^STOPPING=1$/, 5000);
      assert.equal(await exited, 0, out);
    } finally {
      A.close(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
