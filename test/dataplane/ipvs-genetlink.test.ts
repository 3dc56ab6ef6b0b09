// Generic netlink against this machine's kernel (no IPVS needed): the controller family
// resolves itself and names a missing family ENOENT, and a batch reports the one
// refused request by its index while the kernel answers the others. Needs only the
// native addon (no root: GETFAMILY is unprivileged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Genetlink, getFamilyRequest, GENL_ID_CTRL } from '../../src/netlink/genetlink.js';
import { NetlinkError } from '../../src/netlink/rtnetlink.js';

test('resolves nlctrl; an unknown family is ENOENT', () => {
  const nl = Genetlink.open();
  try {
    const f = nl.family('nlctrl');
    assert.equal(f.id, GENL_ID_CTRL);
    assert.equal(f.name, 'nlctrl');
    assert.throws(
      () => nl.family('haldir-no-such'),
      (e: unknown) => e instanceof NetlinkError && e.code === 'ENOENT',
    );
  } finally {
    nl.close();
  }
});

test('a batch: one sendmsg, the refused request reported by index, the socket usable after', () => {
  const nl = Genetlink.open();
  try {
    const names = ['nlctrl', 'hd-nosuch-1', 'nlctrl', 'hd-nosuch-2', 'nlctrl'];
    const r = nl.batch(
      names.map((n) => getFamilyRequest(n, 0)),
      { what: (i) => `resolve ${names[i]}` },
    );
    assert.equal(r.sends, 1);
    assert.deepEqual(
      r.errors.map((e) => [e.index, e.error.code, e.error.message.split(':')[0]]),
      [
        [1, 'ENOENT', 'resolve hd-nosuch-1'],
        [3, 'ENOENT', 'resolve hd-nosuch-2'],
      ],
    );
    // Chunks: 2 messages per sendmsg → 3 sendmsg calls, errors still by index.
    const r2 = nl.batch(
      names.map((n) => getFamilyRequest(n, 0)),
      { what: (i) => names[i]!, maxMessages: 2 },
    );
    assert.equal(r2.sends, 3);
    assert.deepEqual(r2.errors.map((e) => e.index), [1, 3]);
    assert.equal(nl.family('nlctrl').id, GENL_ID_CTRL);
  } finally {
    nl.close();
  }
});
