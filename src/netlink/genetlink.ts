// Generic netlink (Linux uapi genetlink.h) for haldir, in TypeScript over the addon's
// plain sockets: the genlmsghdr, resolving a family's dynamic id by name through the
// controller (CTRL_CMD_GETFAMILY, e.g. "IPVS"), requests and dumps through the shared
// synchronous loop of rtnetlink.ts (netlinkTransaction), and batches: many requests in
// one sendmsg, acknowledged once, with every refused request reported by index.
//
// Wire format: struct nlmsghdr (type = the family id), struct genlmsghdr { u8 cmd;
// u8 version; u16 reserved }, then netlink attributes in host byte order.
import { addon } from '../native/addon.js';
import { AF_NETLINK, MSG_TRUNC, NETLINK_EXT_ACK, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF, SOCK_RAW, SOL_NETLINK, SOL_SOCKET } from '../native/constants.js';
import { NativeError } from '../native/errors.js';
import { readU16h, readU32h, sockaddrNl, writeI32h, writeU16h, writeU32h } from '../native/sockaddr.js';
import {
  decodeNlError,
  NetlinkError,
  netlinkTransaction,
  nlmsg,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  parseNlmsgs,
  parseRtattrs,
  rtattrString,
  type NlMsg,
} from './rtnetlink.js';

// ---- constants (linux/netlink.h, linux/genetlink.h) --------------------------------

export const NETLINK_GENERIC = 16;
export const GENL_ID_CTRL = 0x10;
export const GENL_HDRLEN = 4;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
/** NETLINK_CAP_ACK: error replies carry only the request's header, not its body. */
export const NETLINK_CAP_ACK = 10;
/** Like SO_SNDBUF but ignores net.core.wmem_max (needs CAP_NET_ADMIN). */
const SO_SNDBUFFORCE = 32;

// ---- encoding / decoding -----------------------------------------------------------

/** struct genlmsghdr (4 bytes). */
export function genlmsghdr(cmd: number, version: number): Buffer {
  const b = Buffer.alloc(GENL_HDRLEN);
  b.writeUInt8(cmd, 0);
  b.writeUInt8(version, 1);
  return b;
}

/** A whole generic netlink message: nlmsghdr (type = family id) + genlmsghdr + attributes. */
export function genlMessage(familyId: number, cmd: number, version: number, flags: number, seq: number, attrs: Uint8Array[]): Buffer {
  return nlmsg(familyId, flags, seq, [genlmsghdr(cmd, version), ...attrs]);
}

/** The command of a generic netlink message (the first byte of its payload). */
export const genlCmd = (m: NlMsg): number => m.payload.readUInt8(0);

/** The attributes of a generic netlink message (after the genlmsghdr and a family header of `hdrsize` bytes). */
export const genlAttrs = (m: NlMsg, hdrsize = 0): Map<number, Buffer> => parseRtattrs(m.payload, GENL_HDRLEN + hdrsize);

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  /** Bytes of the family's own header after the genlmsghdr (0 for most families). */
  hdrsize: number;
  maxattr: number;
}

/** The controller's request for a family by name. */
export function getFamilyRequest(name: string, seq: number): Buffer {
  return genlMessage(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_REQUEST, seq, [rtattrString(CTRL_ATTR_FAMILY_NAME, name)]);
}

/** A CTRL_CMD_NEWFAMILY payload (after the netlink header). */
export function decodeFamily(payload: Buffer): GenlFamily {
  const a = parseRtattrs(payload, GENL_HDRLEN);
  const u16 = (t: number): number => {
    const v = a.get(t);
    return v && v.length >= 2 ? readU16h(v, 0) : 0;
  };
  const u32 = (t: number): number => {
    const v = a.get(t);
    return v && v.length >= 4 ? readU32h(v, 0) : 0;
  };
  const n = a.get(CTRL_ATTR_FAMILY_NAME);
  const z = n ? n.indexOf(0) : -1;
  return { id: u16(CTRL_ATTR_FAMILY_ID), name: n ? n.toString('utf8', 0, z < 0 ? n.length : z) : '', version: u32(CTRL_ATTR_VERSION), hdrsize: u32(CTRL_ATTR_HDRSIZE), maxattr: u32(CTRL_ATTR_MAXATTR) };
}

// ---- batches -------------------------------------------------------------------------

/** A request of a batch the kernel refused. */
export interface BatchError {
  /** Index into the batch's messages. */
  index: number;
  error: NetlinkError;
}

export interface BatchResult {
  errors: BatchError[];
  /** sendmsg calls made (one per chunk). */
  sends: number;
}

export interface BatchOptions {
  /** What message i does, for its error ("add dest …"); called only on failure. */
  what: (index: number) => string;
  /** Bytes per sendmsg (default 60 KiB: below the default socket send buffer). */
  maxBytes?: number;
  /** Messages per sendmsg (default 1024: their error replies must fit the receive buffer). */
  maxMessages?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

// ---- the socket ----------------------------------------------------------------------

/** A generic netlink socket for synchronous requests, dumps and batches. */
export class Genetlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x3fffffff) + 1;
  private readonly rbuf = Buffer.alloc(65536);
  private readonly families = new Map<string, GenlFamily>();
  private closed = false;
  /** Messages sent, by kind (for tests and reports: a no-op reconcile sends no change). */
  readonly sent = { requests: 0, dumps: 0, batched: 0, sendmsg: 0 };

  /** Opens and binds a socket; `bufferBytes` asks for larger socket buffers (FORCE variants need CAP_NET_ADMIN). */
  static open(opts: { bufferBytes?: number } = {}): Genetlink {
    const A = addon();
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
    if (fd < 0) throw new NativeError('socket', fd, '(AF_NETLINK, NETLINK_GENERIC)');
    const rc = A.bind(fd, sockaddrNl(0, 0));
    if (rc < 0) {
      A.close(fd);
      throw new NativeError('bind', rc, '(netlink generic)');
    }
    const one = Buffer.alloc(4);
    writeI32h(one, 1, 0);
    // Best effort: the kernel's reason text, and short error replies in batches.
    A.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
    A.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one);
    if (opts.bufferBytes) {
      const v = Buffer.alloc(4);
      writeI32h(v, opts.bufferBytes, 0);
      for (const [force, plain] of [
        [SO_SNDBUFFORCE, SO_SNDBUF],
        [SO_RCVBUFFORCE, SO_RCVBUF],
      ] as const)
        if (A.setsockopt(fd, SOL_SOCKET, force, v) < 0) A.setsockopt(fd, SOL_SOCKET, plain, v);
    }
    return new Genetlink(fd);
  }

  private constructor(fd: number) {
    this.fd = fd;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private check(): void {
    if (this.closed) throw new NativeError('genetlink', -9, '(closed)');
  }

  /** A family by name (cached); throws NetlinkError ENOENT when the kernel has no such family. */
  family(name: string): GenlFamily {
    this.check();
    const cached = this.families.get(name);
    if (cached) return cached;
    let found: GenlFamily | undefined;
    netlinkTransaction(this.fd, this.rbuf, {
      what: `resolve generic netlink family ${name}`,
      label: 'genetlink',
      build: (seq) => getFamilyRequest(name, seq),
      dump: false,
      ack: false,
      nextSeq: () => this.nextSeq(),
      onMsg: (m) => {
        if (m.type === GENL_ID_CTRL && genlCmd(m) === CTRL_CMD_NEWFAMILY) found = decodeFamily(m.payload);
      },
    });
    if (!found) throw new NetlinkError(`resolve generic netlink family ${name}`, 2);
    this.families.set(name, found);
    return found;
  }

  /**
   * One request. `dump`: NLM_F_DUMP, every reply message until NLMSG_DONE; otherwise the
   * reply (when the command has one) or the ACK. `onMsg` sees views of the receive buffer,
   * valid during the call only. Throws NetlinkError when the kernel refuses.
   */
  request(what: string, family: GenlFamily, cmd: number, attrs: Uint8Array[], o: { dump?: boolean; reply?: boolean; onMsg?: (m: NlMsg) => void; onRestart?: () => void } = {}): void {
    this.check();
    const flags = NLM_F_REQUEST | (o.dump ? NLM_F_DUMP : o.reply ? 0 : NLM_F_ACK);
    if (o.dump) this.sent.dumps++;
    else this.sent.requests++;
    netlinkTransaction(this.fd, this.rbuf, {
      what,
      label: 'genetlink',
      build: (seq) => genlMessage(family.id, cmd, family.version, flags, seq, attrs),
      dump: !!o.dump,
      ack: !o.dump && !o.reply,
      nextSeq: () => this.nextSeq(),
      onMsg: (m) => {
        if (m.type === family.id) o.onMsg?.(m);
      },
      ...(o.onRestart ? { onRestart: o.onRestart } : {}),
    });
  }

  /**
   * Many requests (whole messages, e.g. from genlMessage with seq 0) in as few sendmsg
   * calls as fit: each chunk's messages get consecutive sequence numbers and only the
   * last asks for an ACK; the kernel processes a chunk inside sendmsg, message by
   * message, and answers each refused one with an error carrying its sequence number.
   * Messages are not atomic together: a refused one does not undo the others.
   */
  batch(messages: readonly Buffer[], o: BatchOptions): BatchResult {
    this.check();
    const A = addon();
    const maxBytes = o.maxBytes ?? 60 * 1024;
    const maxMessages = o.maxMessages ?? 1024;
    const errors: BatchError[] = [];
    let sends = 0;
    for (let start = 0; start < messages.length; ) {
      let end = start;
      let bytes = 0;
      while (end < messages.length && end - start < maxMessages && (end === start || bytes + messages[end]!.length <= maxBytes)) bytes += messages[end++]!.length;
      const chunk = Buffer.allocUnsafe(bytes);
      const first = this.seq + 1;
      let off = 0;
      for (let i = start; i < end; i++) {
        const m = messages[i]!;
        m.copy(chunk, off);
        const seq = this.nextSeq();
        writeU16h(chunk, NLM_F_REQUEST | (i === end - 1 ? NLM_F_ACK : 0), off + 6);
        writeU32h(chunk, seq, off + 8);
        off += m.length;
      }
      const last = this.seq;
      const sent = A.sendto(this.fd, chunk, sockaddrNl(0, 0));
      if (sent < 0) throw new NativeError('sendto', sent, '(genetlink batch)');
      sends++;
      this.sent.sendmsg++;
      this.sent.batched += end - start;
      // Read until the last message's ACK (or error): the kernel answered all of them by then.
      let waited = 0;
      for (let done = false; !done; ) {
        const r = A.recvmsg(this.fd, this.rbuf, null, null);
        if (typeof r === 'number') {
          if (r === -11 && waited < 5000) {
            Atomics.wait(sleeper, 0, 0, 1);
            waited++;
            continue;
          }
          // ENOBUFS: replies were dropped (the receive buffer overflowed); which ones is unknown.
          throw new NativeError('recvmsg', r === -11 ? -110 : r, '(genetlink batch replies)');
        }
        if (r[3] & MSG_TRUNC) throw new NativeError('recvmsg', -90, '(genetlink batch: reply truncated)');
        for (const m of parseNlmsgs(this.rbuf, r[0])) {
          if (m.type !== NLMSG_ERROR) continue;
          const seqOff = (m.seq - first) >>> 0;
          if (seqOff >= end - start) continue; // a stale reply from an earlier request
          const e = decodeNlError(m);
          if (e.errno !== 0) errors.push({ index: start + seqOff, error: new NetlinkError(o.what(start + seqOff), e.errno, e.extack) });
          if (m.seq === last) done = true;
        }
      }
      start = end;
    }
    return { errors, sends };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    addon().close(this.fd);
  }
}
