// The nftables driver's netlink backend: sends one transaction (ops.ts), encoded by
// nfnetlink.ts as one nf_tables batch, on a NETLINK_NETFILTER socket and reads what the
// kernel answers. No nft process and no ruleset cache: a one-element change costs one
// sendmsg. The kernel applies the batch whole or not at all; a refusal comes back as an
// NLMSG_ERROR for the message it refused (by sequence number, with the extended ACK's text
// and the offset of the attribute at fault), which is turned into an error naming the op —
// and for element lists the element.
import { addon } from '../../native/addon.js';
import { AF_NETLINK, NETLINK_EXT_ACK, SO_RCVBUFFORCE, SOCK_RAW, SOL_NETLINK, SOL_SOCKET } from '../../native/constants.js';
import { errnoName, errnoText, NativeError } from '../../native/errors.js';
import { int32, readI32h, readU32h, sockaddrNl } from '../../native/sockaddr.js';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, NLMSGERR_ATTR_MSG, parseNlmsgs, parseRtattrs } from '../../netlink/rtnetlink.js';
import { encodeBatch, locateFailure, NfnlEncodeError, type Batch } from './nfnetlink.js';
import { elementText, opSummary, type NftOp } from './ops.js';

const NETLINK_NETFILTER = 12;
/** Errors carry no copy of the refused request (it may be a 64 KiB element list). */
const NETLINK_CAP_ACK = 10;
/** Like SO_SNDBUF but past net.core.wmem_max (CAP_NET_ADMIN): a whole ruleset goes in one sendmsg. */
const SO_SNDBUFFORCE = 32;
const NLMSGERR_ATTR_OFFS = 2;
const EAGAIN = 11;
const ENOBUFS = 105;

/** A transaction nftables refused (nothing was changed), or nft could not be run. */
export class NftError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    /** errno name when the kernel refused over netlink ("ENOENT"). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NftError';
  }
}

interface Refusal {
  seq: number;
  errno: number;
  extack?: string;
  offset?: number;
}

function decodeError(payload: Buffer, flags: number): Omit<Refusal, 'seq'> & { reqSeq: number } {
  const errno = -readI32h(payload, 0);
  const reqSeq = readU32h(payload, 12); // the refused request's nlmsghdr: len, type, flags, seq
  if (!(flags & NLM_F_ACK_TLVS)) return { errno, reqSeq };
  const echoed = flags & NLM_F_CAPPED ? 16 : readU32h(payload, 4);
  const tlvs = parseRtattrs(payload, 4 + ((echoed + 3) & ~3));
  const msg = tlvs.get(NLMSGERR_ATTR_MSG);
  const offs = tlvs.get(NLMSGERR_ATTR_OFFS);
  return {
    errno,
    reqSeq,
    ...(msg ? { extack: msg.toString('utf8').replace(/\0.*$/s, '') } : {}),
    ...(offs && offs.length >= 4 ? { offset: readU32h(offs, 0) } : {}),
  };
}

/** What to do about a refusal, in the operator's terms. */
function hint(code: string): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return ' — writing nftables needs CAP_NET_ADMIN (run haldir as root)';
    case 'EPROTONOSUPPORT':
      return ' — the kernel has no nf_tables netlink (CONFIG_NF_TABLES); use --dataplane userspace';
    case 'ENOENT':
      return ' — the object is missing: changed behind haldir\'s back? The next reconcile re-reads the kernel';
    case 'EEXIST':
    case 'EBUSY':
      return ' — the kernel already has a different object there; the next reconcile re-reads the kernel';
    default:
      return '';
  }
}

/** The refusal as one message: which op (and element), the errno, the kernel's own words. */
export function describeRefusal(ops: readonly NftOp[], batch: Batch, r: Refusal): { message: string; code: string } {
  const code = errnoName(r.errno);
  const where = locateFailure(batch, r.seq, r.offset);
  let what = 'the batch';
  if (where && where.op >= 0) {
    const o = ops[where.op]!;
    if ((o.op === 'add element' || o.op === 'delete element') && where.element !== undefined) {
      what = `${o.op} ${o.family} ${o.table} ${o.map.name} { ${elementText(o, where.element)} }`;
    } else what = opSummary(o);
  }
  return { message: `nftables refused the transaction, nothing was changed: ${what}: ${code} (${errnoText(r.errno)})${r.extack ? `: ${r.extack}` : ''}${hint(code)}`, code };
}

export interface NetlinkApplyResult {
  /** Bytes sent in the one sendmsg. */
  bytes: number;
  messages: number;
  /** Whether the kernel confirmed the batch (an ACK of BATCH_END: kernels since 6.10). */
  acked: boolean;
}

/**
 * A NETLINK_NETFILTER socket for nf_tables batches, kept open between transactions:
 * closing one makes the kernel flush nf_tables' deferred destruction work, an RCU grace
 * period (~5 ms measured) on every transaction if each had its own socket.
 */
export class NftSocket {
  private fd = -1;
  private sndbuf = 0;
  private seq = Math.floor(Math.random() * 0x3fffffff) || 1;
  private readonly rbuf = Buffer.alloc(65536);
  private static readonly registry = new FinalizationRegistry<number>((fd) => void addon().close(fd));

  private open(): number {
    if (this.fd >= 0) return this.fd;
    const A = addon();
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    if (fd < 0) throw new NftError(`nftables netlink socket: ${errnoName(fd)} (${errnoText(fd)})${hint(errnoName(fd))}`, '', errnoName(fd));
    const rc = A.bind(fd, sockaddrNl(0, 0));
    if (rc < 0) {
      A.close(fd);
      throw new NativeError('bind', rc, '(netlink netfilter)');
    }
    A.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int32(1));
    A.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, int32(1));
    this.fd = fd;
    this.sndbuf = 0;
    NftSocket.registry.register(this, fd, this);
    return fd;
  }

  close(): void {
    if (this.fd < 0) return;
    NftSocket.registry.unregister(this);
    addon().close(this.fd);
    this.fd = -1;
  }

  /**
   * Writes one transaction, synchronously (the kernel processes a netlink request inside
   * sendmsg, so its answers are queued when sendmsg returns). Throws NftError naming the
   * refused op; the kernel then applied nothing.
   */
  apply(ops: readonly NftOp[]): NetlinkApplyResult {
    const A = addon();
    let batch: Batch;
    try {
      batch = encodeBatch(ops, { seq: this.seq, ifindex: (name) => A.ifNameToIndex(name) });
    } catch (e) {
      if (e instanceof NfnlEncodeError) throw new NftError(`cannot write the nftables transaction, nothing was sent: ${e.message}`, '', 'EINVAL');
      throw e;
    }
    this.seq = (this.seq + batch.messages.length) % 0x7fffffff || 1;
    const fd = this.open();
    try {
      return this.exchange(fd, ops, batch);
    } catch (e) {
      this.close(); // a fresh socket next time: nothing left over from this batch
      throw e;
    }
  }

  private exchange(fd: number, ops: readonly NftOp[], batch: Batch): NetlinkApplyResult {
    const A = addon();
    // Room for the whole batch (sent as one message) and for an error per message.
    if (batch.buf.length + 65536 > this.sndbuf) {
      const size = batch.buf.length + 65536;
      const rc = A.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, int32(size));
      if (rc < 0) throw new NftError(`nftables netlink: cannot size the send buffer for a ${batch.buf.length}-byte batch: ${errnoName(rc)}${hint(errnoName(rc))}`, '', errnoName(rc));
      A.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(Math.min(64 << 20, Math.max(1 << 20, batch.messages.length * 128))));
      this.sndbuf = size;
    }
    const sent = A.sendto(fd, batch.buf, sockaddrNl(0, 0));
    if (sent < 0) throw new NftError(`nftables netlink: sending the ${batch.buf.length}-byte batch failed: ${errnoName(sent)} (${errnoText(sent)})${hint(errnoName(sent))}`, '', errnoName(sent));
    const firstSeq = batch.messages[0]!.seq;
    const endSeq = batch.messages[batch.messages.length - 1]!.seq;
    const refusals: Refusal[] = [];
    let acked = false;
    let overrun = false;
    for (;;) {
      const r = A.recvmsg(fd, this.rbuf, null, null);
      if (typeof r === 'number') {
        if (r === -EAGAIN) break; // everything the kernel said is read
        if (r === -ENOBUFS) {
          overrun = true; // more answers than the receive buffer held: some were dropped
          continue;
        }
        throw new NativeError('recvmsg', r, '(nftables netlink)');
      }
      for (const m of parseNlmsgs(this.rbuf, r[0])) {
        if (m.type !== NLMSG_ERROR) continue;
        const e = decodeError(m.payload, m.flags);
        if (((e.reqSeq - firstSeq) >>> 0) > endSeq - firstSeq) continue; // not this batch's
        if (e.errno === 0) {
          if (e.reqSeq === endSeq) acked = true;
          continue;
        }
        refusals.push({ seq: e.reqSeq, errno: e.errno, ...(e.extack ? { extack: e.extack } : {}), ...(e.offset !== undefined ? { offset: e.offset } : {}) });
      }
    }
    if (refusals.length) {
      refusals.sort((a, b) => a.seq - b.seq);
      const d = describeRefusal(ops, batch, refusals[0]!);
      const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more refusal(s) in the same batch)` : '';
      throw new NftError(`${d.message}${more}`, '', d.code);
    }
    if (overrun) throw new NftError('nftables netlink: the kernel answered with more messages than fit the receive buffer; the transaction may have been refused — the next reconcile re-reads the kernel', '', 'ENOBUFS');
    return { bytes: batch.buf.length, messages: batch.messages.length, acked };
  }
}

/** One transaction on a socket of its own (opened and closed: for one-off writes). */
export function applyNetlink(ops: readonly NftOp[]): NetlinkApplyResult {
  const s = new NftSocket();
  try {
    return s.apply(ops);
  } finally {
    s.close();
  }
}
