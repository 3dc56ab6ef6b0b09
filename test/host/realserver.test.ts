// The real-server planner: scope choice (global on a plain host, targeted with
// Docker, macvlan, a second NIC, a bond), the changes and their order, what
// counts as already done, TUN and rp_filter, refusals with fixes, the record
// that keeps the first "before" values, teardown, and the --persist files.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { persistFiles, renderSysctlConf, renderUnit } from '../../src/host/persist.js';
import { describeChange, mergeState, planSetup, planTeardown, stateProblem, type RsState } from '../../src/host/realserver.js';
import { facts } from './fixtures.js';

const VIP = '10.0.0.100';
const lines = (p: ReturnType<typeof planSetup>) => p.changes.map(describeChange);

describe('realserver setup plan', () => {
  it('plain host: global scope, all/default/eth0, ARP suppressed before the VIP is added', () => {
    const p = planSetup(facts(), { vips: [VIP], mode: 'dr' });
    assert.deepEqual(p.errors, []);
    assert.equal(p.iface, 'eth0');
    assert.equal(p.scope, 'global');
    assert.match(p.scopeWhy, /eth0 is the only interface besides lo/);
    assert.deepEqual(lines(p), [
      'set net.ipv4.conf.all.arp_ignore 0 -> 1',
      'set net.ipv4.conf.all.arp_announce 0 -> 2',
      'set net.ipv4.conf.default.arp_ignore 0 -> 1',
      'set net.ipv4.conf.default.arp_announce 0 -> 2',
      'set net.ipv4.conf.eth0.arp_ignore 0 -> 1',
      'set net.ipv4.conf.eth0.arp_announce 0 -> 2',
      'add 10.0.0.100/32 dev lo label lo:haldir',
    ]);
  });

  it('Docker host: targeted, only eth0 and lo, with the reason naming docker0', () => {
    const p = planSetup(facts({ docker: true }), { vips: [VIP], mode: 'dr' });
    assert.equal(p.scope, 'targeted');
    assert.equal(p.scopeWhy, "docker0 (bridge: Docker's, 1 port) share this host: all/default would change how they answer ARP too, so only eth0 and lo are set");
    assert.ok(lines(p).every((l) => !/conf\.(all|default)\./.test(l)));
    assert.deepEqual(
      p.settings.map((s) => `${s.ifname}.${s.param}=${s.value}`),
      ['eth0.arp_ignore=1', 'eth0.arp_announce=2', 'lo.arp_ignore=1', 'lo.arp_announce=2'],
    );
  });

  it('targeted also for macvlan, a second NIC, a bond or VLAN as the VIP interface; --scope overrides with a warning', () => {
    assert.equal(planSetup(facts({ macvlan: true }), { vips: [VIP], mode: 'dr' }).scope, 'targeted');
    assert.equal(planSetup(facts({ eth1: true }), { vips: [VIP], mode: 'dr' }).scope, 'targeted');
    const bond = facts();
    bond.links[1] = { ...bond.links[1]!, kind: 'bond' };
    assert.match(planSetup(bond, { vips: [VIP], mode: 'dr' }).scopeWhy, /eth0 itself is a bond/);
    const veth = facts();
    veth.links[1] = { ...veth.links[1]!, kind: 'veth' };
    assert.equal(planSetup(veth, { vips: [VIP], mode: 'dr' }).scope, 'global', "a veth as the host's only NIC (a container) is not shared");
    const forced = planSetup(facts({ docker: true }), { vips: [VIP], mode: 'dr', scope: 'global' });
    assert.equal(forced.scope, 'global');
    assert.match(forced.warnings.join('\n'), /--scope global also changes ARP on docker0/);
  });

  it('idempotent: nothing to change when everything is in place; arp_ignore 2 counts as done', () => {
    const f = facts({
      addrs: [`lo ${VIP}/32`],
      conf: { 'eth0.arp_ignore': 2, 'eth0.arp_announce': 2, 'all.arp_ignore': 1, 'all.arp_announce': 2, 'default.arp_ignore': 1, 'default.arp_announce': 2 },
    });
    const p = planSetup(f, { vips: [VIP], mode: 'dr' });
    assert.deepEqual(p.changes, []);
    assert.ok(p.satisfied.includes(`${VIP} already on lo (${VIP}/32)`));
    assert.ok(p.satisfied.includes('net.ipv4.conf.eth0.arp_ignore = 2'));
  });

  it('a stricter conf/all that silences the host (8) is refused in targeted mode, with the fix', () => {
    const p = planSetup(facts({ docker: true, conf: { 'all.arp_ignore': 8 } }), { vips: [VIP], mode: 'dr' });
    assert.match(p.errors[0]!.message, /all\.arp_ignore=8 overrides eth0's setting .* not answer ARP even for its own address/);
    assert.equal(p.errors[0]!.fix, 'sysctl -w net.ipv4.conf.all.arp_ignore=0');
  });

  it('DR on a multi-homed host: loose rp_filter on the VIP interface when strict and the default route leaves elsewhere', () => {
    const f = facts({ eth1: true, conf: { 'all.rp_filter': 1 }, defaultVia: { gateway: '192.168.50.1', oif: 'eth1' } });
    const p = planSetup(f, { vips: [VIP], mode: 'dr' });
    assert.ok(lines(p).includes('set net.ipv4.conf.eth0.rp_filter 0 -> 2'), lines(p).join('\n'));
    assert.ok(!lines(planSetup(facts({ conf: { 'all.rp_filter': 1 } }), { vips: [VIP], mode: 'dr' })).some((l) => l.includes('rp_filter')));
  });

  it('TUN: tunl0 brought up, VIP on tunl0, loose rp_filter there; without tunl0 a refusal naming modprobe ipip', () => {
    const p = planSetup(facts({ tunl0: 'down', conf: { 'all.rp_filter': 1 } }), { vips: [VIP], mode: 'tun' });
    assert.deepEqual(p.errors, []);
    assert.equal(lines(p)[0], 'set link tunl0 up');
    assert.ok(lines(p).includes('set net.ipv4.conf.tunl0.rp_filter 0 -> 2'));
    assert.equal(lines(p).at(-1), 'add 10.0.0.100/32 dev tunl0 label tunl0:haldir');
    const none = planSetup(facts(), { vips: [VIP], mode: 'tun' });
    assert.deepEqual(none.errors, [{ message: 'tunl0 does not exist: the ipip module is not loaded (TUN real servers decapsulate on it)', fix: 'modprobe ipip' }]);
    assert.match(planSetup(facts({ tunl0: 'up' }), { vips: ['2001:db8::1'], mode: 'tun' }).errors[0]!.message, /IPv6 VIP needs an ip6tnl device/);
  });

  it('refusals: bad VIPs, an unknown or loopback --iface, VIPs on different interfaces', () => {
    assert.match(planSetup(facts(), { vips: ['10.0.0.999'], mode: 'dr' }).errors[0]!.message, /not an IPv4 or IPv6 address/);
    assert.match(planSetup(facts(), { vips: [], mode: 'dr' }).errors[0]!.message, /no VIP given/);
    assert.match(planSetup(facts(), { vips: [VIP], mode: 'dr', iface: 'eth7' }).errors[0]!.message, /--iface eth7: no such interface \(interfaces: lo, eth0\)/);
    assert.match(planSetup(facts(), { vips: [VIP], mode: 'dr', iface: 'lo' }).errors[0]!.message, /is the loopback/);
    assert.match(planSetup(facts({ eth1: true }), { vips: [VIP, '192.168.50.100'], mode: 'dr' }).errors[0]!.message, /face different interfaces \(10\.0\.0\.100: eth0, 192\.168\.50\.100: eth1\)/);
    const none = facts({ defaultVia: { oif: 'eth0' } });
    none.routes = [];
    none.addresses = none.addresses.filter((a) => a.ifname !== 'eth0');
    const e = planSetup(none, { vips: [VIP], mode: 'dr' }).errors[0]!;
    assert.match(e.message, /cannot tell which interface faces 10\.0\.0\.100: .*no default route/);
    assert.equal(e.fix, 'haldir realserver setup --vip 10.0.0.100 --mode dr --iface IFACE');
  });

  it('a VIP on eth0 as well (a director holding it, or ARP flux) is warned about, not removed', () => {
    const p = planSetup(facts({ addrs: [`eth0 ${VIP}/24`] }), { vips: [VIP], mode: 'dr' });
    assert.match(p.warnings[0]!, /10\.0\.0\.100 is also on eth0 .*ip address del 10\.0\.0\.100\/24 dev eth0/);
    assert.ok(lines(p).includes('add 10.0.0.100/32 dev lo label lo:haldir'));
  });

  it('IPv6 VIP: /128 on lo, no label, no ARP settings needed', () => {
    const p = planSetup(facts(), { vips: ['2001:db8::100'], mode: 'dr' });
    assert.deepEqual(lines(p), ['add 2001:db8::100/128 dev lo']);
  });
});

describe('the setup record and teardown', () => {
  const f0 = facts({ conf: { 'eth0.arp_announce': 1 } });
  const p0 = planSetup(f0, { vips: [VIP], mode: 'dr' });
  const s0 = mergeState(undefined, p0);

  it('records the values before setup, only for what it changed', () => {
    assert.deepEqual(
      s0.sysctls.find((x) => x.ifname === 'eth0' && x.param === 'arp_announce'),
      { ifname: 'eth0', param: 'arp_announce', value: 2, before: 1 },
    );
    assert.deepEqual(s0.vips, [{ address: VIP, family: 4, prefix: 32, device: 'lo', label: 'lo:haldir', added: true }]);
    assert.equal(stateProblem(JSON.parse(JSON.stringify(s0))), undefined);
    assert.match(stateProblem({ version: 2 })!, /unknown version/);
    assert.match(stateProblem(null)!, /not a JSON object/);
  });

  it('a second setup keeps the first "before" values (teardown must restore the original, not our own values)', () => {
    // Someone set eth0.arp_announce to 0 after the first setup; setup again changes 0 -> 2.
    const f1 = facts({ addrs: [`lo ${VIP}/32`], conf: { 'all.arp_ignore': 1, 'all.arp_announce': 2, 'default.arp_ignore': 1, 'default.arp_announce': 2, 'eth0.arp_ignore': 1 } });
    const s1 = mergeState(s0, planSetup(f1, { vips: [VIP], mode: 'dr' }));
    assert.equal(s1.sysctls.find((x) => x.ifname === 'eth0' && x.param === 'arp_announce')!.before, 1);
    assert.equal(s1.vips[0]!.added, true);
  });

  it('teardown: delete added VIPs first, then restore each changed value; values found right are left alone', () => {
    const after = facts({ addrs: [`lo ${VIP}/32`], conf: { 'all.arp_ignore': 1, 'all.arp_announce': 2, 'default.arp_ignore': 1, 'default.arp_announce': 2, 'eth0.arp_ignore': 1, 'eth0.arp_announce': 2 } });
    const t = planTeardown(after, s0);
    assert.deepEqual(t.changes.map(describeChange), [
      'delete 10.0.0.100/32 dev lo',
      'set net.ipv4.conf.all.arp_ignore 1 -> 0',
      'set net.ipv4.conf.all.arp_announce 2 -> 0',
      'set net.ipv4.conf.default.arp_ignore 1 -> 0',
      'set net.ipv4.conf.default.arp_announce 2 -> 0',
      'set net.ipv4.conf.eth0.arp_ignore 1 -> 0',
      'set net.ipv4.conf.eth0.arp_announce 2 -> 1',
    ]);
    const pre: RsState = { ...s0, vips: [{ ...s0.vips[0]!, added: false }], sysctls: [{ ifname: 'eth0', param: 'arp_ignore', value: 1 }] };
    const t2 = planTeardown(after, pre);
    assert.deepEqual(t2.changes, []);
    assert.match(t2.satisfied[0]!, /was on lo before setup: left there/);
  });

  it('teardown warns when a value was changed by someone else since setup', () => {
    const t = planTeardown(facts({ conf: { 'eth0.arp_announce': 0 } }), { ...s0, sysctls: [{ ifname: 'eth0', param: 'arp_announce', value: 2, before: 1 }], vips: [] });
    assert.match(t.warnings[0]!, /arp_announce was changed to 0 after setup; restoring 1 anyway/);
  });
});

describe('--persist files', () => {
  const s = mergeState(undefined, planSetup(facts({ docker: true }), { vips: [VIP, '10.0.0.101'], mode: 'dr' }));

  it('sysctl.d lists every wanted value (VLAN names with slashes)', () => {
    const text = renderSysctlConf({ ...s, sysctls: [...s.sysctls, { ifname: 'eth0.100', param: 'arp_ignore', value: 1 }] });
    assert.match(text, /^# Scope targeted: only the VIP-facing interface and lo/m);
    assert.match(text, /^net\.ipv4\.conf\.eth0\.arp_ignore = 1$/m);
    assert.match(text, /^net\.ipv4\.conf\.lo\.arp_announce = 2$/m);
    assert.match(text, /^net\.ipv4\.conf\.eth0\/100\.arp_ignore = 1$/m);
  });

  it('the unit restores every VIP (replace: a restart is harmless) after systemd-sysctl', () => {
    const u = renderUnit(s);
    assert.match(u, /^After=systemd-sysctl\.service network-pre\.target$/m);
    assert.match(u, /^ExecStart=ip address replace 10\.0\.0\.100\/32 dev lo label lo:haldir$/m);
    assert.match(u, /^ExecStart=ip address replace 10\.0\.0\.101\/32 dev lo label lo:haldir$/m);
    assert.match(u, /^ExecStop=-ip address del 10\.0\.0\.101\/32 dev lo$/m);
    const tun = renderUnit(mergeState(undefined, planSetup(facts({ tunl0: 'down' }), { vips: [VIP], mode: 'tun' })));
    assert.match(tun, /^ExecStartPre=-modprobe ipip\nExecStartPre=ip link set dev tunl0 up$/m);
  });

  it('paths live under the root; TUN adds modules-load.d', () => {
    assert.deepEqual(
      persistFiles(s, '/tmp/r').map((f) => f.path),
      ['/tmp/r/etc/sysctl.d/90-haldir-realserver.conf', '/tmp/r/etc/systemd/system/haldir-realserver.service', '/tmp/r/etc/systemd/system/multi-user.target.wants/haldir-realserver.service'],
    );
    const tun = mergeState(undefined, planSetup(facts({ tunl0: 'up' }), { vips: [VIP], mode: 'tun' }));
    assert.equal(persistFiles(tun, '/').at(-1)!.content, '# Written by haldir realserver setup: TUN real servers decapsulate on tunl0.\nipip\n');
  });
});
