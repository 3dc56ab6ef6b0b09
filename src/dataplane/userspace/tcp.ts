// The TCP side of the userspace proxy: a listener that pairs every accepted client
// with a new connection to the destination the service picks, and copies bytes both
// ways with stream back-pressure (a slow reader pauses the other side). Half-close
// is kept (allowHalfOpen on both sockets: a client's FIN becomes a FIN towards the
// destination, whose data still flows back until it ends). An error on either side
// resets the other; a destination that refuses or does not answer within the
// connect timeout gets the client reset and the failure counted.
import net from 'node:net';
import type { DestRuntime, Listener, ProxyHost } from './service.js';

export interface TcpOptions {
  connectTimeoutMs: number;
}

/** Idle time before TCP keepalive probes: a vanished peer is noticed eventually. */
const KEEPALIVE_MS = 60_000;

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/**
 * Ends a socket at once; with an RST when it has a connection to reset. Not while
 * its shutdown is under way (end() called, not yet finished): libuv refuses the
 * reset (EINVAL) and Node then drops the handle without closing it, so the fd leaks
 * and keeps the process alive. A plain close then (the kernel resets if data is
 * left unread).
 */
export function abortSocket(s: net.Socket, reset: boolean): void {
  if (s.destroyed) return;
  const shuttingDown = s.writableEnded && !s.writableFinished;
  if (reset && !s.connecting && !shuttingDown) s.resetAndDestroy();
  else s.destroy();
}

export function tcpListener(host: string, port: number, svc: ProxyHost, opts: TcpOptions): Listener {
  const pairs = new Set<Pair>();
  let closing = false;
  let deathReason: string | undefined;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS });

  const proxy = (client: net.Socket, d: DestRuntime): void => {
    const upstream = net.connect({
      host: d.address,
      port: d.port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
    });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    let connected = false;
    let failed = false;
    let closed = 0;

    const fail = (err: unknown): void => {
      if (failed || connected) return;
      failed = true;
      clearTimeout(timer);
      svc.failed(d, err);
      upstream.destroy();
      abortSocket(client, true);
    };
    const timer = setTimeout(() => fail(new Error(`connect to ${d.key} timed out after ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);

    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    upstream.on('error', (err) => {
      if (!connected) fail(err);
      else abortSocket(client, true);
    });
    client.on('error', () => {
      clearTimeout(timer);
      abortSocket(upstream, connected);
    });
    client.on('data', (b: Buffer) => svc.bytesIn(d, b.length));
    upstream.on('data', (b: Buffer) => svc.bytesOut(d, b.length));
    const onClose = (): void => {
      if (++closed < 2) return;
      clearTimeout(timer);
      pairs.delete(pair);
      svc.close(d);
    };
    // A side that closes without an error has sent and received its FIN: the other
    // side then ends by itself. One that closes by error takes the other with it.
    client.on('close', (hadError) => {
      if (hadError || !connected) {
        clearTimeout(timer);
        abortSocket(upstream, connected);
      }
      onClose();
    });
    upstream.on('close', (hadError) => {
      if (hadError) abortSocket(client, true);
      onClose();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  };

  server.on('connection', (client) => {
    client.on('error', () => {});
    const address = client.remoteAddress;
    if (address === undefined) {
      client.destroy();
      return;
    }
    const d = svc.open({ address, port: client.remotePort ?? 0 });
    if (!d) {
      abortSocket(client, true);
      return;
    }
    proxy(client, d);
  });
  let listening = false;
  // listen() reports its own errors; after it only accept errors (EMFILE and the like)
  // arrive here, and the server keeps listening.
  server.on('error', (err) => {
    if (listening) svc.log(`userspace: ${svc.vsKey}: ${err.message}`, { vsKey: svc.vsKey });
  });
  server.on('close', () => {
    if (!closing) deathReason = 'listener closed';
  });

  return {
    listen() {
      return new Promise<void>((resolve, reject) => {
        const early = (err: Error): void => {
          server.off('listening', ready);
          reject(err);
        };
        const ready = (): void => {
          server.off('error', early);
          listening = true;
          resolve();
        };
        server.once('error', early);
        server.once('listening', ready);
        server.listen({ host, port, exclusive: true });
      });
    },
    close(flush) {
      closing = true;
      if (server.listening) server.close(() => {});
      if (!flush) return;
      for (const p of [...pairs]) {
        abortSocket(p.client, true);
        abortSocket(p.upstream, true);
      }
    },
    get alive() {
      return !closing && deathReason === undefined && server.listening;
    },
    get deathReason() {
      return deathReason;
    },
    flows() {
      return pairs.size;
    },
    buffered() {
      let n = 0;
      for (const p of pairs) n += p.client.writableLength + p.client.readableLength + p.upstream.writableLength + p.upstream.readableLength;
      return n;
    },
  };
}
