// Cluster-wide consistency: every cross-node rule has a firing case and a near
// miss, built from small keepalived.conf files (one per node); the seed's four
// files and its cluster file find nothing; `haldir validate` fails on a
// cross-node error.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { loadConfig } from '../../src/config/load.js';
import { CLUSTER_RULES, checkCluster } from '../../src/model/consistency.js';
import { SEED } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'haldir-consistency-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Rs {
  addr: string;
  weight?: number;
  /** The checker block; default a TCP_CHECK. */
  check?: string;
}

interface Svc {
  vip?: string;
  port: number;
  algo?: string;
  kind?: string;
  persistence?: number;
  rs?: Rs[];
}

interface Inst {
  name?: string;
  vrid?: number;
  state?: 'MASTER' | 'BACKUP';
  priority?: number;
  advert?: number;
  version?: 2 | 3;
  /** auth_pass for PASS; null: no authentication block. */
  pass?: string | null;
  vips?: string[];
  interface?: string;
  unicastSrc?: string;
  peers?: string[];
  extra?: string;
}

interface Node {
  instances?: Inst[];
  services?: Svc[];
}

const ADDR = (n: number): string => `192.168.2.${10 + n}`;
const NODES = [1, 2, 3, 4].map(ADDR);
const TCP = 'TCP_CHECK { connect_timeout 2 retry 2 delay_before_retry 1 }';

function instText(n: number, i: Inst): string {
  const lines = [
    `vrrp_instance ${i.name ?? 'VI_1'} {`,
    `  state ${i.state ?? (n === 1 ? 'MASTER' : 'BACKUP')}`,
    `  interface ${i.interface ?? 'eth0'}`,
    `  virtual_router_id ${i.vrid ?? 51}`,
    `  priority ${i.priority ?? 101 - n}`,
    `  advert_int ${i.advert ?? 1}`,
  ];
  if (i.version !== undefined) lines.push(`  version ${i.version}`);
  const pass = i.pass === undefined ? (i.version === 3 ? null : 'secret') : i.pass;
  if (pass !== null) lines.push('  authentication {', '    auth_type PASS', `    auth_pass ${pass}`, '  }');
  if (i.unicastSrc) lines.push(`  unicast_src_ip ${i.unicastSrc}`);
  if (i.peers) lines.push('  unicast_peer {', ...i.peers.map((p) => `    ${p}`), '  }');
  if (i.extra) lines.push(`  ${i.extra}`);
  lines.push('  virtual_ipaddress {', ...(i.vips ?? ['192.168.2.100/24']).map((v) => `    ${v} dev eth0`), '  }', '}');
  return lines.join('\n');
}

function svcText(s: Svc): string {
  const lines = [`virtual_server ${s.vip ?? '192.168.2.100'} ${s.port} {`, '  delay_loop 3', `  lb_algo ${s.algo ?? 'rr'}`, `  lb_kind ${s.kind ?? 'DR'}`, '  protocol TCP'];
  if (s.persistence !== undefined) lines.push(`  persistence_timeout ${s.persistence}`);
  for (const r of s.rs ?? NODES.map((addr): Rs => ({ addr })))
    lines.push(`  real_server ${r.addr} ${s.port} {`, `    weight ${r.weight ?? 1}`, `    ${r.check ?? TCP}`, '  }');
  lines.push('}');
  return lines.join('\n');
}

function confText(n: number, node: Node): string {
  return [
    `global_defs {\n  router_id LB${n}\n}`,
    ...(node.instances ?? [{}]).map((i) => instText(n, i)),
    ...(node.services ?? [{ port: 80 }]).map(svcText),
  ].join('\n\n') + '\n';
}

let caseNo = 0;

/** Writes lb1.conf… for the nodes and loads them together. */
function load(nodes: Node[]): { files: string[]; diagnostics: Diagnostic[] } {
  const dir = join(tmp, `case${++caseNo}`);
  mkdirSync(dir);
  const files = nodes.map((node, k) => {
    const f = join(dir, `lb${k + 1}.conf`);
    writeFileSync(f, confText(k + 1, node));
    return f;
  });
  const cfg = loadConfig(files);
  assert.deepEqual(
    cfg.diagnostics.filter((d) => d.severity === 'error' && !d.code.startsWith('cluster-')).map(formatDiagnostic),
    [],
    'the test files themselves are valid',
  );
  return { files, diagnostics: cfg.diagnostics };
}

function found(code: string, nodes: Node[]): { files: string[]; ds: Diagnostic[] } {
  const r = load(nodes);
  return { files: r.files, ds: r.diagnostics.filter((d) => d.code === code) };
}

/** n default nodes, then `change` applied to node k (1-based). */
function cluster(n: number, changes: Record<number, Node> = {}): Node[] {
  return Array.from({ length: n }, (_, k) => changes[k + 1] ?? {});
}

function only(ds: Diagnostic[]): Diagnostic {
  assert.equal(ds.length, 1, ds.map(formatDiagnostic).join('\n'));
  return ds[0]!;
}

function severityOf(code: string): string {
  return CLUSTER_RULES.find((r) => r.code === code)!.severity;
}

interface Case {
  code: string;
  name: string;
  nodes: Node[];
  expect?(d: Diagnostic, files: string[]): void;
}

const FIRING: Case[] = [
  {
    code: 'cluster-auth-mismatch',
    name: 'PASS on lb1, no authentication on lb2',
    nodes: cluster(2, { 2: { instances: [{ pass: null }] } }),
    expect(d, files) {
      assert.match(d.message, /^LB1 and LB2 use different authentication for VRID 51 \(PASS vs none\): each drops the other's adverts .*both become MASTER/);
      assert.equal(d.loc?.file, files[0]);
      assert.ok(d.related?.some((r) => r.loc.file === files[1] && /LB2: authentication none/.test(r.message)));
    },
  },
  {
    code: 'cluster-auth-mismatch',
    name: 'PASS with passwords that differ in the first 8 characters, never printed',
    nodes: cluster(3, { 3: { instances: [{ pass: 'Xecret' }] } }),
    expect(d) {
      assert.match(d.message, /LB1, LB2 and LB3 use different authentication for VRID 51 \(LB1, LB2: PASS, password 1 of 2 vs LB3: PASS, password 2 of 2\)/);
      assert.doesNotMatch(formatDiagnostic(d), /secret|Xecret/);
    },
  },
  {
    code: 'cluster-version-mismatch',
    name: 'version 2 on lb1, version 3 on lb2',
    nodes: cluster(2, { 1: { instances: [{ pass: null }] }, 2: { instances: [{ version: 3 }] } }),
    expect(d) {
      assert.match(d.message, /LB1 and LB2 use different VRRP versions for VRID 51 \(LB1: v2 vs LB2: v3\): each drops the other's adverts/);
    },
  },
  {
    code: 'cluster-advert-int-mismatch',
    name: 'VRRPv2 advert_int 1 vs 2',
    nodes: cluster(2, { 2: { instances: [{ advert: 2 }] } }),
    expect(d, files) {
      assert.match(d.message, /different advert_int for VRID 51 \(LB1: 1 s vs LB2: 2 s\): a VRRPv2 router discards adverts/);
      assert.equal(d.loc?.file, files[0]);
      assert.equal(d.loc?.line, 10);
    },
  },
  {
    code: 'cluster-advert-int-differs',
    name: 'VRRPv3 advert_int 1 vs 0.5',
    nodes: cluster(2, { 1: { instances: [{ version: 3 }] }, 2: { instances: [{ version: 3, advert: 0.5 }] } }),
    expect(d) {
      assert.match(d.message, /\(LB1: 1 s vs LB2: 0.5 s\): backups compute Master_Down_Interval from their own advert_int .* v3 backups then adopt the master's/);
    },
  },
  {
    code: 'cluster-vips-differ',
    name: 'lb2 announces one more address',
    nodes: cluster(2, { 2: { instances: [{ vips: ['192.168.2.100/24', '192.168.2.101/24'] }] } }),
    expect(d) {
      assert.match(d.message, /a failover changes which addresses are served \(192\.168\.2\.101 only while LB2 is master\)/);
    },
  },
  {
    code: 'cluster-priority-tie',
    name: 'lb2 and lb3 both priority 99',
    nodes: cluster(3, { 3: { instances: [{ priority: 99 }] } }),
    expect(d, files) {
      assert.match(d.message, /^LB2 and LB3 have the same priority 99 for VRID 51: the tie is broken by the highest primary IP address \(RFC 5798 §6\.4\.3\)/);
      assert.equal(d.loc?.file, files[1]);
      assert.equal(d.related?.[0]?.loc.file, files[2]);
    },
  },
  {
    code: 'cluster-state-master-twice',
    name: 'lb1 and lb2 both state MASTER',
    nodes: cluster(2, { 2: { instances: [{ state: 'MASTER' }] } }),
    expect(d) {
      assert.match(d.message, /LB1 and LB2 are both configured state MASTER for VRID 51: state MASTER forces preemption on/);
    },
  },
  {
    code: 'cluster-owner-twice',
    name: 'lb1 and lb2 both priority 255',
    nodes: cluster(2, { 1: { instances: [{ priority: 255 }] }, 2: { instances: [{ priority: 255 }] } }),
    expect(d) {
      assert.match(d.message, /LB1 and LB2 both have priority 255 for VRID 51: each claims ownership/);
    },
  },
  {
    code: 'cluster-unicast-mixed',
    name: 'lb1 unicast, lb2 multicast',
    nodes: cluster(2, { 1: { instances: [{ unicastSrc: ADDR(1), peers: [ADDR(2)] }] } }),
    expect(d) {
      assert.match(d.message, /VRID 51 is unicast on LB1 but multicast on LB2: .*neither side hears the other/);
    },
  },
  {
    code: 'cluster-unicast-asymmetric',
    name: 'lb1 lists lb2, lb2 does not list lb1 (unicast_src_ip given)',
    nodes: [1, 2, 3].map((n) => ({
      instances: [{ unicastSrc: ADDR(n), peers: [1, 2, 3].filter((p) => p !== n && !(n === 2 && p === 1)).map(ADDR) }],
    })),
    expect(d, files) {
      assert.match(d.message, /^LB1 lists LB2 as a unicast peer, but LB2 does not list LB1 \(192\.168\.2\.11\) for VRID 51: LB2 sends its adverts only to the peers it lists, so LB1 never hears it → while LB2 is master, LB1 also becomes MASTER/);
      assert.equal(d.loc?.file, files[1], 'points at the incomplete list');
      assert.match(d.hint!, /unicast_peer 192\.168\.2\.11/);
    },
  },
  {
    code: 'cluster-unicast-asymmetric',
    name: 'the same without unicast_src_ip: addresses inferred from the peer lists',
    nodes: [1, 2, 3].map((n) => ({ instances: [{ peers: [1, 2, 3].filter((p) => p !== n && !(n === 2 && p === 1)).map(ADDR) }] })),
    expect(d) {
      assert.match(d.message, /LB2 does not list LB1 \(192\.168\.2\.11\)/);
    },
  },
  {
    code: 'cluster-vrid-missing',
    name: 'VRID 52 on lb1 only',
    nodes: cluster(2, { 1: { instances: [{}, { name: 'VI_2', vrid: 52, vips: ['192.168.2.200/24'] }] } }),
    expect(d) {
      assert.match(d.message, /VRID 52 \(192\.168\.2\.200\) is configured on LB1 but not on LB2: nobody takes over 192\.168\.2\.200 when LB1 fails/);
    },
  },
  {
    code: 'cluster-service-missing',
    name: 'lb2 does not serve port 8443',
    nodes: cluster(3, { 1: { services: [{ port: 80 }, { port: 8443 }] }, 3: { services: [{ port: 80 }, { port: 8443 }] } }),
    expect(d, files) {
      assert.match(d.message, /^after a failover to LB2, 192\.168\.2\.100:8443\/TCP is not served: LB1 and LB3 define it, LB2 does not/);
      assert.equal(d.loc?.file, files[0]);
      assert.ok(d.related?.some((r) => r.loc.file === files[1] && /LB2: takes over 192\.168\.2\.100/.test(r.message)));
    },
  },
  {
    code: 'cluster-service-mismatch',
    name: 'lb2 schedules with wlc',
    nodes: cluster(2, { 2: { services: [{ port: 80, algo: 'wlc' }] } }),
    expect(d) {
      assert.match(d.message, /192\.168\.2\.100:80\/TCP: the scheduler differs between directors \(LB1: rr vs LB2: wlc\): a failover changes which servers get traffic/);
    },
  },
  {
    code: 'cluster-service-mismatch',
    name: 'lb2 has 192.168.2.15 instead of 192.168.2.14',
    nodes: cluster(2, { 2: { services: [{ port: 80, rs: [1, 2, 3, 5].map((n) => ({ addr: ADDR(n) })) }] } }),
    expect(d) {
      assert.match(d.message, /the real servers differ between directors \(LB1 lacks 192\.168\.2\.15:80; LB2 lacks 192\.168\.2\.14:80\): a failover changes which servers get traffic/);
    },
  },
  {
    code: 'cluster-service-mismatch',
    name: 'lb2 weighs 192.168.2.11 3',
    nodes: cluster(2, { 2: { services: [{ port: 80, rs: NODES.map((addr) => ({ addr, weight: addr === ADDR(1) ? 3 : 1 })) }] } }),
    expect(d) {
      assert.match(d.message, /real-server weights differ between directors \(192\.168\.2\.11:80 LB1: 1 vs LB2: 3\)/);
    },
  },
  {
    code: 'cluster-check-mismatch',
    name: 'lb2 checks 192.168.2.12 with another connect_timeout',
    nodes: cluster(2, {
      2: { services: [{ port: 80, rs: NODES.map((addr) => ({ addr, ...(addr === ADDR(2) ? { check: 'TCP_CHECK { connect_timeout 1 retry 2 delay_before_retry 1 }' } : {}) })) }] },
    }),
    expect(d) {
      assert.match(d.message, /the health checks of 192\.168\.2\.12:80 \(TCP_CHECK connect_timeout differs: LB1 vs LB2\) differ between directors: a server can be up for one director and down for another/);
    },
  },
  {
    code: 'cluster-own-address-missing',
    name: 'lb3 leaves out its own 192.168.2.13 (inferred)',
    nodes: cluster(4, { 3: { services: [{ port: 80, rs: [1, 2, 4].map((n) => ({ addr: ADDR(n) })) }] } }),
    expect(d, files) {
      assert.match(d.message, /^LB3 lists 192\.168\.2\.11, 192\.168\.2\.12, 192\.168\.2\.14 in 192\.168\.2\.100:80\/TCP but not its own 192\.168\.2\.13 \(inferred\), which LB1, LB2 and LB4 list: while LB3 is master, 192\.168\.2\.13 gets no traffic/);
      assert.equal(d.loc?.file, files[2]);
      assert.match(d.hint!, /the only one the others list/);
    },
  },
  {
    code: 'cluster-own-address-missing',
    name: 'lb2 leaves out its unicast_src_ip, while another address is missing too',
    nodes: [1, 2].map((n) => ({
      instances: [{ unicastSrc: ADDR(n), peers: [ADDR(3 - n)] }],
      services: [{ port: 80, rs: (n === 2 ? [1, 3] : [1, 2, 3, 4]).map((k) => ({ addr: ADDR(k) })) }],
    })),
    expect(d) {
      assert.match(d.message, /LB2 lists 192\.168\.2\.11, 192\.168\.2\.13 in .* but not its own 192\.168\.2\.12/);
      assert.match(d.hint!, /unicast_src_ip/);
    },
  },
];

const NEAR_MISS: Case[] = [
  {
    code: 'cluster-auth-mismatch',
    name: 'passwords that differ after the 8th character (the wire carries 8)',
    nodes: cluster(2, { 1: { instances: [{ pass: 'supersecret' }] }, 2: { instances: [{ pass: 'supersecXYZ' }] } }),
  },
  {
    code: 'cluster-auth-mismatch',
    name: 'VRRPv3 on both nodes, authentication on one (v3 sends none)',
    nodes: cluster(2, { 1: { instances: [{ version: 3, pass: 'secret' }] }, 2: { instances: [{ version: 3 }] } }),
  },
  {
    code: 'cluster-version-mismatch',
    name: 'version 2 written on lb1, the default on lb2',
    nodes: cluster(2, { 1: { instances: [{ version: 2 }] } }),
  },
  {
    code: 'cluster-advert-int-mismatch',
    name: 'VRRPv2 advert_int 1 vs 1.2 (both send 1 s)',
    nodes: cluster(2, { 2: { instances: [{ advert: 1.2 }] } }),
  },
  {
    code: 'cluster-advert-int-differs',
    name: 'VRRPv3 advert_int 0.5 on both',
    nodes: cluster(2, { 1: { instances: [{ version: 3, advert: 0.5 }] }, 2: { instances: [{ version: 3, advert: 0.5 }] } }),
  },
  {
    code: 'cluster-vips-differ',
    name: 'the same addresses in another order',
    nodes: cluster(2, {
      1: { instances: [{ vips: ['192.168.2.100/24', '192.168.2.101/24'] }] },
      2: { instances: [{ vips: ['192.168.2.101/24', '192.168.2.100/24'] }] },
    }),
  },
  {
    code: 'cluster-priority-tie',
    name: 'the same priorities, but on different VRIDs (active/active)',
    nodes: [1, 2].map((n) => ({
      instances: [
        { priority: n === 1 ? 100 : 99 },
        { name: 'VI_2', vrid: 52, priority: n === 1 ? 99 : 100, state: n === 2 ? 'MASTER' : 'BACKUP', vips: ['192.168.2.200/24'] },
      ],
    })),
  },
  {
    code: 'cluster-state-master-twice',
    name: 'each node MASTER of its own VRID',
    nodes: [1, 2].map((n) => ({
      instances: [
        { state: n === 1 ? 'MASTER' : 'BACKUP' },
        { name: 'VI_2', vrid: 52, priority: n === 1 ? 99 : 100, state: n === 2 ? 'MASTER' : 'BACKUP', vips: ['192.168.2.200/24'] },
      ],
    })),
  },
  {
    code: 'cluster-owner-twice',
    name: 'one owner (255), one backup; no priority tie either',
    nodes: cluster(2, { 1: { instances: [{ priority: 255 }] } }),
  },
  {
    code: 'cluster-unicast-mixed',
    name: 'unicast on both nodes',
    nodes: [1, 2].map((n) => ({ instances: [{ unicastSrc: ADDR(n), peers: [ADDR(3 - n)] }] })),
  },
  {
    code: 'cluster-unicast-asymmetric',
    name: 'two unicast pairs reusing VRID 51 are two virtual routers',
    nodes: [1, 2, 3, 4].map((n) => {
      const peer = n % 2 === 1 ? n + 1 : n - 1;
      return {
        instances: [{ unicastSrc: ADDR(n), peers: [ADDR(peer)], priority: n % 2 === 1 ? 100 : 99, state: n % 2 === 1 ? 'MASTER' : 'BACKUP', vips: [n <= 2 ? '192.168.2.100/24' : '192.168.2.200/24'] }],
        services: [{ vip: n <= 2 ? '192.168.2.100' : '192.168.2.200', port: 80 }],
      } satisfies Node;
    }),
  },
  {
    code: 'cluster-vrid-missing',
    name: 'VRID 52 on both, under other names and interfaces',
    nodes: [1, 2].map((n) => ({ instances: [{}, { name: n === 1 ? 'VI_2' : 'OTHER', interface: n === 1 ? 'eth1' : 'bond0', vrid: 52, vips: ['192.168.2.200/24'] }] })),
  },
  {
    code: 'cluster-service-missing',
    name: 'a service on an address lb2 never takes over',
    nodes: cluster(2, {
      1: { instances: [{}, { name: 'VI_2', vrid: 52, vips: ['192.168.2.200/24'] }], services: [{ port: 80 }, { vip: '192.168.2.200', port: 80 }] },
    }),
  },
  {
    code: 'cluster-service-mismatch',
    name: 'the same real servers in another order',
    nodes: cluster(2, { 2: { services: [{ port: 80, rs: [...NODES].reverse().map((addr) => ({ addr })) }] } }),
  },
  {
    code: 'cluster-check-mismatch',
    name: 'the same checker with its keywords in another order',
    nodes: cluster(2, {
      2: { services: [{ port: 80, rs: NODES.map((addr) => ({ addr, check: 'TCP_CHECK { delay_before_retry 1 retry 2 connect_timeout 2 }' })) }] },
    }),
  },
  {
    code: 'cluster-own-address-missing',
    name: 'lb3 leaves out two addresses: which one is its own is unknown',
    nodes: cluster(4, { 3: { services: [{ port: 80, rs: [1, 2].map((n) => ({ addr: ADDR(n) })) }] } }),
  },
];

describe('checkCluster', () => {
  describe('reports', () => {
    for (const c of FIRING)
      it(`${c.code}: ${c.name}`, () => {
        const { files, ds } = found(c.code, c.nodes);
        const d = only(ds);
        assert.equal(d.severity, severityOf(c.code));
        assert.ok(d.loc && files.includes(d.loc.file), `${c.code} names a file`);
        assert.ok(d.block, `${c.code} names a block`);
        assert.ok(d.hint, `${c.code} says how to fix it`);
        assert.ok(d.related && d.related.length > 0, `${c.code} names the other nodes' places`);
        c.expect?.(d, files);
      });
  });

  describe('does not report', () => {
    for (const c of NEAR_MISS)
      it(`${c.code}: ${c.name}`, () => {
        assert.deepEqual(found(c.code, c.nodes).ds.map(formatDiagnostic), []);
      });
  });

  it('has a firing case and a near miss for every rule, each code once', () => {
    assert.equal(new Set(CLUSTER_RULES.map((r) => r.code)).size, CLUSTER_RULES.length);
    for (const r of CLUSTER_RULES) {
      assert.ok(r.describe.length > 0);
      assert.ok(FIRING.some((c) => c.code === r.code), `no firing case for ${r.code}`);
      assert.ok(NEAR_MISS.some((c) => c.code === r.code), `no near miss for ${r.code}`);
    }
  });

  it('real-server differences: lacking and extra servers and weights, one finding each', () => {
    const rs = [{ addr: ADDR(1), weight: 3 }, { addr: ADDR(2) }, { addr: ADDR(3) }, { addr: ADDR(5) }];
    const ds = found('cluster-service-mismatch', cluster(2, { 2: { services: [{ port: 80, rs }] } })).ds;
    assert.equal(ds.length, 2, ds.map(formatDiagnostic).join('\n'));
    assert.match(ds[0]!.message, /the real servers differ between directors \(LB1 lacks 192\.168\.2\.15:80; LB2 lacks 192\.168\.2\.14:80\)/);
    assert.match(ds[1]!.message, /real-server weights differ between directors \(192\.168\.2\.11:80 LB1: 1 vs LB2: 3\)/);
  });

  it('a director leaving out its own address is not reported again as a real-server difference', () => {
    const ds = load(cluster(4, { 3: { services: [{ port: 80, rs: [1, 2, 4].map((n) => ({ addr: ADDR(n) })) }] } })).diagnostics;
    assert.deepEqual(ds.filter((d) => d.code === 'cluster-service-mismatch'), []);
  });

  it('one finding per difference, not per pair of nodes', () => {
    const ds = found('cluster-auth-mismatch', cluster(4, { 4: { instances: [{ pass: null }] } })).ds;
    assert.match(only(ds).message, /LB1, LB2, LB3 and LB4 use different authentication for VRID 51 \(LB1, LB2, LB3: PASS vs LB4: none\)/);
  });

  it('with --node, only the findings that involve that node', () => {
    const { files } = load(cluster(3, { 3: { instances: [{ priority: 99 }] } }));
    const codes = (node: string) => loadConfig(files, { node }).diagnostics.filter((d) => d.code === 'cluster-priority-tie');
    assert.equal(codes('lb3').length, 1);
    assert.equal(codes('LB1').length, 0);
  });

  it('nothing to compare for a single node', () => {
    const cfg = loadConfig([`${SEED}lb1.conf`]);
    assert.deepEqual(checkCluster([...cfg.models.values()]), []);
  });
});

describe('the seed cluster', () => {
  it('lb1–lb4.conf: no cross-node finding', () => {
    const cfg = loadConfig(['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${SEED}${n}.conf`));
    assert.deepEqual(cfg.nodes, ['LB1', 'LB2', 'LB3', 'LB4']);
    assert.deepEqual(cfg.diagnostics.filter((d) => d.code.startsWith('cluster-')).map(formatDiagnostic), []);
    assert.deepEqual(checkCluster(cfg.nodes.map((n) => cfg.models.get(n)!)), []);
  });

  it('haldir.yaml: no cross-node finding', () => {
    const cfg = loadConfig([`${SEED}haldir.yaml`]);
    assert.equal(cfg.nodes.length, 4);
    assert.deepEqual(checkCluster(cfg.nodes.map((n) => cfg.models.get(n)!)).map(formatDiagnostic), []);
  });
});

describe('haldir validate across nodes', () => {
  async function run(...argv: string[]) {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
    return { code, out, err };
  }

  it('exits 1 on a cross-node error and names both files', async () => {
    const { files } = load(cluster(2, { 2: { instances: [{ pass: null }] } }));
    const r = await run('validate', ...files);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /INVALID keepalived configuration \(LB1, LB2\): 1 error/);
    assert.match(r.err, new RegExp(`${files[0]}:\\d+:\\d+: error: LB1 and LB2 use different authentication for VRID 51 \\(PASS vs none\\)`));
    assert.match(r.err, new RegExp(`${files[1]}:\\d+:\\d+: note: LB2: authentication none here`));
  });

  it('exits 0 on the seed files', async () => {
    const r = await run('validate', ...['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${SEED}${n}.conf`));
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /\[cluster-/);
  });
});
