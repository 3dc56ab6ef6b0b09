// The UDP side of the userspace proxy: one socket on the virtual address, and a
// session per client address and port, each with its own socket connected to the
// destination the service picked for it. Replies go back to the client from the
// virtual address. A session ends after `idleMs` without a datagram either way,
// or on an error from its destination (an ICMP port unreachable shows up as
// ECONNREFUSED on the connected socket); the next datagram opens a new one.
import dgram from 'node:dgram';
import type { DestRuntime, Listener, ProxyHost } from './service.js';

export interface UdpOptions {
  idleMs: number;
}

/** Datagrams held per session while its socket connects (a DNS-free connect takes one tick). */
const MAX_QUEUE = 64;

interface Session {
  dest: DestRuntime;
  up: dgram.Socket;
  timer: NodeJS.Timeout;
  /** Datagrams waiting for the connect; undefined once connected. */
  queue: Buffer[] | undefined;
  queued: number;
  ended: boolean;
}

export function udpListener(host: string, port: number, svc: ProxyHost, opts: UdpOptions): Listener {
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
  const sessions = new Map<string, Session>();
  let bound = false;
  let closing = false;
  let deathReason: string | undefined;

  const end = (key: string, s: Session): void => {
    if (s.ended) return;
    s.ended = true;
    clearTimeout(s.timer);
    if (sessions.get(key) === s) sessions.delete(key);
    try {
      s.up.close();
    } catch {
      // Already closed.
    }
    svc.close(s.dest);
  };

  const send = (key: string, s: Session, msg: Buffer): void => {
    const onSent = (err: Error | null): void => {
      if (!err) return;
      svc.failed(s.dest, err);
      end(key, s);
    };
    try {
      s.up.send(msg, onSent);
    } catch (err) {
      onSent(err as Error);
    }
  };

  const open = (key: string, d: DestRuntime, clientAddress: string, clientPort: number): Session => {
    const up = dgram.createSocket(d.family === 6 ? 'udp6' : 'udp4');
    const s: Session = {
      dest: d,
      up,
      timer: setTimeout(() => end(key, s), opts.idleMs),
      queue: [],
      queued: 0,
      ended: false,
    };
    s.timer.unref();
    sessions.set(key, s);
    up.on('error', (err) => {
      svc.failed(d, err);
      end(key, s);
    });
    up.on('message', (m) => {
      if (s.ended || closing) return;
      s.timer.refresh();
      svc.bytesOut(d, m.length);
      try {
        sock.send(m, clientPort, clientAddress, () => {});
      } catch {
        // The listener closed under us: its 'close' ends the sessions.
      }
    });
    up.connect(d.port, d.address, (err?: Error) => {
      if (s.ended) return;
      if (err) {
        svc.failed(d, err);
        end(key, s);
        return;
      }
      const q = s.queue ?? [];
      s.queue = undefined;
      for (const m of q) send(key, s, m);
    });
    return s;
  };

  sock.on('message', (msg, rinfo) => {
    if (closing) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = sessions.get(key);
    if (!s) {
      const d = svc.open({ address: rinfo.address, port: rinfo.port });
      if (!d) return;
      s = open(key, d, rinfo.address, rinfo.port);
    }
    s.timer.refresh();
    if (s.queue) {
      if (s.queue.length >= MAX_QUEUE) return;
      s.queue.push(msg);
      s.queued += msg.length;
    } else {
      send(key, s, msg);
    }
    svc.bytesIn(s.dest, msg.length);
  });
  // Before the bind completes listen() reports errors; after it they are only logged.
  sock.on('error', (err) => {
    if (bound) svc.log(`userspace: ${svc.vsKey}: ${err.message}`, { vsKey: svc.vsKey });
  });
  sock.on('close', () => {
    if (!closing) deathReason = 'socket closed';
    for (const [k, s] of [...sessions]) end(k, s);
  });

  return {
    listen() {
      return new Promise<void>((resolve, reject) => {
        const early = (err: Error): void => {
          sock.off('listening', ready);
          reject(err);
        };
        const ready = (): void => {
          sock.off('error', early);
          bound = true;
          resolve();
        };
        sock.once('error', early);
        sock.once('listening', ready);
        sock.bind({ address: host, port, exclusive: true });
      });
    },
    close() {
      // Sessions end even without flush: their replies would leave through this socket.
      closing = true;
      for (const [k, s] of [...sessions]) end(k, s);
      try {
        sock.close();
      } catch {
        // Never bound, or already closed.
      }
    },
    get alive() {
      return bound && !closing && deathReason === undefined;
    },
    get deathReason() {
      return deathReason;
    },
    flows() {
      return sessions.size;
    },
    buffered() {
      let n = 0;
      for (const s of sessions.values()) if (s.queue) n += s.queued;
      try {
        n += sock.getSendQueueSize();
      } catch {
        // Not bound.
      }
      return n;
    },
  };
}
