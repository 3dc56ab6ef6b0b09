// The userspace data plane (src/dataplane/userspace/) against real sockets on
// 127.0.0.1: small TCP backends that answer with their own name and echo what
// they get, UDP echo backends, and the proxy in between. Every test closes what
// it opens (t.after), the proxy with close({ flush: true }).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { rsKey, vsKey } from '../../src/health/server-state.js';
import { newRealServer, newVirtualServer } from '../../src/model/construct.js';
import type { Protocol, VirtualServer } from '../../src/model/types.js';
import type { DesiredService } from '../../src/dataplane/types.js';
import { createUserspaceDataplane, UserspaceReconcileError, type UserspaceDataplane, type UserspaceOptions } from '../../src/dataplane/userspace/index.js';
import { listenFailure } from '../../src/dataplane/userspace/errors.js';
import { abortSocket } from '../../src/dataplane/userspace/tcp.js';

const LO = '127.0.0.1';

// ---------------------------------------------------------------- helpers

/** A port nobody listens on right now (the kernel's pick, closed again). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, LO, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Backend {
  name: string;
  port: number;
  server: net.Server;
  sockets: Set<net.Socket>;
}

/**
 * A TCP backend: by default it sends `name\n`, echoes what it gets and ends when the
 * client ends. `onConnection` replaces that.
 */
async function backend(t: TestContext, name: string, onConnection?: (s: net.Socket) => void): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (onConnection) return onConnection(s);
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, LO, r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { name, port: (server.address() as net.AddressInfo).port, server, sockets };
}

interface Dest {
  port: number;
  weight?: number;
}

/** A virtual service on 127.0.0.1:`port` with real servers on 127.0.0.1, as health would hand it over. */
function service(port: number, dests: Dest[], scheduler = 'rr', protocol: Protocol = 'TCP', edit?: (vs: VirtualServer) => void): DesiredService {
  const vs = newVirtualServer({ kind: 'ip', address: LO, family: 4, port });
  vs.scheduler = scheduler;
  vs.protocol = protocol;
  for (const d of dests) {
    const rs = newRealServer(LO, d.port);
    rs.weight = d.weight ?? 1;
    vs.realServers.push(rs);
  }
  edit?.(vs);
  return {
    vsKey: vsKey(vs),
    vs,
    dests: vs.realServers.map((rs) => ({ address: rs.address, family: rs.family, port: rs.port, weight: rs.weight, forwarding: rs.forwarding ?? vs.forwarding, key: rsKey(rs) })),
  };
}

function proxy(t: TestContext, opts?: UserspaceOptions): UserspaceDataplane {
  const dp = createUserspaceDataplane(opts);
  t.after(() => dp.close({ flush: true }));
  return dp;
}

/** Connects, sends `send` (if any) and EOF, and returns everything the other side sent until it ended. */
function talk(port: number, send?: string | Buffer, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: LO, port, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
    const chunks: Buffer[] = [];
    c.on('data', (b: Buffer) => chunks.push(b));
    c.on('error', reject);
    c.on('end', () => {
      c.end();
      resolve(Buffer.concat(chunks).toString());
    });
    c.on('connect', () => {
      if (send !== undefined) c.write(send);
      c.end();
    });
  });
}

/** The backend name a new connection through `port` reaches. */
async function who(port: number, localAddress?: string): Promise<string> {
  return (await talk(port, undefined, localAddress)).trim();
}

interface Held {
  name: string;
  socket: net.Socket;
  /** Sends `s` and resolves with the echo. */
  echo(s: string): Promise<string>;
}

/** A connection kept open: resolves once the backend has said its name. */
function hold(t: TestContext, port: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LO, port });
    t.after(() => socket.destroy());
    let buf = '';
    let named: string | undefined;
    let waiter: { want: string; resolve: (s: string) => void } | undefined;
    socket.on('error', reject);
    socket.on('data', (b: Buffer) => {
      buf += b.toString();
      if (named === undefined) {
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        named = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        resolve({
          name: named,
          socket,
          echo(s) {
            return new Promise((res) => {
              waiter = { want: s, resolve: res };
              socket.write(s);
            });
          },
        });
      }
      if (waiter && buf.length >= waiter.want.length) {
        const got = buf.slice(0, waiter.want.length);
        buf = buf.slice(waiter.want.length);
        const w = waiter;
        waiter = undefined;
        w.resolve(got);
      }
    });
  });
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function active(dp: UserspaceDataplane, vk: string, dest: number): Promise<number | undefined> {
  return (await dp.activeConnections()).get(vk)?.get(`[${LO}]:${dest}`);
}

// ---------------------------------------------------------------- scheduling

test('rr rotates over three backends in list order, exactly', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(t, n)));
  const vip = await freePort();
  const dp = proxy(t);
  const ds = service(vip, bs.map((b) => ({ port: b.port })));
  const r = await dp.reconcile([ds]);
  assert.equal(r.applied, true);
  assert.deepEqual(
    r.changes.map((c) => `${c.op} ${c.object}`),
    [`add service tcp:[${LO}]:${vip}`, ...bs.map((b) => `add dest tcp:[${LO}]:${vip} -> [${LO}]:${b.port}`)],
  );
  const got: string[] = [];
  for (let i = 0; i < 9; i++) got.push(await who(vip));
  assert.deepEqual(got, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

test('wrr with weights 3:1 hands out the IPVS cycle a a a b', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'a'), backend(t, 'b')]);
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port, weight: 3 }, { port: b.port, weight: 1 }], 'wrr')]);
  const got: string[] = [];
  for (let i = 0; i < 8; i++) got.push(await who(vip));
  assert.deepEqual(got, ['a', 'a', 'a', 'b', 'a', 'a', 'a', 'b']);
});

test('the destination port may differ from the virtual port', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'a'), backend(t, 'b')]);
  const vip = await freePort();
  assert.notEqual(vip, a.port);
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port }, { port: b.port }])]);
  assert.equal(await talk(vip, 'ping'), 'a\nping');
  assert.equal(await talk(vip, 'pong'), 'b\npong');
  const [st] = await dp.stats();
  assert.deepEqual(st!.dests.map((d) => d.port), [a.port, b.port]);
  assert.equal(st!.address, `${LO}:${vip}`);
});

test('lc sends a new connection to the backend with the fewest open ones', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(t, n)));
  const vip = await freePort();
  const dp = proxy(t);
  const ds = service(vip, bs.map((b) => ({ port: b.port })), 'lc');
  await dp.reconcile([ds]);
  const h1 = await hold(t, vip);
  const h2 = await hold(t, vip);
  const h3 = await hold(t, vip);
  assert.deepEqual([h1.name, h2.name, h3.name], ['a', 'b', 'c']);
  const h4 = await hold(t, vip);
  assert.equal(h4.name, 'a', 'all tied at one: the first in the list');
  // Now a: 2, b: 1, c: 1. Close b's: b has none.
  h2.socket.end();
  await waitFor('b to have no connection', async () => (await active(dp, ds.vsKey, bs[1]!.port)) === 0);
  assert.equal((await hold(t, vip)).name, 'b');
  assert.equal((await hold(t, vip)).name, 'b', 'b: 1 like c, but first in the list');
  assert.equal((await hold(t, vip)).name, 'c');
});

test('sh sends a source address to the same backend every time, and spreads sources', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(t, n)));
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, bs.map((b) => ({ port: b.port })), 'sh')]);
  const seen = new Set<string>();
  for (let i = 1; i <= 12; i++) {
    const src = `127.0.0.${i}`;
    const first = await who(vip, src);
    for (let k = 0; k < 3; k++) assert.equal(await who(vip, src), first, `${src} stays on ${first}`);
    seen.add(first);
  }
  assert.ok(seen.size >= 2, `12 sources all went to ${[...seen].join()}`);
});

test('mh keeps a source on its backend, and with mh-port hashes the port too', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(t, n)));
  const [v1, v2] = [await freePort(), await freePort()];
  const dp = proxy(t);
  await dp.reconcile([
    service(v1, bs.map((b) => ({ port: b.port })), 'mh'),
    service(v2, bs.map((b) => ({ port: b.port })), 'mh', 'TCP', (vs) => (vs.schedFlags.mhPort = true)),
  ]);
  const first = await who(v1);
  for (let k = 0; k < 5; k++) assert.equal(await who(v1), first);
  // Different source ports of one address spread over the backends with mh-port.
  const seen = new Set<string>();
  for (let k = 0; k < 15; k++) seen.add(await who(v2));
  assert.ok(seen.size >= 2, `15 connections all went to ${[...seen].join()}`);
  const st = await dp.stats();
  assert.deepEqual(st.find((s) => s.address.endsWith(`:${v2}`))!.flags, ['mh-port']);
});

// ---------------------------------------------------------------- changes in place

test('weight 0 drains: no new connections, the open one keeps working', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'a'), backend(t, 'b')]);
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port }, { port: b.port }])]);
  const open = await hold(t, vip);
  assert.equal(open.name, 'a');
  const ds = service(vip, [{ port: a.port, weight: 0 }, { port: b.port }]);
  const r = await dp.reconcile([ds]);
  assert.deepEqual(r.changes, [{ op: 'update', object: `dest tcp:[${LO}]:${vip} -> [${LO}]:${a.port}`, detail: 'weight 1 -> 0' }]);
  for (let i = 0; i < 4; i++) assert.equal(await who(vip), 'b');
  assert.equal(await open.echo('still here'), 'still here');
  const [st] = await dp.stats();
  const da = st!.dests.find((d) => d.port === a.port)!;
  assert.equal(da.weight, 0);
  assert.equal(da.activeConns, 1);
  assert.equal(da.draining, true);
});

test('a removed destination keeps its open connection and gets no new ones', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'a'), backend(t, 'b')]);
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port }, { port: b.port }])]);
  const open = await hold(t, vip);
  assert.equal(open.name, 'a');
  const ds = service(vip, [{ port: b.port }]);
  const r = await dp.reconcile([ds]);
  assert.deepEqual(r.changes, [{ op: 'delete', object: `dest tcp:[${LO}]:${vip} -> [${LO}]:${a.port}`, detail: '1 open connection continue' }]);
  for (let i = 0; i < 3; i++) assert.equal(await who(vip), 'b');
  assert.equal(await open.echo('survived'), 'survived');
  assert.equal(await active(dp, ds.vsKey, a.port), 1);
  assert.equal((await dp.stats())[0]!.dests.find((d) => d.port === a.port)!.draining, true);
  open.socket.end();
  await waitFor('the removed destination to leave the table', async () => (await active(dp, ds.vsKey, a.port)) === undefined);
});

test('a dest set change keeps the listener: open connections and the port stay', async (t) => {
  const [a, b, c] = await Promise.all([backend(t, 'a'), backend(t, 'b'), backend(t, 'c')]);
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port }])]);
  const open = await hold(t, vip);
  const r = await dp.reconcile([service(vip, [{ port: a.port }, { port: b.port }, { port: c.port }], 'wrr')]);
  assert.deepEqual(
    r.changes.map((x) => `${x.op} ${x.object} ${x.detail}`),
    [
      `update service tcp:[${LO}]:${vip} scheduler rr -> wrr`,
      `add dest tcp:[${LO}]:${vip} -> [${LO}]:${b.port} weight 1`,
      `add dest tcp:[${LO}]:${vip} -> [${LO}]:${c.port} weight 1`,
    ],
  );
  assert.equal(await open.echo('x'), 'x');
  assert.deepEqual([await who(vip), await who(vip), await who(vip)], ['a', 'b', 'c']);
});

test('a new listen address (bindAddress) restarts the listener; open connections stay', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  let bind = LO;
  const dp = proxy(t, { bindAddress: () => bind });
  await dp.reconcile([service(vip, [{ port: a.port }])]);
  const open = await hold(t, vip);
  bind = '127.0.0.2';
  const r = await dp.reconcile([service(vip, [{ port: a.port }])]);
  assert.deepEqual(r.changes, [{ op: 'update', object: `service tcp:[${LO}]:${vip}`, detail: `listen tcp ${LO}:${vip} -> tcp 127.0.0.2:${vip}` }]);
  assert.equal(await open.echo('kept'), 'kept');
  assert.equal(await new Promise<string>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.2', port: vip });
    c.on('error', reject);
    c.once('data', (b: Buffer) => {
      c.destroy();
      resolve(b.toString());
    });
  }), 'a\n');
  await assert.rejects(talk(vip), /ECONNREFUSED/);
  assert.equal((await dp.stats())[0]!.listen, `tcp 127.0.0.2:${vip}`);
});

test('IPv6: a service on [::1] to an IPv4 backend', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = proxy(t);
  const ds = service(vip, [{ port: a.port }], 'rr', 'TCP', (vs) => (vs.address = { kind: 'ip', address: '::1', family: 6, port: vip }));
  const r = await dp.reconcile([ds]);
  assert.equal(r.changes[0]!.object, `service tcp:[::1]:${vip}`);
  const got = await new Promise<string>((resolve, reject) => {
    const c = net.connect({ host: '::1', port: vip });
    c.on('error', reject);
    c.once('data', (b: Buffer) => {
      c.destroy();
      resolve(b.toString());
    });
  });
  assert.equal(got, 'a\n');
  assert.equal((await dp.stats())[0]!.address, `[::1]:${vip}`);
});

test('a no-op reconcile makes no changes; a dry run changes nothing', async (t) => {
  const a = await backend(t, 'a');
  const [vip, vip2] = [await freePort(), await freePort()];
  const dp = proxy(t);
  const desired = [service(vip, [{ port: a.port }])];
  await dp.reconcile(desired);
  const again = await dp.reconcile([service(vip, [{ port: a.port }])]);
  assert.deepEqual(again.changes, []);
  assert.equal(again.applied, false);

  const dry = await dp.reconcile([...desired, service(vip2, [{ port: a.port }])], { dryRun: true });
  assert.equal(dry.applied, false);
  assert.deepEqual(dry.changes.map((c) => `${c.op} ${c.object}`), [`add service tcp:[${LO}]:${vip2}`, `add dest tcp:[${LO}]:${vip2} -> [${LO}]:${a.port}`]);
  await assert.rejects(talk(vip2), /ECONNREFUSED/);
  assert.equal((await dp.stats()).length, 1);
});

test('a removed service closes its listener; its open connection finishes', async (t) => {
  const a = await backend(t, 'a');
  const [v1, v2] = [await freePort(), await freePort()];
  const dp = proxy(t);
  const s1 = service(v1, [{ port: a.port }]);
  const s2 = service(v2, [{ port: a.port }]);
  await dp.reconcile([s1, s2]);
  const open = await hold(t, v1);
  const r = await dp.reconcile([s2]);
  assert.deepEqual(r.changes, [{ op: 'delete', object: `service ${s1.vsKey}`, detail: 'listener closed, 1 open connection continue' }]);
  await assert.rejects(talk(v1), /ECONNREFUSED/);
  assert.equal(await open.echo('bye'), 'bye');
  assert.equal(await who(v2), 'a');
  assert.deepEqual((await dp.stats()).map((s) => s.vsKey), [s2.vsKey]);
});

// ---------------------------------------------------------------- the byte stream

test('half-close: the client ends its side, the server still answers after EOF', async (t) => {
  const srv = await backend(t, 'half', (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('end', () => {
      // EOF seen; answer afterwards, on the still open direction.
      setTimeout(() => s.end(`got ${Buffer.concat(chunks).toString()}`), 50);
    });
  });
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: srv.port }])]);
  assert.equal(await talk(vip, 'question'), 'got question');
});

test('back-pressure: 20 MB to a stalled reader stays in the kernel, not in the proxy', async (t) => {
  const TOTAL = 20 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  const srv = await backend(t, 'bulk', (s) => {
    const pump = (): void => {
      while (written < TOTAL) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: srv.port }])]);
  const rss0 = process.memoryUsage().rss;
  const c = net.connect({ host: LO, port: vip });
  t.after(() => c.destroy());
  c.pause();
  await new Promise((r) => c.once('connect', r));
  let maxBuffered = 0;
  for (let i = 0; i < 40; i++) {
    await sleep(10);
    maxBuffered = Math.max(maxBuffered, dp.bufferedBytes());
  }
  assert.ok(maxBuffered < 1024 * 1024, `the proxy held ${maxBuffered} bytes for a stalled reader`);
  // Now read slowly-ish to the end.
  let got = 0;
  const done = new Promise<void>((r) => c.on('end', r));
  c.on('data', (b: Buffer) => {
    got += b.length;
    maxBuffered = Math.max(maxBuffered, dp.bufferedBytes());
  });
  c.resume();
  await done;
  assert.equal(got, TOTAL);
  assert.ok(maxBuffered < 1024 * 1024, `the proxy held ${maxBuffered} bytes`);
  const grew = process.memoryUsage().rss - rss0;
  assert.ok(grew < 60 * 1024 * 1024, `RSS grew by ${grew} bytes`);
  await waitFor('the counters', async () => (await dp.stats())[0]!.dests[0]!.activeConns === 0);
  assert.equal((await dp.stats())[0]!.dests[0]!.outBytes, TOTAL);
});

test('counters: connections, bytes in and out match what was sent', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'a'), backend(t, 'b')]);
  const vip = await freePort();
  const dp = proxy(t);
  const ds = service(vip, [{ port: a.port }, { port: b.port }]);
  await dp.reconcile([ds]);
  const sent = ['x'.repeat(1000), 'y'.repeat(2000), 'z'.repeat(3000)];
  for (const s of sent) await talk(vip, s);
  await waitFor('connections to end', async () => [...(await dp.activeConnections()).get(ds.vsKey)!.values()].every((n) => n === 0));
  const [st] = await dp.stats();
  const [da, db] = st!.dests;
  // a got the 1st and 3rd connection, b the 2nd; each replied its name line plus the echo.
  assert.deepEqual(
    { conns: da!.conns, inBytes: da!.inBytes, outBytes: da!.outBytes, activeConns: da!.activeConns },
    { conns: 2, inBytes: 4000, outBytes: 4000 + 2 * 2, activeConns: 0 },
  );
  assert.deepEqual({ conns: db!.conns, inBytes: db!.inBytes, outBytes: db!.outBytes }, { conns: 1, inBytes: 2000, outBytes: 2002 });
  assert.equal(st!.conns, 3);
  assert.equal(st!.inBytes, 6000);
  assert.equal(st!.outBytes, 6006);
  assert.equal(st!.bytes, 12006);
  assert.equal(da!.packets, undefined);
});

// ---------------------------------------------------------------- failures

test('a port already in use: a clear error naming it, and the other services still served', async (t) => {
  const a = await backend(t, 'a');
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, LO, r));
  const busy = (squatter.address() as net.AddressInfo).port;
  let squatting = true;
  t.after(() => (squatting ? squatter.close() : undefined));
  const ok = await freePort();
  const logs: string[] = [];
  const dp = proxy(t, { log: (m) => logs.push(m) });
  const desired = [service(busy, [{ port: a.port }]), service(ok, [{ port: a.port }])];
  const err: unknown = await dp.reconcile(desired).then(
    () => assert.fail('reconcile should throw'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserspaceReconcileError);
  assert.match(err.message, new RegExp(`${LO}:${busy} is already in use by another process \\(EADDRINUSE\\)`));
  assert.equal(err.failures.length, 1);
  assert.equal(err.failures[0]!.port, busy);
  assert.equal(err.failures[0]!.code, 'EADDRINUSE');
  assert.deepEqual(err.report.changes.map((c) => c.object), [`service tcp:[${LO}]:${ok}`, `dest tcp:[${LO}]:${ok} -> [${LO}]:${a.port}`]);
  assert.ok(logs.some((l) => l.includes(`${busy}`)));
  assert.equal(await who(ok), 'a');
  assert.deepEqual((await dp.stats()).map((s) => s.vsKey), [desired[1]!.vsKey]);

  // The failed service is not running: once the port is free, the next reconcile adds it.
  await new Promise<void>((r) => squatter.close(() => r()));
  squatting = false;
  const r = await dp.reconcile(desired);
  assert.deepEqual(r.changes.map((c) => `${c.op} ${c.object}`), [`add service tcp:[${LO}]:${busy}`, `add dest tcp:[${LO}]:${busy} -> [${LO}]:${a.port}`]);
  assert.equal(await who(busy), 'a');
});

test('an address not on the host, or a port below 1024 without privilege: the likely fix is named', async (t) => {
  const dp = proxy(t);
  const foreign = service(await freePort(), [{ port: 1 }], 'rr', 'TCP', (vs) => {
    if (vs.address.kind === 'ip') vs.address.address = '192.0.2.1';
  });
  const err = await dp.reconcile([foreign]).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserspaceReconcileError);
  assert.equal(err.failures[0]!.code, 'EADDRNOTAVAIL');
  assert.match(err.message, /192\.0\.2\.1 is not an address of this host \(EADDRNOTAVAIL binding tcp 192\.0\.2\.1:\d+\): .*net\.ipv4\.ip_nonlocal_bind=1/);
  assert.deepEqual(await dp.stats(), []);
  // Binding port 80 for real would succeed as root; the sentence for EACCES:
  const eacces = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES' });
  assert.equal(
    listenFailure('tcp:[0.0.0.0]:80', 'tcp', '0.0.0.0', 80, eacces).message,
    'tcp port 80 needs root or CAP_NET_BIND_SERVICE (EACCES binding 0.0.0.0:80): grant the capability or lower net.ipv4.ip_unprivileged_port_start',
  );
});

test('a refusing backend: the client is closed, the failure counted, nothing crashes', async (t) => {
  const dead = await freePort();
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: dead }, { port: a.port }])]);
  await assert.rejects(talk(vip), /ECONNRESET|socket hang up/);
  assert.equal(await who(vip), 'a');
  const [st] = await dp.stats();
  assert.equal(st!.dests[0]!.connectFailures, 1);
  assert.equal(st!.connectFailures, 1);
  await waitFor('no active connection', async () => (await dp.stats())[0]!.dests[0]!.activeConns === 0);
});

test('a backend that never answers the handshake: the client is reset after the connect timeout', async (t) => {
  // A listener whose process never accepts (its event loop is blocked): once its accept
  // queue is full the kernel drops further SYNs, so a connect hangs.
  const child = spawn(
    process.execPath,
    ['-e', `const s = require('net').createServer(); s.listen({ port: 0, host: '${LO}', backlog: 1 }, () => { console.log(s.address().port); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const stuck = await new Promise<number>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
  const fillers = [0, 1, 2, 3].map(() => net.connect({ host: LO, port: stuck }).on('error', () => {}));
  t.after(() => fillers.forEach((f) => f.destroy()));
  await sleep(100);
  const vip = await freePort();
  const dp = proxy(t, { connectTimeoutMs: 300 });
  await dp.reconcile([service(vip, [{ port: stuck }])]);
  const t0 = Date.now();
  await assert.rejects(talk(vip), /ECONNRESET|socket hang up/);
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 2000, `reset after ${took} ms`);
  const [st] = await dp.stats();
  assert.equal(st!.dests[0]!.connectFailures, 1);
  await waitFor('no active connection', async () => (await dp.stats())[0]!.dests[0]!.activeConns === 0);
});

test('a client that resets mid-stream and a backend that resets: both ends are released', async (t) => {
  let backendSaw = '';
  const rst = await backend(t, 'rst', (s) => {
    s.write('rst\n');
    s.on('data', (b: Buffer) => {
      if (b.toString().includes('die')) s.resetAndDestroy();
    });
  });
  const echo = await backend(t, 'echo', (s) => {
    s.write('echo\n');
    s.on('error', (e: Error) => (backendSaw = e.message));
  });
  const vip = await freePort();
  const dp = proxy(t);
  const ds = service(vip, [{ port: echo.port }, { port: rst.port }]);
  await dp.reconcile([ds]);
  const h = await hold(t, vip);
  assert.equal(h.name, 'echo');
  h.socket.resetAndDestroy();
  await waitFor('the backend connection to go', () => echo.sockets.size === 0);
  assert.match(backendSaw, /ECONNRESET/);

  const h2 = await hold(t, vip);
  assert.equal(h2.name, 'rst');
  const closed = new Promise<void>((r) => h2.socket.on('close', () => r()));
  h2.socket.on('error', () => {});
  h2.socket.write('die');
  await closed;
  await waitFor('no active connection', async () => [...(await dp.activeConnections()).get(ds.vsKey)!.values()].every((n) => n === 0));
});

test('no destination with weight: the client is reset and counted', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: a.port, weight: 0 }])]);
  await assert.rejects(talk(vip), /ECONNRESET|socket hang up/);
  assert.equal((await dp.stats())[0]!.noDestination, 1);
});

// ---------------------------------------------------------------- refusals

test('unsupported: fwmark, group, SCTP, kernel-only schedulers; DR/TUN only when strict', () => {
  const fw = newVirtualServer({ kind: 'fwmark', fwmark: 5 });
  const grp = newVirtualServer({ kind: 'group', group: 'g' });
  const sctp = newVirtualServer({ kind: 'ip', address: LO, family: 4, port: 1 });
  sctp.protocol = 'SCTP';
  const lblc = newVirtualServer({ kind: 'ip', address: LO, family: 4, port: 2 });
  lblc.scheduler = 'lblc';
  const dr = newVirtualServer({ kind: 'ip', address: LO, family: 4, port: 3 });
  dr.forwarding = { kind: 'DR' };
  const ok = newVirtualServer({ kind: 'ip', address: LO, family: 4, port: 4 });
  const all = [fw, grp, sctp, lblc, dr, ok];

  const lax = createUserspaceDataplane().unsupported(all);
  assert.deepEqual(
    lax.map((u) => [all.indexOf(u.vs), u.message]),
    [
      [0, 'the userspace data plane binds addresses; fwmark services need the nftables or ipvs data plane'],
      [1, 'the userspace data plane binds addresses; virtual_server_group services need the nftables or ipvs data plane'],
      [2, 'the userspace data plane proxies TCP and UDP only; SCTP needs the ipvs data plane'],
      [3, 'scheduler lblc is not available in the userspace data plane (it has rr, wrr, lc, wlc, sh, mh); choose one of those or a kernel data plane'],
    ],
  );
  const strict = createUserspaceDataplane({ strictForwarding: true }).unsupported(all);
  assert.deepEqual(
    strict.filter((u) => u.vs === dr).map((u) => u.message),
    ['DR/TUN need a kernel data plane; the userspace proxy would change the semantics (replies come back through the proxy)'],
  );
});

test('a DR service is proxied and the report says so; an unsupported one is skipped with a note', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = proxy(t);
  const dr = service(vip, [{ port: a.port }], 'rr', 'TCP', (vs) => (vs.forwarding = { kind: 'DR' }));
  const dh = service(await freePort(), [{ port: a.port }], 'dh');
  const r = await dp.reconcile([dr, dh]);
  assert.match(r.note ?? '', /proxied \(DR\/TUN need a kernel data plane.*\): tcp:\[127\.0\.0\.1\]:\d+/);
  assert.match(r.note ?? '', /not programmed: tcp:\[127\.0\.0\.1\]:\d+: scheduler dh is not available/);
  assert.equal(await who(vip), 'a');
  assert.deepEqual((await dp.stats()).map((s) => s.vsKey), [dr.vsKey]);
});

// ---------------------------------------------------------------- UDP

interface UdpBackend {
  port: number;
  sock: dgram.Socket;
}

async function udpBackend(t: TestContext, name: string): Promise<UdpBackend> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(`${name}:${m.toString()}`, r.port, r.address));
  await new Promise<void>((r) => sock.bind(0, LO, r));
  t.after(() => sock.close());
  return { port: sock.address().port, sock };
}

async function udpClient(t: TestContext, waitMs = 2000): Promise<(msg: string, port: number) => Promise<string>> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, LO, r));
  t.after(() => sock.close());
  return (msg, port) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UDP reply to ${msg}`)), waitMs);
      sock.once('message', (m, r) => {
        clearTimeout(timer);
        assert.equal(r.port, port, 'the reply comes from the virtual port');
        resolve(m.toString());
      });
      sock.send(msg, port, LO);
    });
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, LO, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('UDP: echo through the proxy, rr per client session, a session sticks to its backend', async (t) => {
  const [a, b] = await Promise.all([udpBackend(t, 'a'), udpBackend(t, 'b')]);
  const vip = await freeUdpPort();
  const dp = proxy(t, { udpIdleMs: 200 });
  const ds = service(vip, [{ port: a.port }, { port: b.port }], 'rr', 'UDP');
  const r = await dp.reconcile([ds]);
  assert.equal(r.changes[0]!.object, `service udp:[${LO}]:${vip}`);
  const c1 = await udpClient(t);
  const c2 = await udpClient(t);
  assert.equal(await c1('one', vip), 'a:one');
  assert.equal(await c2('two', vip), 'b:two');
  assert.equal(await c1('three', vip), 'a:three');
  assert.equal(await c2('four', vip), 'b:four');
  let [st] = await dp.stats();
  assert.deepEqual(
    st!.dests.map((d) => [d.conns, d.activeConns, d.inBytes, d.outBytes]),
    [
      [1, 1, 8, 12],
      [1, 1, 7, 11],
    ],
  );
  // Idle sessions end; the next datagram opens a new session (rr goes on).
  await waitFor('sessions to time out', async () => (await dp.stats())[0]!.dests.every((d) => d.activeConns === 0));
  assert.equal(await c2('five', vip), 'a:five');
  [st] = await dp.stats();
  assert.equal(st!.conns, 3);
});

test('UDP: a destination that answers with ICMP port unreachable ends the session, nothing crashes', async (t) => {
  const dead = await freeUdpPort();
  const vip = await freeUdpPort();
  const dp = proxy(t);
  await dp.reconcile([service(vip, [{ port: dead }], 'rr', 'UDP')]);
  const c = await udpClient(t, 300);
  await assert.rejects(c('anyone?', vip), /no UDP reply/);
  await waitFor('the failure to be counted', async () => (await dp.stats())[0]!.connectFailures >= 1);
});

// ---------------------------------------------------------------- close

test('close without flush stops listening at once and lets open connections finish', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = createUserspaceDataplane();
  await dp.reconcile([service(vip, [{ port: a.port }])]);
  const open = await hold(t, vip);
  const t0 = Date.now();
  await dp.close();
  assert.ok(Date.now() - t0 < 500);
  await assert.rejects(talk(vip), /ECONNREFUSED/);
  assert.equal(await open.echo('after close'), 'after close');
  await assert.rejects(dp.reconcile([]), /closed/);
});

test('close with flush cuts open connections', async (t) => {
  const a = await backend(t, 'a');
  const vip = await freePort();
  const dp = createUserspaceDataplane();
  await dp.reconcile([service(vip, [{ port: a.port }])]);
  const open = await hold(t, vip);
  open.socket.on('error', () => {});
  const closed = new Promise<void>((r) => open.socket.on('close', () => r()));
  await dp.close({ flush: true });
  await closed;
  await waitFor('the backend side to close', () => a.sockets.size === 0);
});

test('close with flush also cuts a half-closed connection (its sockets are released)', async (t) => {
  // The backend ignores the client's EOF and keeps its side open.
  const srv = await backend(t, 'mute', (s) => s.write('mute\n'));
  const vip = await freePort();
  const dp = createUserspaceDataplane();
  await dp.reconcile([service(vip, [{ port: srv.port }])]);
  const open = await hold(t, vip);
  open.socket.on('error', () => {});
  open.socket.end();
  await sleep(50);
  assert.equal(srv.sockets.size, 1);
  const closed = new Promise<void>((r) => open.socket.on('close', () => r()));
  await dp.close({ flush: true });
  await closed;
  // The proxy's socket towards the backend is gone: the backend's next writes are refused.
  const [b] = [...srv.sockets];
  const refused = new Promise<string>((r) => b!.once('error', (e: Error & { code?: string }) => r(e.code ?? '')));
  const tick = setInterval(() => b!.write('late'), 20);
  t.after(() => clearInterval(tick));
  assert.match(await refused, /EPIPE|ECONNRESET/);
});

test('aborting a socket while its shutdown is under way releases it', async (t) => {
  const srv = await backend(t, 'quiet', () => {});
  const c = net.connect({ host: LO, port: srv.port });
  c.on('error', () => {});
  t.after(() => c.destroy());
  await new Promise((r) => c.once('connect', r));
  c.end();
  // end() issues the shutdown on the next tick; it completes on a later turn of the loop.
  await new Promise((r) => process.nextTick(r));
  await new Promise((r) => process.nextTick(r));
  assert.equal(c.writableEnded, true);
  assert.equal(c.writableFinished, false);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  abortSocket(c, true);
  const timer = setTimeout(() => assert.fail('the socket was never closed (its handle leaked)'), 1000);
  await closed;
  clearTimeout(timer);
});
