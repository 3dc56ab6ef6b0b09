// `haldir doctor` on deliberately broken directors and real servers in network
// namespaces: each setup is broken one way, doctor must name that problem (code,
// severity, evidence, fix) — and, where the fix is cheap, stop naming it once
// the fix is applied. VRRP: two doctors prove multicast both ways with their
// probes, a firewall dropping VRRP on one side is caught, and a real keepalived
// on the same wire shows up as a foreign VRID and as a VRID conflict.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canBuildLabs, Lab, nsExec } from '../../src/lab/netns.js';
import type { Finding } from '../../src/host/doctor.js';

const lab = canBuildLabs();
const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;
const skip = !lab.ok ? lab.why : undefined;
const BIN = new URL('../../../bin/haldir.js', import.meta.url).pathname;
const IP = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/ip';
const VIP = '10.99.0.100';

interface Report {
  code: number;
  ok: boolean;
  findings: Finding[];
  interfaces: { name: string; values: Record<string, { all?: number; own?: number; effective?: number }> }[];
  lag: { p50: number; p99: number; max: number; windowMs: number };
  vrrp: { iface: string; probesSent: number }[];
  raw: string;
}

function parse(code: number | null, out: string, err: string): Report {
  let j: Omit<Report, 'code' | 'raw'>;
  try {
    j = JSON.parse(out) as Omit<Report, 'code' | 'raw'>;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${code}): ${out}\n${err}`);
  }
  return { ...j, code: code ?? -1, raw: out + err };
}

function doctor(ns: string, args: string[], env?: NodeJS.ProcessEnv): Report {
  const r = spawnSync(IP, ['netns', 'exec', ns, process.execPath, BIN, 'doctor', '--json', ...args], { encoding: 'utf8', ...(env ? { env } : {}) });
  return parse(r.status, r.stdout, r.stderr);
}

/** Two doctors at once (VRRP probes need a live peer). */
function doctorAsync(ns: string, args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    const p = spawn(IP, ['netns', 'exec', ns, process.execPath, BIN, 'doctor', '--json', ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b));
    p.stderr.on('data', (b: Buffer) => (err += b));
    p.on('error', reject);
    p.on('exit', (c) => {
      try {
        resolve(parse(c, out, err));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

const codes = (r: Report): string[] => r.findings.map((f) => f.code);
function finding(r: Report, code: string): Finding {
  const f = r.findings.find((x) => x.code === code);
  assert.ok(f, `expected finding ${code}; got: ${codes(r).join(', ')}\n${r.raw}`);
  return f;
}
const absent = (r: Report, code: string): void => assert.ok(!codes(r).includes(code), `unexpected ${code}: ${JSON.stringify(r.findings.find((f) => f.code === code))}`);

function conf(routerId: string, priority: number, kind: 'DR' | 'NAT' | 'TUN', extraVips: string[] = []): string {
  return [
    `global_defs {`,
    `  router_id ${routerId}`,
    `}`,
    `vrrp_instance VI_1 {`,
    `  state BACKUP`,
    `  interface eth0`,
    `  virtual_router_id 51`,
    `  priority ${priority}`,
    `  advert_int 1`,
    `  virtual_ipaddress {`,
    `    ${VIP}/24 dev eth0`,
    ...extraVips.map((v) => `    ${v} dev eth0`),
    `  }`,
    `}`,
    `virtual_server ${VIP} 80 {`,
    `  lb_algo rr`,
    `  lb_kind ${kind}`,
    `  protocol TCP`,
    `  real_server 10.99.0.21 80 {`,
    `    TCP_CHECK {`,
    `      connect_timeout 1`,
    `    }`,
    `  }`,
    `  real_server 10.99.0.22 80 {`,
    `    TCP_CHECK {`,
    `      connect_timeout 1`,
    `    }`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

describe('haldir doctor on broken setups (network namespaces)', { skip }, () => {
  let L: Lab;
  let dir: string;
  const files: Record<string, string> = {};
  const procs: ChildProcess[] = [];
  const ns = (h: string): string => L.host(h).ns;
  const sh = (h: string, cmd: string, ...args: string[]): string => nsExec(ns(h), cmd, args);
  const sysctl = (h: string, ...kv: string[]): void => void sh(h, 'sysctl', '-q', '-w', ...kv);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'haldir-doctor-'));
    L = new Lab();
    L.addHost('nb', { ip: '10.99.0.10/24' });
    L.addHost('lb1', { ip: '10.99.0.11/24' });
    L.addHost('lb2', { ip: '10.99.0.12/24' });
    L.addHost('rs1', { ip: '10.99.0.21/24' });
    L.addHost('rs2', { ip: '10.99.0.22/24' });
    L.addHost('fr', { ip: '10.99.0.50/24' });
    const w = (name: string, text: string) => {
      files[name] = join(dir, name);
      writeFileSync(files[name]!, text);
    };
    w('lb1.conf', conf('LB1', 100, 'DR'));
    w('lb2.conf', conf('LB2', 99, 'DR'));
    w('nat.conf', conf('LB1', 100, 'NAT', ['10.99.0.254/24']));
    w('tun.conf', conf('LB1', 100, 'TUN'));
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await L?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Puts rs1 back to a plain host. */
  const resetRs1 = (): void => {
    for (const dev of ['lo', 'eth0']) spawnSync(IP, ['-n', ns('rs1'), 'addr', 'del', `${VIP}/32`, 'dev', dev]);
    spawnSync(IP, ['-n', ns('rs1'), 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    for (const k of ['all', 'default', 'eth0', 'lo']) sysctl('rs1', `net.ipv4.conf.${k}.arp_ignore=0`, `net.ipv4.conf.${k}.arp_announce=0`);
  };

  it('1. VIP on eth0 of a DR real server: arp-flux (error, exit 1), and the neighbour really gets its ARP answer', () => {
    sh('rs1', 'ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0');
    sysctl('rs1', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2');
    assert.equal(spawnSync(IP, ['netns', 'exec', ns('nb'), 'arping', '-c', '1', '-w', '2', '-I', 'eth0', VIP]).status, 0, 'rs1 answers ARP for the VIP on its eth0');
    const r = doctor(ns('rs1'), ['--vip', VIP]);
    assert.equal(r.code, 1);
    const f = finding(r, 'arp-flux');
    assert.equal(f.severity, 'error');
    assert.ok(f.evidence.includes(`${VIP}/24 dev eth0`), f.evidence.join(' | '));
    assert.deepEqual(f.fix, [`ip address del ${VIP}/24 dev eth0`, `haldir realserver setup --vip ${VIP} --mode dr`]);
    finding(r, 'rs-vip-missing');
    resetRs1();
  });

  it('2. VIP on lo without ARP sysctls: arp-ignore and arp-announce with the effective values; all=1 over eth0=0 is fine; default alone is not', () => {
    sh('rs1', 'ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
    let r = doctor(ns('rs1'), ['--vip', VIP]);
    absent(r, 'rs-vip-missing');
    absent(r, 'arp-flux');
    const ig = finding(r, 'arp-ignore');
    assert.equal(ig.severity, 'error');
    assert.match(ig.evidence[0]!, /eth0 .*arp_ignore: all=0 eth0=0 → effective 0/);
    assert.deepEqual(ig.fix, ['sysctl -w net.ipv4.conf.eth0.arp_ignore=1']);
    assert.deepEqual(finding(r, 'arp-announce').fix, ['sysctl -w net.ipv4.conf.eth0.arp_announce=2']);

    // The kernel uses max(all, eth0): all=1 with eth0 still 0 is effective 1.
    sysctl('rs1', 'net.ipv4.conf.all.arp_ignore=1');
    r = doctor(ns('rs1'), ['--vip', VIP]);
    absent(r, 'arp-ignore');
    finding(r, 'arp-announce');
    const eth0 = r.interfaces.find((i) => i.name === 'eth0')!;
    assert.deepEqual(eth0.values.arp_ignore, { all: 1, own: 0, effective: 1 });

    // default=1 changes nothing for an existing interface.
    sysctl('rs1', 'net.ipv4.conf.all.arp_ignore=0', 'net.ipv4.conf.default.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2');
    r = doctor(ns('rs1'), ['--vip', VIP]);
    absent(r, 'arp-announce');
    assert.match(finding(r, 'arp-ignore').evidence[0]!, /default=1 only applies to interfaces created after it was set/);

    // arp_ignore 8 on eth0 would also silence the host's own address.
    sysctl('rs1', 'net.ipv4.conf.eth0.arp_ignore=8');
    r = doctor(ns('rs1'), ['--vip', VIP]);
    assert.match(finding(r, 'arp-ignore').title, /not even for its own address \(SSH to it breaks\)/);

    // Fixed: no ARP finding, exit 0.
    sysctl('rs1', 'net.ipv4.conf.eth0.arp_ignore=1');
    r = doctor(ns('rs1'), ['--vip', VIP]);
    assert.equal(r.code, 0, r.raw);
    absent(r, 'arp-ignore');
    resetRs1();
  });

  it('3. Docker-like host with global ARP sysctls: shared-host-global-arp with the targeted fix; after the fix, shared-host (info)', () => {
    sh('rs2', 'ip', 'link', 'add', 'docker0', 'type', 'bridge');
    sh('rs2', 'ip', 'addr', 'add', '172.17.0.1/16', 'dev', 'docker0');
    sh('rs2', 'ip', 'link', 'add', 'vethfeed1', 'type', 'veth', 'peer', 'name', 'vethfeed2');
    sh('rs2', 'ip', 'link', 'set', 'vethfeed1', 'master', 'docker0', 'up');
    sh('rs2', 'ip', 'link', 'set', 'docker0', 'up');
    sh('rs2', 'ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
    sysctl('rs2', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2');
    let r = doctor(ns('rs2'), ['--vip', VIP]);
    const f = finding(r, 'shared-host-global-arp');
    assert.equal(f.severity, 'warning');
    assert.equal(r.code, 0, 'warnings alone exit 0');
    assert.ok(f.evidence.some((e) => /docker0 \(bridge: Docker's, 1 port\)/.test(e)), f.evidence.join(' | '));
    assert.deepEqual(f.fix!.slice(0, 2), [
      'sysctl -w net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2',
      'sysctl -w net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0',
    ]);
    for (const cmd of f.fix!.slice(0, 2)) sh('rs2', ...(cmd.split(' ') as [string, ...string[]]));
    r = doctor(ns('rs2'), ['--vip', VIP]);
    absent(r, 'shared-host-global-arp');
    absent(r, 'arp-ignore');
    assert.equal(finding(r, 'shared-host').severity, 'info');
  });

  it('4. NAT director with ip_forward=0 (and one-armed: send_redirects on)', () => {
    sysctl('lb1', 'net.ipv4.ip_forward=0');
    let r = doctor(ns('lb1'), [files['nat.conf']!, '--listen', '1']);
    assert.equal(r.code, 1);
    const f = finding(r, 'ip-forward');
    assert.equal(f.severity, 'error');
    assert.deepEqual(f.evidence[0], 'net.ipv4.ip_forward = 0');
    assert.equal(f.fix![0], 'sysctl -w net.ipv4.ip_forward=1');
    assert.deepEqual(finding(r, 'send-redirects').fix, ['sysctl -w net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0']);
    sysctl('lb1', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0');
    r = doctor(ns('lb1'), [files['nat.conf']!, '--listen', '1']);
    absent(r, 'ip-forward');
    absent(r, 'send-redirects');
    sysctl('lb1', 'net.ipv4.ip_forward=0', 'net.ipv4.conf.all.send_redirects=1', 'net.ipv4.conf.eth0.send_redirects=1');
  });

  it("5. NAT real server whose default gateway is not the director", () => {
    sh('rs1', 'ip', 'route', 'add', 'default', 'via', '10.99.0.1');
    let r = doctor(ns('rs1'), [files['nat.conf']!, '--role', 'realserver']);
    const f = finding(r, 'nat-gateway');
    assert.equal(f.severity, 'error');
    assert.ok(f.evidence.includes('default via 10.99.0.1 dev eth0'), f.evidence.join(' | '));
    assert.deepEqual(f.fix, ['ip route replace default via 10.99.0.254']);
    sh('rs1', 'ip', 'route', 'replace', 'default', 'via', '10.99.0.254');
    r = doctor(ns('rs1'), [files['nat.conf']!, '--role', 'realserver']);
    absent(r, 'nat-gateway');
    sh('rs1', 'ip', 'route', 'del', 'default');
    r = doctor(ns('rs1'), ['--mode', 'nat', '--director', '10.99.0.254']);
    assert.match(finding(r, 'nat-gateway').evidence[0]!, /no default route/);
  });

  it('6. TUN: a real server without ipip/tunl0, and a director whose path MTU cannot carry IPIP', () => {
    let r = doctor(ns('rs1'), ['--vip', VIP, '--mode', 'tun']);
    if (!r.interfaces.some((i) => i.name === 'tunl0')) {
      const f = finding(r, 'tun-no-ipip');
      assert.equal(f.severity, 'error');
      assert.deepEqual(f.fix!.slice(0, 2), ['modprobe ipip', 'ip link set dev tunl0 up']);
    }
    r = doctor(ns('lb1'), [files['tun.conf']!, '--listen', '1']);
    const m = finding(r, 'tun-mtu');
    assert.equal(m.severity, 'warning');
    assert.match(m.title, /eth0 \(MTU 1500\) carries IPIP .* becomes 1520 bytes/);
    sh('lb1', 'ip', 'link', 'set', 'eth0', 'mtu', '1520');
    r = doctor(ns('lb1'), [files['tun.conf']!, '--listen', '1']);
    absent(r, 'tun-mtu');
    sh('lb1', 'ip', 'link', 'set', 'eth0', 'mtu', '1500');
  });

  it('7. conntrack table smaller than the expected connections (warning only: exit 0)', () => {
    let r = doctor(ns('nb'), ['--expect-connections', '100000000']);
    const f = finding(r, 'conntrack-small');
    assert.equal(f.severity, 'warning');
    assert.equal(r.code, 0);
    assert.match(f.evidence[0]!, /^net\.netfilter\.nf_conntrack_max = \d+$/);
    assert.equal(f.fix![0], 'sysctl -w net.netfilter.nf_conntrack_max=134217728');
    r = doctor(ns('nb'), ['--expect-connections', '1000']);
    absent(r, 'conntrack-small');
  });

  it('8. nftables missing on a director', () => {
    const r = doctor(ns('lb1'), [files['lb1.conf']!, files['lb2.conf']!, '--node', 'LB1', '--listen', '1'], { ...process.env, PATH: '/nonexistent' });
    const f = finding(r, 'nftables-missing');
    assert.equal(f.severity, 'error');
    assert.match(f.evidence[0]!, /nft: not found in PATH \(\/nonexistent\)/);
    assert.deepEqual(f.fix, ['apt-get install nftables']);
    absent(doctor(ns('lb1'), [files['lb1.conf']!, files['lb2.conf']!, '--node', 'LB1', '--listen', '1']), 'nftables-missing');
  });

  it('9. check targets: a real server that refuses connections is named, the listening one is reachable', async () => {
    const srv = L.spawn('rs1', process.execPath, ['-e', "require('net').createServer(c=>c.end()).listen(80,'10.99.0.21',()=>console.log('up'))"]);
    procs.push(srv);
    await new Promise<void>((res) => srv.stdout!.on('data', () => res()));
    const r = doctor(ns('lb1'), [files['lb1.conf']!, files['lb2.conf']!, '--node', 'LB1', '--listen', '1']);
    assert.equal(r.code, 1);
    const f = finding(r, 'target-unreachable');
    assert.match(f.title, /real server 10\.99\.0\.22:80 of TCP 10\.99\.0\.100:80 does not accept TCP connections: connection refused/);
    assert.equal(r.findings.filter((x) => x.code === 'target-unreachable').length, 1);
    assert.match(finding(r, 'targets-reachable').evidence[0]!, /^10\.99\.0\.21:80 in [\d.]+ ms$/);
    await L.stop(srv);
  });

  it('10. VRRP: two doctors prove multicast both ways; a backup hears no master; VRRP dropped on one side is one-way', async () => {
    const args = (n: string) => [files['lb1.conf']!, files['lb2.conf']!, '--node', n, '--listen', '4'];
    let [a, b] = await Promise.all([doctorAsync(ns('lb1'), args('LB1')), doctorAsync(ns('lb2'), args('LB2'))]);
    assert.match(finding(a, 'vrrp-multicast-ok').title, /both ways on eth0 with 10\.99\.0\.12/);
    assert.match(finding(b, 'vrrp-multicast-ok').title, /both ways on eth0 with 10\.99\.0\.11/);
    assert.ok(a.vrrp[0]!.probesSent >= 3, `probes sent: ${a.vrrp[0]!.probesSent}`);
    // Nobody runs VRRP: neither backup hears a master for VRID 51.
    assert.equal(finding(a, 'vrrp-no-master').severity, 'error');

    nsExec(ns('lb2'), 'nft', ['-f', '-'], 'table inet dropvrrp {\n chain in {\n  type filter hook input priority 0; policy accept;\n  ip protocol vrrp drop\n }\n}\n');
    [a, b] = await Promise.all([doctorAsync(ns('lb1'), args('LB1')), doctorAsync(ns('lb2'), args('LB2'))]);
    const one = finding(a, 'vrrp-multicast-one-way');
    assert.equal(one.severity, 'warning');
    assert.match(one.title, /10\.99\.0\.12's VRRP probes reach this node on eth0, but none of them shows ours arriving there/);
    absent(b, 'vrrp-multicast-ok');
    absent(a, 'vrrp-multicast-ok');
    nsExec(ns('lb2'), 'nft', ['delete', 'table', 'inet', 'dropvrrp']);
  });

  it('11. a real keepalived on the wire: foreign VRID 77 (warning) and our VRID 51 with other addresses (conflict, error)', { skip: !hasKeepalived && 'keepalived is not installed' }, async () => {
    const kconf = join(dir, 'foreign.conf');
    const inst = (name: string, vrid: number, vip: string) =>
      `vrrp_instance ${name} {\n  state MASTER\n  interface eth0\n  virtual_router_id ${vrid}\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    ${vip}/24 dev eth0\n  }\n}\n`;
    writeFileSync(kconf, `global_defs {\n  router_id FOREIGN\n}\n${inst('VI_X', 77, '10.99.0.177')}${inst('VI_C', 51, '10.99.0.200')}`);
    const k = L.spawn('fr', 'keepalived', ['--vrrp', '-n', '-l', '-D', '-f', kconf, '-p', join(dir, 'k.pid'), '-r', join(dir, 'k.vrrp.pid')]);
    procs.push(k);
    // keepalived starts as backup and becomes master after 3 × advert_int + skew.
    const t0 = Date.now();
    while (!(sh('fr', 'ip', '-o', 'addr').includes('10.99.0.177') && sh('fr', 'ip', '-o', 'addr').includes('10.99.0.200'))) {
      assert.ok(Date.now() - t0 < 15000, 'keepalived did not become master');
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = doctor(ns('lb1'), [files['lb1.conf']!, files['lb2.conf']!, '--node', 'LB1', '--listen', '3']);
    const fv = finding(r, 'vrrp-foreign-vrid');
    assert.equal(fv.severity, 'warning');
    assert.match(fv.title, /foreign VRID 77 on eth0 from 10\.99\.0\.50/);
    assert.match(fv.evidence[0]!, /advert\(s\) from 10\.99\.0\.50: VRRPv2 priority 150, addresses 10\.99\.0\.177/);
    const c = finding(r, 'vrrp-vrid-conflict');
    assert.equal(c.severity, 'error');
    assert.match(c.title, /VRID 51 on eth0 is also used by 10\.99\.0\.50, advertising 10\.99\.0\.200 instead of 10\.99\.0\.100/);
    absent(r, 'vrrp-master-heard');
    await L.stop(k);
  });

  it('12. timer lateness is measured over the window and reported with its numbers', () => {
    const r = doctor(ns('nb'), []);
    assert.ok(r.lag.windowMs >= 1000, `window ${r.lag.windowMs}`);
    assert.ok(r.lag.max >= r.lag.p99 && r.lag.p99 >= r.lag.p50 && r.lag.p50 >= 0);
    const f = r.findings.find((x) => x.code === 'timer-lateness' || x.code === 'timer-lateness-ok');
    assert.ok(f, codes(r).join(', '));
    assert.match(f.evidence[0]!, /^over [\d.]+ s: p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms late$/);
  });

  it('usage: --node without a file, a bad number, text output', () => {
    const u = spawnSync(IP, ['netns', 'exec', ns('nb'), process.execPath, BIN, 'doctor', '--node', 'LB1'], { encoding: 'utf8' });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /--node needs a configuration file/);
    const b = spawnSync(IP, ['netns', 'exec', ns('nb'), process.execPath, BIN, 'doctor', '--listen', 'soon'], { encoding: 'utf8' });
    assert.equal(b.status, 2, b.stdout + b.stderr);
    assert.match(b.stderr, /--listen soon: expected a number/);
    const t = spawnSync(IP, ['netns', 'exec', ns('rs1'), process.execPath, BIN, 'doctor', '--vip', VIP], { encoding: 'utf8' });
    assert.equal(t.status, 1);
    assert.match(t.stdout, /^ERROR {3}rs-vip-missing: VIP 10\.99\.0\.100 is not on lo/m);
    assert.match(t.stdout, /^ {8}fix: haldir realserver setup --vip 10\.99\.0\.100 --mode dr$/m);
    assert.match(t.stdout, /^ {2}eth0 +0 \(all 0, own 0\)/m);
  });
});
