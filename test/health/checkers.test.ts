// The checkers against real servers on loopback: nginx (HTTP and HTTPS, a
// self-signed certificate made here), keepalived's own genhash, and small
// servers written here for what nginx cannot do (never answer, reset, answer
// late, chunked, malformed, DNS, UDP, SMTP). Everything is stopped in after(),
// nginx by its PID, even when a test fails.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Checker, CheckerCommon, HttpChecker, HttpUrl, SmtpChecker } from '../../src/model/types.js';
import { createRunCheck, runCheck, runSmtpHost } from '../../src/health/checkers/index.js';
import { dnsQuery } from '../../src/health/checkers/dns.js';
import { buildRequest, hostHeader } from '../../src/health/checkers/http.js';
import type { CheckResult, CheckTarget } from '../../src/health/types.js';
import { formatGenhash, genhash } from '../../src/health/genhash.js';

const LO = '127.0.0.1';
const TIMEOUT_S = 0.3;
const BODY = 'haldir body check\n'.repeat(40);
const BODY_MD5 = createHash('md5').update(BODY).digest('hex');
const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

const common: Omit<CheckerCommon, 'src'> = {
  connectTimeout: TIMEOUT_S,
  retry: 1,
  delayBeforeRetry: 1,
  delayLoop: 5,
  warmup: 0,
  alpha: false,
  logAllFailures: false,
  rise: 1,
  fall: 1,
};
const at = (port: number | undefined, address = LO): CheckTarget => ({ address, port, family: address.includes(':') ? 6 : 4 });
const url = (path: string, more: Partial<HttpUrl> = {}): HttpUrl => ({ path, statusCodes: [], regexNoMatch: false, ...more });
const http = (urls: HttpUrl[], more: Partial<HttpChecker> = {}): HttpChecker => ({
  ...common,
  type: 'HTTP_GET',
  urls,
  enableSni: false,
  fastRecovery: false,
  tlsCompliant: false,
  ...more,
});
const ssl = (urls: HttpUrl[], more: Partial<HttpChecker> = {}): HttpChecker => http(urls, { type: 'SSL_GET', ...more });

/** A timeout near the configured value: 300 ms ± 150. */
function assertTimeout(r: CheckResult, ms = TIMEOUT_S * 1000): void {
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.match(r.reason, new RegExp(`^(no reply: )?timeout after ${ms} ms`), JSON.stringify(r));
  assert.ok(Math.abs(r.latencyMs - ms) <= 150, `latency ${r.latencyMs} ms not within ${ms} ± 150`);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((res) => s.listen(0, LO, res));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

async function waitListening(port: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, LO);
      s.once('connect', () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port}`);
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((res) => server.listen(0, LO, res));
  return (server.address() as net.AddressInfo).port;
}

const hasCmd = (cmd: string) => {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let dir = '';
let nginx: ChildProcess | undefined;
let httpPort = 0;
let httpsPort = 0;
let closedPort = 0;
const servers: (net.Server | dgram.Socket)[] = [];
const sockets = new Set<net.Socket>();
/** Requests the capture server saw, raw. */
const captured: string[] = [];
const sniSeen: (string | false)[] = [];
let capturePort = 0;
let tlsCapturePort = 0;
let silentPort = 0;
let resetPort = 0;
let slowPort = 0;
let chunkedPort = 0;
let garbagePort = 0;
let emptyPort = 0;
let keepAlivePort = 0;
let smtpPort = 0;
let smtpBadPort = 0;
let dnsPort = 0;
let dnsSilentPort = 0;
let udpEchoPort = 0;
let udpSilentPort = 0;
let closedUdpPort = 0;
const dnsQueries: Buffer[] = [];
const CHUNKS = ['hello ', 'chunked ', 'world\n'];

function tcpServer(onConn: (s: net.Socket) => void): net.Server {
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  servers.push(srv);
  return srv;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'haldir-checkers-'));
  // nginx's workers drop to "nobody": they must be able to read the body file.
  chmodSync(dir, 0o755);
  // Certificate for nginx's HTTPS and the TLS capture server.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'body.txt'), BODY);
  [httpPort, httpsPort, closedPort] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(join(dir, 'logs'));
  const conf = `
worker_processes 1;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  ssl_certificate ${dir}/cert.pem;
  ssl_certificate_key ${dir}/key.pem;
  server {
    listen ${LO}:${httpPort} default_server;
    listen ${LO}:${httpsPort} ssl default_server;
    server_name _;
    location = /healthz { return 200 "ok\\n"; }
    location = /bad { return 503 "down\\n"; }
    location = /body { alias ${dir}/body.txt; }
    location = /vhost { return 404 "wrong host\\n"; }
  }
  server {
    listen ${LO}:${httpPort};
    listen ${LO}:${httpsPort} ssl;
    server_name vhost.test;
    location = /vhost { return 200 "right host\\n"; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr?.on('data', (d: Buffer) => (nginxErr += d.toString()));
  try {
    await Promise.all([waitListening(httpPort), waitListening(httpsPort)]);
  } catch (err) {
    throw new Error(`nginx did not start: ${nginxErr} ${existsSync(join(dir, 'logs/error.log')) ? readFileSync(join(dir, 'logs/error.log'), 'utf8') : ''}`, { cause: err });
  }

  // Records the raw request, answers 200.
  capturePort = await listen(
    tcpServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) {
          captured.push(buf);
          s.end('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
    }),
  );
  // TLS server recording the SNI name it got.
  const tlsSrv = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    sniSeen.push((s as tls.TLSSocket & { servername?: string | false }).servername ?? false);
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nok'));
  });
  servers.push(tlsSrv);
  tlsCapturePort = await listen(tlsSrv);
  silentPort = await listen(tcpServer(() => {}));
  resetPort = await listen(tcpServer((s) => s.once('data', () => s.resetAndDestroy())));
  slowPort = await listen(tcpServer((s) => s.once('data', () => setTimeout(() => s.end('HTTP/1.0 200 OK\r\n\r\nlate'), 900))));
  chunkedPort = await listen(
    tcpServer((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
        for (const c of CHUNKS) s.write(`${c.length.toString(16)}\r\n${c}\r\n`);
        s.end('0\r\n\r\n');
      }),
    ),
  );
  garbagePort = await listen(tcpServer((s) => s.once('data', () => s.end('HELLO THERE\r\n\r\nnot http'))));
  emptyPort = await listen(tcpServer((s) => s.once('data', () => s.end())));
  // Ignores Connection: close and keeps the connection open after a framed answer.
  keepAlivePort = await listen(tcpServer((s) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'))));
  const smtp = (banner: string) =>
    tcpServer((s) => {
      s.write(banner);
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (/^HELO /.test(line)) s.write('250-test.local greets you\r\n250 OK\r\n');
          else if (line === 'QUIT') s.end('221 bye\r\n');
          else s.write('500 what\r\n');
        }
      });
    });
  smtpPort = await listen(smtp('220 test.local ESMTP\r\n'));
  smtpBadPort = await listen(smtp('554 go away\r\n'));

  const udp = async (onMsg: (sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void) => {
    const sock = dgram.createSocket('udp4');
    servers.push(sock);
    sock.on('message', (m, r) => onMsg(sock, m, r));
    await new Promise<void>((res) => sock.bind(0, LO, res));
    return sock.address().port;
  };
  // A DNS responder: A for "up.test", NXDOMAIN otherwise.
  dnsPort = await udp((sock, q, r) => {
    dnsQueries.push(q);
    let off = 12;
    const labels: string[] = [];
    while (q[off]) {
      labels.push(q.subarray(off + 1, off + 1 + q[off]!).toString());
      off += 1 + q[off]!;
    }
    const question = q.subarray(12, off + 5);
    const name = labels.join('.');
    const hdr = Buffer.alloc(12);
    q.copy(hdr, 0, 0, 2);
    const found = name === 'up.test';
    hdr.writeUInt16BE(0x8180 | (found ? 0 : 3), 2);
    hdr.writeUInt16BE(1, 4);
    hdr.writeUInt16BE(found ? 1 : 0, 6);
    const answer = found ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    sock.send(Buffer.concat([hdr, question, answer]), r.port, r.address);
  });
  dnsSilentPort = await udp(() => {});
  udpEchoPort = await udp((sock, m, r) => sock.send(m, r.port, r.address));
  udpSilentPort = await udp(() => {});
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((res) => probe.bind(0, LO, res));
  closedUdpPort = probe.address().port;
  await new Promise<void>((res) => probe.close(() => res()));
});

after(async () => {
  if (nginx?.pid && nginx.exitCode === null) {
    const exited = new Promise((res) => nginx!.once('exit', res));
    process.kill(nginx.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (nginx.exitCode === null && nginx.signalCode === null) process.kill(nginx.pid, 'SIGKILL');
  }
  for (const s of sockets) s.destroy();
  for (const s of servers) {
    if (s instanceof dgram.Socket) s.close();
    else s.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TCP_CHECK', () => {
  it('connects to nginx', async () => {
    const r = await runCheck({ ...common, type: 'TCP_CHECK' }, at(httpPort));
    assert.deepEqual([r.ok, r.reason], [true, 'ok']);
    assert.ok(r.latencyMs < 100);
  });
  it('reports a closed port as refused', async () => {
    const r = await runCheck({ ...common, type: 'TCP_CHECK' }, at(closedPort));
    assert.deepEqual([r.ok, r.reason], [false, 'connection refused']);
  });
  it('honours bindto (127.0.0.2) and bind_if (SO_BINDTODEVICE); a missing interface is a reason', async () => {
    const r = await runCheck({ ...common, type: 'TCP_CHECK', bindTo: '127.0.0.2' }, at(httpPort));
    assert.equal(r.ok, true, r.reason);
    const b = await runCheck({ ...common, type: 'TCP_CHECK', bindIf: 'lo' }, at(httpPort));
    assert.equal(b.ok, true, b.reason);
    const n = await runCheck({ ...common, type: 'TCP_CHECK', bindIf: 'nosuch0' }, at(httpPort));
    assert.equal(n.ok, false);
    assert.match(n.reason, /^bind_if nosuch0: /);
  });
  it('stops on abort', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runCheck({ ...common, type: 'TCP_CHECK' }, at(silentPort), { signal: ac.signal });
    assert.deepEqual([r.ok, r.reason], [false, 'aborted']);
  });
});

describe('HTTP_GET against nginx', () => {
  it('200 on /healthz', async () => {
    const r = await runCheck(http([url('/healthz')]), at(httpPort));
    assert.deepEqual([r.ok, r.reason, r.status], [true, 'ok', 200]);
  });
  it('503 on /bad fails with the expected range, passes when 503 is accepted', async () => {
    const r = await runCheck(http([url('/bad')]), at(httpPort));
    assert.deepEqual([r.ok, r.reason, r.status], [false, 'status 503 (expected 200-299)', 503]);
    const ok = await runCheck(http([url('/bad', { statusCodes: [{ from: 500, to: 503 }] })]), at(httpPort));
    assert.equal(ok.ok, true, ok.reason);
  });
  it('digest: MD5 of the body', async () => {
    const r = await runCheck(http([url('/body', { digest: BODY_MD5 })]), at(httpPort));
    assert.equal(r.ok, true, r.reason);
    const bad = await runCheck(http([url('/body', { digest: '0'.repeat(32) })]), at(httpPort));
    assert.equal(bad.ok, false);
    assert.equal(bad.reason, `digest mismatch (got ${BODY_MD5}, expected ${'0'.repeat(32)})`);
  });
  it('regex, regex_no_match, offsets and options', async () => {
    const run = async (u: Partial<HttpUrl>) => runCheck(http([url('/body', u)]), at(httpPort));
    assert.equal((await run({ regex: 'body check' })).ok, true);
    assert.equal((await run({ regex: 'BODY CHECK' })).reason, 'regex /BODY CHECK/ did not match');
    assert.equal((await run({ regex: 'BODY CHECK', regexOptions: ['caseless'] })).ok, true);
    assert.equal((await run({ regex: 'body check', regexNoMatch: true })).reason, 'regex /body check/ matched (regex_no_match)');
    assert.equal((await run({ regex: 'nowhere', regexNoMatch: true })).ok, true);
    // "haldir" first starts at 0, then every 18 bytes.
    assert.equal((await run({ regex: 'haldir', regexMinOffset: 1, regexMaxOffset: 17 })).ok, false);
    assert.equal((await run({ regex: 'haldir', regexMinOffset: 1, regexMaxOffset: 18 })).ok, true);
    assert.equal((await run({ regex: 'x', regexOptions: ['ungreedy'] })).reason, 'regex option ungreedy not supported');
    assert.match((await run({ regex: '(' })).reason, /^regex "\(" invalid/);
  });
  it('Host header: url virtualhost > checker virtualhost > address:port', async () => {
    assert.equal((await runCheck(http([url('/vhost')]), at(httpPort))).reason, 'status 404 (expected 200-299)');
    assert.equal((await runCheck(http([url('/vhost')], { virtualhost: 'vhost.test' }), at(httpPort))).ok, true);
    assert.equal((await runCheck(http([url('/vhost', { virtualhost: 'vhost.test' })], { virtualhost: 'other' }), at(httpPort))).ok, true);
    assert.equal((await runCheck(http([url('/vhost', { virtualhost: 'other' })], { virtualhost: 'vhost.test' }), at(httpPort))).ok, false);
  });
  it('http_protocol 1.0C and 1.1 work against nginx', async () => {
    for (const p of ['1.0C', '1.1'] as const) {
      const r = await runCheck(http([url('/body', { digest: BODY_MD5 })], { httpProtocol: p }), at(httpPort));
      assert.equal(r.ok, true, `${p}: ${r.reason}`);
    }
  });
  it('checks the url given by urlIndex', async () => {
    const c = http([url('/healthz'), url('/bad')]);
    assert.equal((await runCheck(c, at(httpPort), { urlIndex: 0 })).ok, true);
    assert.equal((await runCheck(c, at(httpPort), { urlIndex: 1 })).status, 503);
  });
});

describe('HTTP_GET request bytes', () => {
  it('sends exactly keepalived\'s request for each http_protocol', async () => {
    captured.length = 0;
    await runCheck(http([url('/a?b=1')]), at(capturePort));
    await runCheck(http([url('/a')], { httpProtocol: '1.0C', virtualhost: 'www.example' }), at(capturePort));
    await runCheck(http([url('/a')], { httpProtocol: '1.1' }), at(capturePort));
    assert.deepEqual(captured, [
      `GET /a?b=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: ${LO}:${capturePort}\r\n\r\n`,
      'GET /a HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example\r\n\r\n',
      `GET /a HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: ${LO}:${capturePort}\r\n\r\n`,
    ]);
    assert.equal(buildRequest('/', hostHeader(undefined, '::1', 80)), 'GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [::1]:80\r\n\r\n');
  });
});

describe('HTTP_GET failure modes', () => {
  it('times out on a server that accepts and never answers', async () => {
    const r = await runCheck(http([url('/')]), at(silentPort));
    assertTimeout(r);
    assert.match(r.reason, /waiting for response/);
  });
  it('times out on a server answering later than connect_timeout', async () => {
    assertTimeout(await runCheck(http([url('/')]), at(slowPort)));
  });
  it('reports a reset', async () => {
    const r = await runCheck(http([url('/')]), at(resetPort));
    assert.equal(r.ok, false);
    assert.match(r.reason, /^connection reset/);
  });
  it('reports refused, no reply and a malformed response', async () => {
    assert.equal((await runCheck(http([url('/')]), at(closedPort))).reason, 'connection refused');
    assert.equal((await runCheck(http([url('/')]), at(emptyPort))).reason, 'no reply');
    const g = await runCheck(http([url('/')]), at(garbagePort));
    assert.equal(g.reason, 'malformed status line "HELLO THERE" (expected 200-299)');
    assert.equal(g.status, 0);
  });
  it('de-chunks before the digest, and still accepts keepalived\'s framed digest', async () => {
    const body = CHUNKS.join('');
    const framed = `${CHUNKS.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`;
    assert.equal((await runCheck(http([url('/', { digest: md5(body) })], { httpProtocol: '1.1' }), at(chunkedPort))).ok, true);
    assert.equal((await runCheck(http([url('/', { digest: md5(framed) })], { httpProtocol: '1.1' }), at(chunkedPort))).ok, true);
    const bad = await runCheck(http([url('/', { digest: md5('x') })], { httpProtocol: '1.1' }), at(chunkedPort));
    assert.equal(bad.reason, `digest mismatch (got ${md5(body)}, expected ${md5('x')})`);
  });
  it('finishes on a complete response even if the server keeps the connection', async () => {
    const r = await runCheck(http([url('/', { digest: md5('hello') })], { httpProtocol: '1.1' }), at(keepAlivePort));
    assert.equal(r.ok, true, r.reason);
    assert.ok(r.latencyMs < 150, `${r.latencyMs}`);
  });
  it('no url: up without checking (keepalived)', async () => {
    assert.equal((await runCheck(http([]), at(closedPort))).ok, true);
  });
});

describe('SSL_GET', () => {
  it('nginx over TLS with its self-signed certificate (not verified, as keepalived)', async () => {
    const r = await runCheck(ssl([url('/body', { digest: BODY_MD5 })]), at(httpsPort));
    assert.equal(r.ok, true, r.reason);
    assert.equal((await runCheck(ssl([url('/vhost')], { virtualhost: 'vhost.test' }), at(httpsPort))).ok, true);
  });
  it('SNI only with enable_sni: sni_name, else the virtualhost', async () => {
    sniSeen.length = 0;
    await runCheck(ssl([url('/')], { virtualhost: 'vh.test' }), at(tlsCapturePort));
    await runCheck(ssl([url('/')], { virtualhost: 'vh.test', enableSni: true }), at(tlsCapturePort));
    await runCheck(ssl([url('/')], { virtualhost: 'vh.test', enableSni: true, sniName: 'sni.test' }), at(tlsCapturePort));
    assert.deepEqual(sniSeen, [false, 'vh.test', 'sni.test']);
  });
  it('a plain HTTP port fails the handshake', async () => {
    const r = await runCheck(ssl([url('/healthz')]), at(httpPort));
    assert.equal(r.ok, false);
    assert.match(r.reason, /^TLS handshake: /);
  });
  it('times out during the handshake on a silent server', async () => {
    const r = await runCheck(ssl([url('/')]), at(silentPort));
    assertTimeout(r);
    assert.match(r.reason, /TLS handshake/);
  });
});

describe('MISC_CHECK', () => {
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return { cmd: p, argv: [p] };
  };
  const misc = (s: { cmd: string; argv: string[] }, more: object = {}): Checker => ({ ...common, type: 'MISC_CHECK', script: s, dynamic: false, ...more });
  it('exit 0 ok, 1 fails', async () => {
    assert.deepEqual(await runCheck(misc(script('ok.sh', 'exit 0')), at(undefined)).then((r) => [r.ok, r.reason]), [true, 'ok']);
    assert.deepEqual(await runCheck(misc(script('fail.sh', 'exit 1')), at(undefined)).then((r) => [r.ok, r.reason]), [false, 'exit code 1']);
  });
  it('misc_dynamic: 2..255 → weight code − 2', async () => {
    const s = script('dyn.sh', 'exit 7');
    const r = await runCheck(misc(s, { dynamic: true }), at(undefined));
    assert.deepEqual([r.ok, r.weight], [true, 5]);
    assert.deepEqual(await runCheck(misc(script('dyn2.sh', 'exit 2'), { dynamic: true }), at(undefined)).then((x) => [x.ok, x.weight]), [true, 0]);
    assert.deepEqual(await runCheck(misc(s), at(undefined)).then((x) => [x.ok, x.reason]), [false, 'exit code 7']);
    assert.equal((await runCheck(misc(script('dyn1.sh', 'exit 1'), { dynamic: true }), at(undefined))).ok, false);
  });
  it('a hanging script is killed at misc_timeout and is gone', async () => {
    const pidFile = join(dir, 'hang.pid');
    const r = await runCheck(misc(script('hang.sh', `echo $$ > ${pidFile}\nexec sleep 60`), { timeout: TIMEOUT_S }), at(undefined));
    assertTimeout(r);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });
  it('a missing script fails with a reason', async () => {
    const r = await runCheck(misc({ cmd: '/nonexistent/x', argv: ['/nonexistent/x'] }), at(undefined));
    assert.equal(r.ok, false);
    assert.match(r.reason, /^cannot run \/nonexistent\/x/);
  });
});

describe('DNS_CHECK', () => {
  it('sends one RD query and passes on a NOERROR reply with our id', async () => {
    dnsQueries.length = 0;
    const r = await runCheck({ ...common, type: 'DNS_CHECK', queryType: 'A', name: 'up.test' }, at(dnsPort));
    assert.deepEqual([r.ok, r.reason], [true, 'ok']);
    const q = dnsQueries[0]!;
    assert.equal(q.readUInt16BE(2), 0x0100);
    assert.equal(q.readUInt16BE(4), 1);
    assert.deepEqual(q.subarray(12), (dnsQuery(0, 'up.test', 'A') as Buffer).subarray(12));
  });
  it('fails on an error rcode, silence and a closed port', async () => {
    assert.equal((await runCheck({ ...common, type: 'DNS_CHECK', queryType: 'A', name: 'down.test' }, at(dnsPort))).reason, 'rcode NXDOMAIN');
    assertTimeout(await runCheck({ ...common, type: 'DNS_CHECK', queryType: 'SOA', name: '' }, at(dnsSilentPort)));
    assert.equal((await runCheck({ ...common, type: 'DNS_CHECK', queryType: 'A', name: 'up.test' }, at(closedUdpPort))).reason, 'connection refused');
  });
});

describe('UDP_CHECK', () => {
  const udp = (more: object = {}): Checker => ({ ...common, type: 'UDP_CHECK', ...more });
  it('echo server: ok, with and without require_reply', async () => {
    assert.equal((await runCheck(udp({ payload: '68656c6c6f' }), at(udpEchoPort))).ok, true);
    assert.equal((await runCheck(udp({ payload: '68656c6c6f', requireReply: '6865' }), at(udpEchoPort))).ok, true);
    assert.equal((await runCheck(udp({ payload: '68656c6c6f', requireReply: '68xx6c' }), at(udpEchoPort))).ok, true);
    const bad = await runCheck(udp({ payload: '68656c6c6f', requireReply: '6869' }), at(udpEchoPort));
    assert.equal(bad.reason, 'reply mismatch at byte 1 (got 6865, expected 6869)');
    // Without payload keepalived's 32-byte filler is echoed.
    const long = await runCheck(udp({ requireReply: '', maxReplyLength: 16 }), at(udpEchoPort));
    assert.equal(long.reason, 'reply length 32 (expected 0-16)');
  });
  it('closed port: ICMP port unreachable → refused', async () => {
    assert.equal((await runCheck(udp(), at(closedUdpPort))).reason, 'connection refused');
  });
  it('silent server: ok without require_reply, timeout with it', async () => {
    const r = await runCheck(udp(), at(udpSilentPort));
    assert.equal(r.ok, true, r.reason);
    assert.ok(Math.abs(r.latencyMs - 300) <= 150);
    assertTimeout(await runCheck(udp({ requireReply: '' }), at(udpSilentPort)));
  });
});

describe('PING_CHECK', () => {
  it('echo to 127.0.0.1', async () => {
    const r = await runCheck({ ...common, type: 'PING_CHECK' }, at(undefined));
    assert.deepEqual([r.ok, r.reason], [true, 'ok']);
  });
  it('echo to ::1', async (t) => {
    if (!existsSync('/proc/net/if_inet6') || !readFileSync('/proc/net/if_inet6', 'utf8').includes('00000000000000000000000000000001')) return t.skip('no ::1');
    const r = await runCheck({ ...common, type: 'PING_CHECK' }, at(undefined, '::1'));
    assert.deepEqual([r.ok, r.reason], [true, 'ok']);
  });
});

describe('SMTP_CHECK', () => {
  const smtp = (more: object = {}): Checker => ({ ...common, type: 'SMTP_CHECK', heloName: 'checker.test', hosts: [], ...more });
  it('220 / HELO 250 (multi-line) / QUIT', async () => {
    const r = await runCheck(smtp(), at(smtpPort));
    assert.deepEqual([r.ok, r.reason], [true, 'ok']);
  });
  it('bad greeting, silent and closed hosts', async () => {
    assert.equal((await runCheck(smtp(), at(smtpBadPort))).reason, `greeting 554 from ${LO}:${smtpBadPort} (expected 220)`);
    const s = await runCheck(smtp(), at(silentPort));
    assertTimeout(s);
    assert.match(s.reason, /waiting for greeting reply/);
  });
  it('every host block, first failure reported', async () => {
    const c = smtp({ hosts: [{ connectPort: smtpPort }, { connectPort: closedPort }] });
    assert.equal((await runCheck(c, at(25))).reason, 'connection refused');
    const one = await runSmtpHost(c as SmtpChecker, { connectIp: LO, connectPort: smtpPort }, at(undefined));
    assert.equal(one.ok, true, one.reason);
  });
});

describe('FILE_CHECK', () => {
  const file = (path: string, more: object = {}): Checker => ({ ...common, type: 'FILE_CHECK', trackFile: path, weightReverse: false, ...more });
  it('weight 0: 0 or missing is up, non-zero down; reverse inverts', async () => {
    const p = join(dir, 'track');
    assert.equal((await runCheck(file(p, { weight: 0 }), at(undefined))).ok, true);
    writeFileSync(p, '0\n');
    assert.equal((await runCheck(file(p, { weight: 0 }), at(undefined))).ok, true);
    writeFileSync(p, '1\n');
    assert.deepEqual(await runCheck(file(p, { weight: 0 }), at(undefined)).then((r) => [r.ok, r.reason]), [false, 'file value 1']);
    assert.equal((await runCheck(file(p, { weight: 0, weightReverse: true }), at(undefined))).ok, true);
  });
  it('weight w: value × w is a weight change; resolved by track_file name', async () => {
    const p = join(dir, 'track2');
    writeFileSync(p, '0x3 trailing');
    const rc = createRunCheck({ trackFiles: [{ name: 'tf', file: p, weight: 10, weightReverse: false }] });
    const r = (await rc(file('tf'), at(undefined))) as CheckResult & { weightDelta?: number };
    assert.deepEqual([r.ok, r.weightDelta], [true, 30]);
    const rev = (await rc(file('tf', { weight: 2, weightReverse: true }), at(undefined))) as CheckResult & { weightDelta?: number };
    assert.deepEqual([rev.ok, rev.weightDelta], [true, -6]);
    assert.match((await runCheck(file('tf'), at(undefined))).reason, /not resolved/);
  });
});

describe('genhash', () => {
  it('MD5 of the body, equal to the test\'s own and to keepalived\'s genhash', async (t) => {
    const r = await genhash({ url: `http://${LO}:${httpPort}/body` });
    assert.equal(r.status, 200);
    assert.equal(r.bodyLength, BODY.length);
    assert.equal(r.md5, BODY_MD5);
    assert.equal(formatGenhash(r), `MD5SUM = ${BODY_MD5}\n`);
    assert.match(formatGenhash(r, { verbose: true }), /User-Agent: KeepAliveClient[\s\S]*HTTP\/1\.1 200 OK[\s\S]*MD5SUM = /);
    const s = await genhash({ url: `https://${LO}:${httpsPort}/body` });
    assert.equal(s.md5, BODY_MD5);
    const ch = await genhash({ url: `http://${LO}:${chunkedPort}/`, protocol: '1.1' });
    assert.equal(ch.md5, md5(CHUNKS.join('')));
    assert.ok(ch.keepalivedMd5);
    await assert.rejects(genhash({ url: `http://${LO}:${closedPort}/` }), /connection refused/);
    if (!hasCmd('genhash')) return t.skip('keepalived genhash not installed');
    // Asynchronously: the chunked server runs in this process.
    const ka = async (...args: string[]) => (await promisify(execFile)('genhash', args, { encoding: 'utf8', timeout: 10000 })).stdout;
    assert.match(await ka('-s', LO, '-p', String(httpPort), '-u', '/body'), new RegExp(BODY_MD5));
    assert.match(await ka('-S', '-s', LO, '-p', String(httpsPort), '-u', '/body'), new RegExp(BODY_MD5));
    // keepalived digests the chunk framing too: our keepalivedMd5 is its number.
    assert.match(await ka('-P', '1.1', '-s', LO, '-p', String(chunkedPort), '-u', '/'), new RegExp(ch.keepalivedMd5!));
  });
});

describe('never throws', () => {
  it('odd inputs become failed results', async () => {
    const odd: [Checker, CheckTarget][] = [
      [{ ...common, type: 'TCP_CHECK' }, at(undefined)],
      [{ ...common, type: 'TCP_CHECK' }, at(80, 'not-an-ip')],
      [{ ...common, type: 'TCP_CHECK', connectTimeout: -1 }, at(closedPort)],
      [http([url('/', { regex: '[' })]), at(httpPort)],
      [ssl([url('/')], { sniName: '127.0.0.1', enableSni: true }), at(httpsPort)],
      [{ ...common, type: 'UDP_CHECK', payload: 'zz' }, at(udpEchoPort)],
      [{ ...common, type: 'UDP_CHECK' }, at(70000)],
      [{ ...common, type: 'DNS_CHECK', queryType: 'BOGUS', name: 'x' }, at(dnsPort)],
      [{ ...common, type: 'DNS_CHECK', queryType: 'A', name: 'a'.repeat(70) }, at(dnsPort)],
      [{ ...common, type: 'PING_CHECK' }, at(undefined, 'nonsense')],
      [{ ...common, type: 'PING_CHECK', bindIf: 'no-such-if0' }, at(undefined)],
      [{ ...common, type: 'SMTP_CHECK', heloName: '', hosts: [{ connectIp: 'bad' }] }, at(25)],
      [{ ...common, type: 'MISC_CHECK', script: { cmd: '', argv: [] }, dynamic: false }, at(undefined)],
      [{ ...common, type: 'FILE_CHECK', trackFile: dir, weightReverse: false }, at(undefined)],
      [{ ...common, type: 'NOPE' } as unknown as Checker, at(1)],
    ];
    for (const [c, t] of odd) {
      const r = await runCheck(c, t);
      assert.equal(typeof r.ok, 'boolean');
      assert.equal(typeof r.reason, 'string');
      assert.ok(r.reason.length > 0);
      assert.equal(typeof r.latencyMs, 'number');
    }
  });
});
