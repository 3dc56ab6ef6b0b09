// A real nginx for tests: its own config in a temp dir, listening on a free
// loopback port, stopped by PID (and its directory removed) by `stop()`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Nginx {
  port: number;
  stop(): Promise<void>;
}

/** nginx on 127.0.0.1 and 127.0.0.2, one free port, with the given `location` blocks. */
export async function startNginx(locations: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'haldir-nginx-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;\nerror_log ${dir}/logs/error.log;\nevents {}\nhttp {\n access_log off;\n client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n server {\n  listen 127.0.0.1:${port};\n  listen 127.0.0.2:${port};\n${locations}\n }\n}\n`,
  );
  const p = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: 'ignore' });
  const stop = async () => {
    if (p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return { port, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error('nginx did not start');
}
