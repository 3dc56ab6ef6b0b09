// PacketSocket: one non-blocking socket fd plus its uv_poll watcher. Owns
// reading (recvmsg with name and ancillary data, decoded to a ReceivedPacket),
// error recovery (POLLERR stops libuv's watcher: we read the pending error,
// report it and re-arm, so a socket never goes silently dead) and closing.
import { addon, type NativePoller } from './addon.js';
import { AF_INET, AF_INET6, IP_ADD_MEMBERSHIP, IPPROTO_IP, IPPROTO_IPV6, IPV6_JOIN_GROUP, SO_BINDTODEVICE, SO_ERROR, SOL_SOCKET, MSG_TRUNC, UV_READABLE } from './constants.js';
import { check, errnoName, NativeError } from './errors.js';
import {
  decodeAncillary,
  decodeSockaddr,
  encodeSockaddr,
  int32,
  ipMreqn,
  ipv6Mreq,
  parseCmsgs,
  readI32h,
  SOCKADDR_STORAGE_LEN,
  type SockAddr,
} from './sockaddr.js';

export * from './constants.js';

const EAGAIN = 11;

export interface ReceivedPacket {
  /** The datagram (a copy; for raw IPv4 sockets it starts with the IP header). */
  data: Buffer;
  /** Sender: sockaddr_in/_in6 (with scope id) for IP sockets, sockaddr_ll for AF_PACKET. */
  from: SockAddr | undefined;
  /** Receiving interface: from IP_PKTINFO/IPV6_PKTINFO, or sockaddr_ll for AF_PACKET. */
  ifindex?: number;
  /** Destination address from IP_PKTINFO / IPV6_PKTINFO. */
  dst?: string;
  /** IPv4 TTL, when IP_RECVTTL is on. */
  ttl?: number;
  /** IPv6 hop limit, when IPV6_RECVHOPLIMIT is on. */
  hopLimit?: number;
  /** The datagram was larger than the receive buffer (MSG_TRUNC). */
  truncated: boolean;
}

export interface PacketSocketOptions {
  /** Receive buffer size: the largest datagram accepted whole (default 65536). */
  bufferSize?: number;
  /** Room for ancillary data (default 512). */
  controlSize?: number;
  /** Datagrams read per readiness callback before yielding to the event loop (default 64). */
  batch?: number;
}

export type PacketHandler = (packet: ReceivedPacket) => void;
export type SocketErrorHandler = (error: NativeError) => void;

type Destination = Uint8Array | SockAddr | null | undefined;
const toBytes = (to: Destination): Uint8Array | null => (to == null ? null : to instanceof Uint8Array ? to : encodeSockaddr(to));

export class PacketSocket {
  readonly fd: number;
  private readonly buf: Buffer;
  private readonly name = Buffer.alloc(SOCKADDR_STORAGE_LEN);
  private readonly control: Buffer;
  private readonly batch: number;
  private poller: NativePoller | undefined;
  private onPacket: PacketHandler | undefined;
  private onError: SocketErrorHandler | undefined;
  private isClosed = false;
  private reading = false;
  /** Consecutive poll errors without a datagram in between: backs off re-arming. */
  private errorStreak = 0;
  private rearmTimer: NodeJS.Timeout | undefined;

  /** socket(2) (non-blocking, close-on-exec); throws NativeError (e.g. EPERM without CAP_NET_RAW). */
  static open(domain: number, type: number, protocol: number, opts: PacketSocketOptions = {}): PacketSocket {
    const fd = check('socket', addon().socket(domain, type, protocol), `(${domain}, ${type}, ${protocol})`);
    return new PacketSocket(fd, opts);
  }

  /** Adopts an open fd (the PacketSocket closes it). */
  constructor(fd: number, opts: PacketSocketOptions = {}) {
    this.fd = fd;
    this.buf = Buffer.alloc(opts.bufferSize ?? 65536);
    this.control = Buffer.alloc(opts.controlSize ?? 512);
    this.batch = opts.batch ?? 64;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** setsockopt; a number is passed as a C int. Throws NativeError. */
  setOption(level: number, name: number, value: number | Uint8Array): void {
    this.ensureOpen();
    const v = typeof value === 'number' ? int32(value) : value;
    check('setsockopt', addon().setsockopt(this.fd, level, name, v), `(level ${level}, option ${name})`);
  }

  getOption(level: number, name: number, maxLen = 4): Buffer {
    this.ensureOpen();
    const r = addon().getsockopt(this.fd, level, name, maxLen);
    if (typeof r === 'number') throw new NativeError('getsockopt', r, `(level ${level}, option ${name})`);
    return r;
  }

  getInt(level: number, name: number): number {
    return readI32h(this.getOption(level, name, 4), 0);
  }

  bind(addr: Uint8Array | SockAddr): void {
    this.ensureOpen();
    check('bind', addon().bind(this.fd, toBytes(addr) as Uint8Array));
  }

  /** SO_BINDTODEVICE: send and receive only through this interface. */
  bindToDevice(ifname: string): void {
    this.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${ifname}\0`));
  }

  /** Joins an IPv4 (struct ip_mreqn) or IPv6 (struct ipv6_mreq) multicast group on one interface. */
  joinGroup(domain: number, group: string, ifindex: number): void {
    if (domain === AF_INET) this.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(group, ifindex));
    else if (domain === AF_INET6) this.setOption(IPPROTO_IPV6, IPV6_JOIN_GROUP, ipv6Mreq(group, ifindex));
    else throw new Error(`joinGroup: unsupported domain ${domain}`);
  }

  /** sendto: bytes sent or -errno (never throws for a send failure). */
  trySend(data: Uint8Array, to?: Destination): number {
    if (this.isClosed) return -9; // EBADF
    return addon().sendto(this.fd, data, toBytes(to));
  }

  /** sendto; throws NativeError (e.g. ENETDOWN, EAGAIN). */
  send(data: Uint8Array, to?: Destination): number {
    return check('sendto', this.trySend(data, to));
  }

  /** One datagram, undefined when none is queued; a pending socket error is thrown as NativeError. */
  receive(): ReceivedPacket | undefined {
    this.ensureOpen();
    const r = addon().recvmsg(this.fd, this.buf, this.name, this.control);
    if (typeof r === 'number') {
      if (r === -EAGAIN) return undefined;
      throw new NativeError('recvmsg', r);
    }
    const [n, namelen, controllen, flags] = r;
    const from = decodeSockaddr(this.name, namelen);
    const anc = decodeAncillary(parseCmsgs(this.control, controllen));
    const p: ReceivedPacket = {
      data: Buffer.from(this.buf.subarray(0, Math.min(n, this.buf.length))),
      from,
      truncated: (flags & MSG_TRUNC) !== 0,
      ...anc,
    };
    if (p.ifindex === undefined && from?.family === 'packet') p.ifindex = from.ifindex;
    return p;
  }

  /** Discards every queued datagram (and a pending error); returns how many were dropped. */
  drain(): number {
    let dropped = 0;
    for (;;) {
      const r = addon().recvmsg(this.fd, this.buf, null, null);
      if (typeof r === 'number') {
        if (r === -EAGAIN || r === -9) return dropped;
        continue; // an error is cleared by reading it
      }
      dropped++;
    }
  }

  /**
   * Starts delivering datagrams to onPacket. Errors (a poll error, or recvmsg failing with
   * e.g. ENOBUFS/ENETDOWN) go to onError after the socket has been re-armed; without an
   * onError they become process warnings, so they are never lost.
   */
  start(onPacket: PacketHandler, onError?: SocketErrorHandler): void {
    this.ensureOpen();
    this.onPacket = onPacket;
    this.onError = onError;
    if (!this.poller) {
      const A = addon();
      this.poller = new A.Poller(this.fd, (status) => this.onPoll(status));
    }
    this.arm();
  }

  /** Stops delivering (queued datagrams stay queued). */
  stop(): void {
    this.poller?.stop();
    if (this.rearmTimer) clearTimeout(this.rearmTimer);
    this.rearmTimer = undefined;
  }

  /** Stops the watcher, then closes the fd. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stop();
    this.poller?.close();
    this.poller = undefined;
    addon().close(this.fd);
  }

  private ensureOpen(): void {
    if (this.isClosed) throw new NativeError('socket', -9, '(closed)');
  }

  private arm(): void {
    if (this.isClosed || !this.poller) return;
    const rc = this.poller.start(UV_READABLE);
    if (rc < 0) this.report(new NativeError('uv_poll_start', rc));
  }

  private report(err: NativeError): void {
    if (this.onError) this.onError(err);
    else process.emitWarning(`${err.message} (fd ${this.fd}, no error handler)`, 'PacketSocketWarning');
  }

  private onPoll(status: number): void {
    if (this.isClosed) return;
    if (status < 0) {
      // POLLERR: libuv stopped the watcher. Reading SO_ERROR returns and clears the
      // socket's pending error (ENOBUFS after a netlink overflow, ENETDOWN for an
      // AF_PACKET socket whose link went down). Re-arm before reporting so a handler
      // that throws cannot leave the socket dead.
      let errno = -status;
      try {
        const soErr = this.getInt(SOL_SOCKET, SO_ERROR);
        if (soErr > 0) errno = soErr;
      } catch {
        /* keep the poll status */
      }
      this.errorStreak++;
      if (this.errorStreak > 8) {
        // A condition that re-raises POLLERR at once (not cleared by reading): do not spin.
        this.rearmTimer = setTimeout(() => {
          this.rearmTimer = undefined;
          this.arm();
        }, Math.min(1000, 10 * 2 ** (this.errorStreak - 8)));
      } else this.arm();
      this.report(new NativeError('poll', -errno, `(fd ${this.fd}: ${errnoName(errno)})`));
    }
    this.readAvailable();
  }

  private readAvailable(): void {
    if (this.reading) return; // re-entered from a handler (e.g. one calling drain())
    this.reading = true;
    try {
      for (let i = 0; i < this.batch && !this.isClosed; i++) {
        let p: ReceivedPacket | undefined;
        try {
          p = this.receive();
        } catch (err) {
          if (err instanceof NativeError) {
            this.report(err); // the error is cleared by having been read; keep going
            continue;
          }
          throw err;
        }
        if (!p) break;
        this.errorStreak = 0;
        this.onPacket?.(p);
      }
    } finally {
      this.reading = false;
    }
  }
}
