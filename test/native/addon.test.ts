// The addon's contract: syscall failures come back as negative errno values
// (never exceptions), wrong argument types throw TypeError, and PacketSocket
// turns errno into NativeError with the errno name. No traffic: no namespace needed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addon } from '../../src/native/addon.js';
import { AF_INET, AF_NETLINK, NETLINK_ROUTE, SO_RCVBUF, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET } from '../../src/native/constants.js';
import { NativeError } from '../../src/native/errors.js';
import { readI32h, sockaddrIn, sockaddrNl } from '../../src/native/sockaddr.js';
import { PacketSocket } from '../../src/native/socket.js';

const A = addon();

describe('addon syscalls', () => {
  it('socket() failures are returned as -errno, not thrown', () => {
    assert.equal(A.socket(12345, SOCK_DGRAM, 0), -97); // EAFNOSUPPORT
    assert.equal(A.socket(AF_INET, 99, 0), -22); // EINVAL
    assert.equal(A.socket(AF_NETLINK, SOCK_RAW, 31), -93); // EPROTONOSUPPORT
  });
  it('operations on a bad fd return -EBADF', () => {
    const buf = Buffer.alloc(64);
    assert.equal(A.bind(-1, sockaddrIn('0.0.0.0')), -9);
    assert.equal(A.sendto(-1, buf, null), -9);
    assert.equal(A.recvmsg(-1, buf, null, null), -9);
    assert.equal(A.setsockopt(-1, SOL_SOCKET, SO_RCVBUF, Buffer.alloc(4)), -9);
    assert.equal(A.getsockopt(-1, SOL_SOCKET, SO_RCVBUF, 4), -9);
    assert.equal(A.close(-1), -9);
  });
  it('sockets are non-blocking: recvmsg on an idle socket returns -EAGAIN', () => {
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    assert.ok(fd >= 0);
    assert.equal(A.bind(fd, sockaddrNl()), 0);
    assert.equal(A.recvmsg(fd, Buffer.alloc(64), Buffer.alloc(16), Buffer.alloc(64)), -11);
    const v = A.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, 4);
    assert.ok(Buffer.isBuffer(v) && v.length === 4 && readI32h(v, 0) > 0);
    assert.equal(A.close(fd), 0);
  });
  it('ifNameToIndex: index of lo, -ENODEV for a missing interface', () => {
    assert.equal(A.ifNameToIndex('lo'), 1);
    assert.equal(A.ifNameToIndex('hdt-none0'), -19);
  });
  it('wrong argument types throw TypeError (programming errors)', () => {
    assert.throws(() => A.socket('x' as unknown as number, 1, 0), TypeError);
    assert.throws(() => A.sendto(0, 'data' as unknown as Buffer, null), TypeError);
    assert.throws(() => new A.Poller(0, undefined as unknown as () => void), TypeError);
  });
});

describe('PacketSocket', () => {
  it('open() throws NativeError named by errno', () => {
    assert.throws(
      () => PacketSocket.open(12345, SOCK_DGRAM, 0),
      (e: unknown) => e instanceof NativeError && e.code === 'EAFNOSUPPORT' && e.errno === 97 && /socket/.test(e.message),
    );
  });
  it('close() is idempotent; a closed socket reports EBADF instead of touching a reused fd', () => {
    const s = PacketSocket.open(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    s.start(() => undefined, () => undefined);
    s.close();
    s.close();
    assert.equal(s.closed, true);
    assert.equal(s.trySend(Buffer.alloc(4)), -9);
    assert.throws(() => s.setOption(SOL_SOCKET, SO_RCVBUF, 4096), (e: unknown) => (e as NativeError).code === 'EBADF');
  });
});
