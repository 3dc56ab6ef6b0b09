// rtnetlink inside a test namespace: address add/delete agree with `ip -j addr`
// (label, prefix, broadcast, IPv6 nodad, noprefixroute), errors are named and
// name the address and interface, watch() sees link down/up and address
// events, and an ENOBUFS overflow ends in a 'resync' that matches the kernel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Json, Lab, netnsUnavailable } from './lab.js';

const skip = netnsUnavailable();

interface IpAddr {
  family: string;
  local: string;
  prefixlen: number;
  label?: string;
  broadcast?: string;
  nodad?: boolean;
  noprefixroute?: boolean;
}
const ipAddrs = (lab: Lab, ns: string, dev: string): IpAddr[] =>
  lab.ipJson<{ addr_info: IpAddr[] }[]>(ns, 'addr', 'show', 'dev', dev)[0]!.addr_info;

describe('rtnetlink in a namespace', { skip }, () => {
  const lab = new Lab();
  let ns = '';
  before(() => {
    ns = lab.addNs('rt');
    const peer = lab.addNs('rtp');
    lab.veth(ns, 'eth0', '02:97:00:00:00:0a', peer, 'eth0', '02:97:00:00:00:0b');
  });
  after(() => lab.cleanup());

  it('add: ip -j addr agrees (label, prefix, broadcast, nodad, noprefixroute)', async () => {
    const lines = await lab.run(ns, 'addr', {
      ifname: 'eth0',
      ops: [
        { op: 'add', spec: { address: '10.97.0.1', prefix: 24, label: 'eth0:vip', broadcast: '10.97.0.255' } },
        { op: 'add', spec: { address: 'fd00:97::1', prefix: 64, noDad: true } },
        { op: 'add', spec: { address: '10.97.1.1', prefix: 24, noPrefixRoute: true } },
      ],
    });
    assert.deepEqual(lines.map((l) => l.ok), [true, true, true], JSON.stringify(lines));
    const got = ipAddrs(lab, ns, 'eth0');
    const v4 = got.find((a) => a.local === '10.97.0.1');
    assert.deepEqual([v4?.prefixlen, v4?.label, v4?.broadcast], [24, 'eth0:vip', '10.97.0.255']);
    const v6 = got.find((a) => a.local === 'fd00:97::1');
    assert.deepEqual([v6?.prefixlen, v6?.nodad], [64, true]);
    assert.equal(got.find((a) => a.local === '10.97.1.1')?.noprefixroute, true);
    const routes = lab.ipJson<{ dst: string }[]>(ns, 'route', 'show', 'dev', 'eth0').map((r) => r.dst);
    assert.ok(routes.includes('10.97.0.0/24') && !routes.includes('10.97.1.0/24'), routes.join(','));
    // Our dump reads the same addresses back.
    const [dump] = await lab.run(ns, 'dump');
    const ours = (dump!.addresses as Json[]).filter((a) => a.ifindex === 2).map((a) => `${a.address}/${a.prefix}`).sort();
    assert.deepEqual(ours, got.map((a) => `${a.local}/${a.prefixlen}`).sort());
  });

  it('a duplicate add fails with EEXIST and a message naming address and interface', async () => {
    const [line] = await lab.run(ns, 'addr', { ifname: 'eth0', ops: [{ op: 'add', spec: { address: '10.97.0.1', prefix: 24 } }] });
    const err = line!.error as Json;
    assert.equal(err.code, 'EEXIST');
    assert.match(err.message as string, /^add address 10\.97\.0\.1\/24 on eth0 \(ifindex 2\): EEXIST/);
  });

  it('delete: the addresses go; deleting again gives EADDRNOTAVAIL', async () => {
    const del = (address: string): Json => ({ op: 'del', spec: { address } });
    const lines = await lab.run(ns, 'addr', {
      ifname: 'eth0',
      ops: [del('10.97.0.1'), del('fd00:97::1'), del('10.97.1.1'), del('10.97.1.1')],
    });
    assert.deepEqual(lines.map((l) => l.ok), [true, true, true, false]);
    assert.equal((lines[3]!.error as Json).code, 'EADDRNOTAVAIL');
    assert.match((lines[3]!.error as Json).message as string, /delete address 10\.97\.1\.1 on eth0/);
    const left = ipAddrs(lab, ns, 'eth0').map((a) => a.local);
    assert.deepEqual(left.filter((a) => !a.startsWith('fe80')), []);
  });

  it('measures add/delete latency (200 IPv4 /32)', async (t) => {
    const [r] = await lab.run(ns, 'bench-addr', { ifname: 'eth0', n: 200 });
    t.diagnostic(`add ${(r!.addUs as number).toFixed(1)} µs/op, delete ${(r!.delUs as number).toFixed(1)} µs/op`);
    assert.ok((r!.addUs as number) < 5000);
  });

  it('watch(): initial state, then link down/up and address add/delete as typed events', async () => {
    const h = lab.helper(ns, 'watch', { initial: true });
    await h.waitFor((l) => l.ready === true);
    // initial: the full state first, so a consumer has no gap before the events.
    const first = await h.waitFor((l) => l.type === 'resync');
    assert.equal(first.reason, 'initial');
    assert.equal(first.links, 2);
    lab.ip(ns, 'link', 'set', 'eth0', 'down');
    await h.waitFor((l) => l.type === 'link' && l.name === 'eth0' && l.up === false);
    lab.ip(ns, 'link', 'set', 'eth0', 'up');
    const up = await h.waitFor((l) => l.type === 'link' && l.name === 'eth0' && l.up === true);
    assert.equal(up.mac, '02:97:00:00:00:0a');
    await h.waitFor((l) => l.type === 'link' && l.name === 'eth0' && l.running === true);
    lab.ip(ns, 'addr', 'add', '10.97.2.1/24', 'dev', 'eth0');
    const add = await h.waitFor((l) => l.type === 'address' && l.address === '10.97.2.1');
    assert.deepEqual([add.action, add.prefix, add.family, add.ifindex], ['add', 24, 'inet', 2]);
    lab.ip(ns, 'addr', 'del', '10.97.2.1/24', 'dev', 'eth0');
    await h.waitFor((l) => l.type === 'address' && l.address === '10.97.2.1' && l.action === 'del');
    assert.equal(h.lines.filter((l) => l.type === 'error').length, 0);
    h.proc.kill('SIGKILL');
    await h.done();
  });

  it('ENOBUFS (tiny SO_RCVBUF + 2000 adds) ends in a resync matching ip -j addr', async (t) => {
    const h = lab.helper(ns, 'watch', { rcvbuf: 4096, burst: { ifname: 'eth0', count: 2000 } });
    const resync = await h.waitFor((l) => l.type === 'resync', 60_000);
    await h.done();
    assert.equal(resync.reason, 'ENOBUFS');
    assert.equal(h.lines.filter((l) => l.type === 'error').length, 0, JSON.stringify(h.lines.filter((l) => l.type === 'error')));
    const burst = h.lines.find((l) => l.burstDone);
    t.diagnostic(`burst: 2000 adds (1000 IPv4 + 1000 IPv6 nodad) in ${((burst!.us as number) / 1000).toFixed(0)} ms`);
    const ours = (resync.addresses as Json[]).filter((a) => a.ifindex === 2).map((a) => `${a.address}/${a.prefix}`).sort();
    const kernel = ipAddrs(lab, ns, 'eth0').map((a) => `${a.local}/${a.prefixlen}`).sort();
    assert.equal(ours.length, kernel.length);
    assert.ok(ours.length >= 2000);
    assert.deepEqual(ours, kernel);
  });
});
