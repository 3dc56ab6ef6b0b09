// The pure questions asked of host facts: the kernel's effective per-interface
// value (max of all and the interface; OR for send_redirects), subnet
// arithmetic, which interface faces a VIP, which interfaces are shared.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confKey, effective, effectiveText, inSubnet, otherArpInterfaces, routeFor, vipFacingInterface, vipProblem } from '../../src/host/facts.js';
import { facts } from './fixtures.js';

describe('effective sysctl values', () => {
  it('arp_ignore / arp_announce / rp_filter: the larger of all and the interface', () => {
    assert.equal(effective(facts({ conf: { 'all.arp_ignore': 1 } }), 'eth0', 'arp_ignore'), 1);
    assert.equal(effective(facts({ conf: { 'eth0.arp_ignore': 2 } }), 'eth0', 'arp_ignore'), 2);
    assert.equal(effective(facts({ conf: { 'all.arp_ignore': 8, 'eth0.arp_ignore': 1 } }), 'eth0', 'arp_ignore'), 8);
    assert.equal(effective(facts({ conf: { 'all.rp_filter': 1, 'eth0.rp_filter': 2 } }), 'eth0', 'rp_filter'), 2);
    // default is not consulted for an existing interface.
    assert.equal(effective(facts({ conf: { 'default.arp_ignore': 1 } }), 'eth0', 'arp_ignore'), 0);
  });

  it('send_redirects: on when either is on', () => {
    assert.equal(effective(facts({ conf: { 'all.send_redirects': 0 } }), 'eth0', 'send_redirects'), 1);
    assert.equal(effective(facts({ conf: { 'all.send_redirects': 0, 'eth0.send_redirects': 0 } }), 'eth0', 'send_redirects'), 0);
  });

  it('the evidence text names all, the interface, the result and a misleading default', () => {
    assert.equal(
      effectiveText(facts({ conf: { 'default.arp_ignore': 1 } }), 'eth0', 'arp_ignore'),
      'arp_ignore: all=0 eth0=0 → effective 0 (the kernel uses the larger of all and the interface); default=1 only applies to interfaces created after it was set',
    );
  });

  it('dotted sysctl names write an interface name with dots using slashes', () => {
    assert.equal(confKey('eth0.100', 'arp_ignore'), 'net.ipv4.conf.eth0/100.arp_ignore');
  });
});

describe('addresses and interfaces', () => {
  it('subnets', () => {
    assert.ok(inSubnet('10.0.0.100', '10.0.0.21', 24));
    assert.ok(!inSubnet('10.0.1.100', '10.0.0.21', 24));
    assert.ok(inSubnet('1.2.3.4', '0.0.0.0', 0));
    assert.ok(inSubnet('10.0.0.21', '10.0.0.21', 32));
    assert.ok(!inSubnet('::1', '10.0.0.0', 8));
  });

  it('VIP validation', () => {
    assert.equal(vipProblem('10.0.0.100'), undefined);
    assert.equal(vipProblem('2001:db8::1'), undefined);
    assert.match(vipProblem('10.0.0.256')!, /not an IPv4 or IPv6 address/);
    assert.match(vipProblem('127.0.0.2')!, /loopback/);
    assert.match(vipProblem('224.0.0.18')!, /multicast/);
    assert.match(vipProblem('ff02::12')!, /multicast/);
  });

  it('the VIP-facing interface: on the VIP subnet, else the default route, else none', () => {
    assert.deepEqual(vipFacingInterface(facts(), '10.0.0.100'), { iface: 'eth0', why: "eth0 has an address in 10.0.0.100's subnet" });
    assert.equal(vipFacingInterface(facts({ eth1: true }), '192.168.50.100').iface, 'eth1');
    assert.equal(vipFacingInterface(facts(), '203.0.113.10').iface, 'eth0');
    assert.match(vipFacingInterface(facts(), '203.0.113.10').why, /default route leaves through eth0/);
    const two = facts({ addrs: ['eth1 10.0.0.30/24'], eth1: true });
    assert.match(vipFacingInterface(two, '10.0.0.100').why, /eth0 and eth1 all have addresses/);
  });

  it('shared interfaces: Docker bridge (ports folded into it), macvlan, a second NIC; never lo, tunnels or bridge ports', () => {
    assert.deepEqual(otherArpInterfaces(facts({ tunl0: 'up' }), 'eth0'), []);
    const d = otherArpInterfaces(facts({ docker: true, macvlan: true, eth1: true }), 'eth0').map((o) => `${o.link.name}: ${o.why}`);
    assert.deepEqual(d, ["docker0: bridge: Docker's, 1 port", 'mv0: macvlan on eth0: its own MAC on the wire', 'eth1: network interface']);
  });

  it('route lookup: longest prefix', () => {
    const f = facts({ eth1: true });
    assert.equal(routeFor(f, '192.168.50.7')?.oif, 'eth1');
    assert.equal(routeFor(f, '8.8.8.8')?.gateway, '10.0.0.1');
  });
});
