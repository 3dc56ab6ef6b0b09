// Expansion of a cluster file into per-node models: the convenience layer and
// the defaults it must share with keepalived.conf input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadClusterText } from '../../src/config/cluster/load.js';
import { newChecker, newRealServer, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';
import { defaultGlobals } from '../../src/model/defaults.js';
import { stripSrc } from '../../src/model/compare.js';
import type { NodeModel } from '../../src/model/types.js';

function load(text: string): Map<string, NodeModel> {
  const r = loadClusterText(text, 'c.yaml');
  assert.deepEqual(r.diagnostics, []);
  return r.models;
}

const NODES = `nodes:
  - { name: a, address: 10.0.0.1, interface: eth1 }
  - { name: b, address: 10.0.0.2, interface: eth1 }
  - { name: c, address: 10.0.0.3, interface: eth1 }
`;

test('a minimal file gets keepalived\'s defaults from the constructors', () => {
  const m = load(`${NODES}vrrp: [{ name: VI_1, vrid: 7 }]\nservices: [{ vip: 10.0.0.100, port: 80, real_servers: [{ address: 10.0.0.9 }], checks: [{ type: TCP_CHECK }] }]\n`).get('a')!;
  const g = { ...defaultGlobals(), routerId: 'a' };
  assert.deepEqual(stripSrc(m.global), g);
  const inst = newVrrpInstance('VI_1', 'eth1', 7, g);
  assert.deepEqual(stripSrc(m.vrrpInstances), [inst]);
  const vs = newVirtualServer({ kind: 'ip', address: '10.0.0.100', family: 4, port: 80 });
  const rs = newRealServer('10.0.0.9', 80);
  // YAML checks default to rise 2 / fall 3, everything else as keepalived.
  rs.checkers = [newChecker('TCP_CHECK', { delayLoop: vs.delayLoop, rise: 2, fall: 3 })];
  vs.realServers = [rs];
  assert.deepEqual(stripSrc(m.virtualServers), [vs]);
});

test('defaults: sets rise/fall for every check; a check may override them', () => {
  const m = load(`${NODES}defaults: { rise: 1, fall: 1 }
services:
  - vip: 10.0.0.100
    port: 80
    real_servers: [{ address: 10.0.0.9 }]
    checks: [{ type: TCP_CHECK }, { type: PING_CHECK, fall: 5 }]
`).get('b')!;
  const [tcp, ping] = m.virtualServers[0]!.realServers[0]!.checkers;
  assert.deepEqual([tcp!.rise, tcp!.fall, ping!.rise, ping!.fall], [1, 1, 1, 5]);
});

test('priorities default to list order; master:, priorities: and states: per node', () => {
  const ms = load(`${NODES}vrrp:
  - { name: VI_1, vrid: 1, master: b }
  - { name: VI_2, vrid: 2, priorities: { c: 150 }, states: { c: MASTER } }
  - { name: VI_3, vrid: 3, priority: 50, state: MASTER }
`);
  const view = (n: string) => ms.get(n)!.vrrpInstances.map((v) => `${v.state}/${v.priority}`);
  assert.deepEqual(view('a'), ['BACKUP/100', 'BACKUP/100', 'MASTER/50']);
  assert.deepEqual(view('b'), ['MASTER/99', 'BACKUP/99', 'MASTER/50']);
  assert.deepEqual(view('c'), ['BACKUP/98', 'MASTER/150', 'MASTER/50']);
  // src points at where the value came from.
  assert.equal(ms.get('c')!.vrrpInstances[1]!.src!.priority!.line, 7);
  assert.equal(ms.get('b')!.vrrpInstances[0]!.src!.state!.line, 6);
});

test('unicast: true makes the other nodes peers and the own address the source', () => {
  const ms = load(`${NODES}vrrp:
  - { name: VI_1, vrid: 1, unicast: true, nodes: [a, c] }
`);
  const v = ms.get('c')!.vrrpInstances[0]!;
  assert.equal(v.unicastSrcIp, '10.0.0.3');
  assert.deepEqual(stripSrc(v.unicastPeers), [{ address: '10.0.0.1' }]);
  assert.equal(ms.get('b')!.vrrpInstances.length, 0);
});

test('ports: expands to one virtual service per port, real servers on that port', () => {
  const m = load(`${NODES}services:
  - vip: 10.0.0.100
    ports: [443, 8443, 6443]
    mode: dr
    real_servers: [{ address: 10.0.1.1 }, { address: 10.0.1.2, port: 9000 }, { address: 10.0.1.3, port: null }]
`).get('a')!;
  assert.deepEqual(m.virtualServers.map((v) => v.address.kind === 'ip' && v.address.port), [443, 8443, 6443]);
  assert.deepEqual(m.virtualServers.map((v) => v.forwarding.kind), ['DR', 'DR', 'DR']);
  assert.deepEqual(m.virtualServers[1]!.realServers.map((r) => r.port), [8443, 9000, undefined]);
  assert.deepEqual(m.virtualServers.map((v) => v.src!.port!.col), [13, 18, 24]);
});

test('real_servers: nodes uses every node, on the service port, with the service checks', () => {
  const m = load(`${NODES}checks:
  web: { type: HTTP_GET, url: [{ path: /healthz, status: [200, "300-302"] }], connect_timeout: 500ms }
services:
  - { vip: 10.0.0.100, port: 80, delay_loop: 1m, real_servers: nodes, checks: [web] }
`).get('b')!;
  const vs = m.virtualServers[0]!;
  assert.equal(vs.delayLoop, 60);
  assert.deepEqual(vs.realServers.map((r) => `${r.address}:${r.port}`), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
  for (const rs of vs.realServers) {
    const c = rs.checkers[0]!;
    assert.equal(c.type, 'HTTP_GET');
    assert.equal(c.connectTimeout, 0.5);
    assert.equal(c.delayLoop, 60);
    assert.equal(c.type === 'HTTP_GET' && JSON.stringify(stripSrc(c.urls[0]!.statusCodes)), '[{"from":200,"to":200},{"from":300,"to":302}]');
    // The template is where the check was written.
    assert.equal(c.src!['']!.line, 6);
  }
});

test('templates are shared; a real server\'s own checks replace the service\'s', () => {
  const m = load(`${NODES}checks:
  tcp: { type: TCP_CHECK, connect_timeout: 2 }
services:
  - vip: 10.0.0.100
    port: 80
    checks: [tcp]
    real_servers:
      - { address: 10.0.1.1 }
      - { address: 10.0.1.2, checks: [{ type: MISC_CHECK, misc_path: "/bin/check --port 80", misc_timeout: 2s }] }
      - { address: 10.0.1.3, checks: [] }
`).get('a')!;
  const [r1, r2, r3] = m.virtualServers[0]!.realServers;
  assert.deepEqual(r1!.checkers.map((c) => [c.type, c.connectTimeout]), [['TCP_CHECK', 2]]);
  const misc = r2!.checkers[0]!;
  assert.ok(misc.type === 'MISC_CHECK');
  assert.deepEqual(misc.script.argv, ['/bin/check', '--port', '80']);
  assert.equal(misc.timeout, 2);
  assert.deepEqual(r3!.checkers, []);
});

test('nodes: selects the nodes an item is on; node global merges over the top level', () => {
  const ms = load(`nodes:
  - { name: a, router_id: LB-A, global: { vrrp: { garp_master_delay: 1 } } }
  - { name: b, router_id: null }
global:
  notification_email: [ops@example.com]
  vrrp: { garp_master_delay: 10, version: 3 }
vrrp_scripts:
  - { name: chk, script: "/usr/bin/pgrep nginx", nodes: [b], weight: -20 }
vrrp:
  - { name: VI_1, interface: eth0, vrid: 1, track_scripts: [chk], nodes: [b] }
  - { name: VI_2, interface: eth0, vrid: 2 }
`);
  const a = ms.get('a')!;
  const b = ms.get('b')!;
  assert.equal(a.global.routerId, 'LB-A');
  assert.equal(b.global.routerId, undefined);
  assert.deepEqual([a.global.vrrp.garpMasterDelay, b.global.vrrp.garpMasterDelay], [1, 10]);
  assert.deepEqual(a.global.notificationEmail, ['ops@example.com']);
  assert.deepEqual([a.vrrpScripts.length, b.vrrpScripts.length], [0, 1]);
  assert.deepEqual(b.vrrpScripts[0]!.script.argv, ['/usr/bin/pgrep', 'nginx']);
  assert.deepEqual(a.vrrpInstances.map((v) => v.name), ['VI_2']);
  assert.deepEqual(b.vrrpInstances.map((v) => v.name), ['VI_1', 'VI_2']);
  // Instance defaults follow the node's global settings, as keepalived's do.
  assert.deepEqual([a.vrrpInstances[0]!.garpMasterDelay, b.vrrpInstances[1]!.garpMasterDelay], [1, 10]);
  assert.equal(a.vrrpInstances[0]!.version, 3);
});

test('VIPs in the one-line form and as objects', () => {
  const m = load(`nodes: [{ name: a }]
vrrp:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips:
      - 192.168.2.100/24 dev eth0 label eth0:vip
      - { address: "2001:db8::1", prefix: 64, no_dad: true }
      - 10.1.1.1 brd 10.1.1.255 scope link noprefixroute
`).get('a')!;
  const [v4, v6, v3] = stripSrc(m.vrrpInstances[0]!.vips);
  assert.deepEqual(v4, { address: '192.168.2.100', family: 4, prefix: 24, dev: 'eth0', label: 'eth0:vip' });
  assert.deepEqual(v6, { address: '2001:db8::1', family: 6, prefix: 64, noDad: true });
  assert.deepEqual(v3, { address: '10.1.1.1', family: 4, prefix: 32, broadcast: '10.1.1.255', scope: 'link', noPrefixRoute: true });
  assert.equal(m.vrrpInstances[0]!.family, 4);
});

test('a bad one-line VIP is reported at its position', () => {
  const r = loadClusterText('nodes: [{ name: a }]\nvrrp: [{ name: V, interface: e, vrid: 1, vips: ["10.0.0.1/24 dve eth0"] }]\n', 'c.yaml');
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]!.code, 'invalid-vip');
  assert.deepEqual([r.diagnostics[0]!.loc?.line, r.diagnostics[0]!.loc?.col], [2, 49]);
});
