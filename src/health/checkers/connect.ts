// Opening a check's TCP connection on a bare non-blocking socket from the native
// addon — shared by TCP_CHECK and plain HTTP_GET. Ten thousand checks a second
// must not each build a node stream; the bare socket also lets bind_if
// (SO_BINDTODEVICE) and fwmark (SO_MARK) apply. The close is abortive (RST, no
// TIME_WAIT), as HAProxy's checks close: thousands a second would otherwise
// pile up TIME_WAIT sockets and pay a FIN exchange each.
import { isIP } from 'node:net';
import type { CheckerCommon } from '../../model/types.js';
import { addon, type NativeAddon } from '../../native/addon.js';
import { AF_INET, AF_INET6, SO_BINDTODEVICE, SO_ERROR, SOCK_STREAM, SOL_SOCKET } from '../../native/constants.js';
import { errnoName, errnoText } from '../../native/errors.js';
import { ERRNO_WORDS_BY_NAME, targetSockaddr } from './common.js';

const EINPROGRESS = 115;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const TCP_ESTABLISHED = 1;
const SO_MARK = 36;
const SO_LINGER = 13;
/** struct linger { l_onoff = 1, l_linger = 0 }. */
const ABORTIVE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** "connection refused", "connection reset" … for an errno. */
export function errnoWords(errno: number): string {
  return ERRNO_WORDS_BY_NAME[errnoName(errno)] ?? errnoText(errno);
}

export type Opened =
  /** `connected`: the handshake completed inside connect() (TCP_INFO ESTABLISHED); else poll for writable. */
  | { fd: number; connected: boolean; A: NativeAddon }
  | { error: string };

type Source = Pick<CheckerCommon, 'bindTo' | 'bindPort' | 'bindIf' | 'fwmark'>;

export function openConnection(address: string, port: number, family: 4 | 6, src: Source = {}): Opened {
  if (!isIP(address)) return { error: `bad address ${address}` };
  const A = addon();
  const fd = A.socket(family === 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return { error: `socket: ${errnoText(-fd)}` };
  const fail = (what: string, rc: number): Opened => {
    A.close(fd);
    return { error: `${what}: ${errnoText(-rc)}` };
  };
  let rc: number;
  if (src.bindIf && (rc = A.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${src.bindIf}\0`))) < 0) return fail(`bind_if ${src.bindIf}`, rc);
  if (src.fwmark) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(src.fwmark);
    if ((rc = A.setsockopt(fd, SOL_SOCKET, SO_MARK, v)) < 0) return fail(`fwmark ${src.fwmark}`, rc);
  }
  if ((src.bindTo || src.bindPort) && (rc = A.bind(fd, targetSockaddr(src.bindTo ?? (family === 4 ? '0.0.0.0' : '::'), src.bindPort ?? 0, family))) < 0) {
    return fail(`bindto ${src.bindTo ?? ''}:${src.bindPort ?? 0}`, rc);
  }
  A.setsockopt(fd, SOL_SOCKET, SO_LINGER, ABORTIVE);
  rc = A.connect(fd, targetSockaddr(address, port, family));
  if (rc === 0) return { fd, connected: true, A };
  if (rc !== -EINPROGRESS) {
    A.close(fd);
    return { error: errnoWords(-rc) };
  }
  // On loopback and fast links the handshake often completes inside connect(): then no
  // poller round is needed (TCP_INFO's first byte is the state).
  const info = A.getsockopt(fd, IPPROTO_TCP, TCP_INFO, 1);
  return { fd, connected: typeof info !== 'number' && info[0] === TCP_ESTABLISHED, A };
}

/** After the socket polled writable: 0 when connected, else the errno (SO_ERROR). */
export function connectError(A: NativeAddon, fd: number): number {
  const e = A.getsockopt(fd, SOL_SOCKET, SO_ERROR, 4);
  return typeof e === 'number' ? -e : e.readInt32LE(0);
}
