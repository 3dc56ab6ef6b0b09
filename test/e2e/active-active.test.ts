// `haldir run --balance all` (active-active) with the seed's topology in small: two
// directors that are also real servers of each other (VIP on lo, arp_ignore/announce),
// plus one plain real server, DR, rr. Both directors balance, the BACKUP too. A frame
// one director forwards to the other arrives from a real server's MAC and is served
// there, never balanced again: the other director's service chain counts no packet.
// Without that guard it would re-balance its share (the LVS-DR ping-pong).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { canBuildLabs } from '../../src/lab/netns.js';
import { DataplaneLab, DP_VIP } from '../../src/lab/dp-lab.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const conf = (prio: number): string =>
  [
    'vrrp_instance VI_1 {',
    '  state BACKUP',
    '  interface eth0',
    '  virtual_router_id 52',
    `  priority ${prio}`,
    '  advert_int 1',
    `  virtual_ipaddress { ${DP_VIP}/32 dev eth0 }`,
    '}',
    `virtual_server ${DP_VIP} 80 {`,
    '  delay_loop 1',
    '  lb_algo rr',
    '  lb_kind DR',
    '  protocol TCP',
    ...['10.99.0.11', '10.99.0.12', '10.99.0.21'].map((a) => `  real_server ${a} 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }`),
    '}',
    '',
  ].join('\n');

describe('haldir run --balance all: active-active, directors as each other\'s real servers', { skip }, () => {
  let L: DataplaneLab;
  const daemons = new Map<string, { proc: ChildProcess; out: string[] }>();
  before(async () => {
    L = new DataplaneLab({ mode: 'DR', directors: 2, servers: 1, ports: [80], staticVip: false });
    for (const d of ['lb1', 'lb2']) {
      // The directors are real servers too: VIP on lo, and ARP only for eth0's own addresses.
      for (const [k, v] of [['all.arp_ignore', '1'], ['all.arp_announce', '2'], ['eth0.arp_ignore', '1'], ['eth0.arp_announce', '2']]) L.lab.exec(d, 'sysctl', ['-qw', `net.ipv4.conf.${k}=${v}`]);
      L.lab.exec(d, 'ip', ['addr', 'add', `${DP_VIP}/32`, 'dev', 'lo']);
    }
    await L.startBackends([80], ['be1', 'lb1', 'lb2']);
    for (const [d, prio] of [['lb1', 100], ['lb2', 99]] as const) {
      const file = L.writeConfig(`${d}.conf`, conf(prio));
      const proc = L.lab.spawn(d, process.execPath, [HALDIR, 'run', file, '--dataplane', 'nftables', '--balance', 'all']);
      const out: string[] = [];
      proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
      proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
      daemons.set(d, { proc, out });
    }
  });
  after(async () => {
    for (const d of daemons.values()) await L.lab.stop(d.proc, 3000);
    await L?.close();
  });

  const log = (d: string): string => daemons.get(d)!.out.join('');
  const programmed = (d: string): boolean => {
    try {
      return L.nft(d, ['list', 'map', 'netdev', 'haldir', 'dr4']).includes(`${DP_VIP} . tcp . 80 :`);
    } catch {
      return false;
    }
  };
  async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n--- lb1:\n${log('lb1').slice(-2500)}\n--- lb2:\n${log('lb2').slice(-2500)}`);
      await sleep(100);
    }
  }

  it('both directors balance: lb1 as MASTER, lb2 as BACKUP', async () => {
    // Both start BACKUP with master_down 3.609 vs 3.613 s: whichever process starts first may be
    // MASTER for an instant; what matters is the settled state — lb1 holds the VIP, lb2 does not, both balance.
    const holds = (d: string): boolean => L.lab.exec(d, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${DP_VIP}/`);
    await until('lb1 MASTER, lb2 BACKUP, both programmed', () => holds('lb1') && !holds('lb2') && programmed('lb1') && programmed('lb2'), 15000);
    assert.match(L.nft('lb2', ['list', 'set', 'netdev', 'haldir', 'rs_macs']), /02:99:00:00:00:11/, "lb1's MAC is a real server's on lb2");
  });

  /** Packets a director's service chain balanced (DR in nftables hashes per flow, so counts, not an exact rr split). */
  const balanced = (d: string): number => Number(/counter packets (\d+)/.exec(L.nft(d, ['list', 'chain', 'netdev', 'haldir', `vs/tcp/${DP_VIP}/80`]))?.[1] ?? -1);

  it('through the MASTER: all three serve; lb2 serves what lb1 forwards to it and balances none of it again', async () => {
    await sleep(1500); // the first health results are in
    const [b1, b2] = [balanced('lb1'), balanced('lb2')];
    const p = L.probe(80, 60, { concurrency: 2 });
    assert.deepEqual(p.failures, {});
    assert.deepEqual(Object.keys(p.byServer).sort(), ['be1', 'lb1', 'lb2']);
    assert.ok(balanced('lb1') - b1 >= 60, 'lb1 balanced the client\'s packets');
    assert.equal(balanced('lb2') - b2, 0, 'lb2 balanced frames lb1 had forwarded to it (ping-pong)');
  });

  it('through the BACKUP (the client sent to lb2\'s MAC, as an ECMP router would): lb2 balances, lb1 only serves', () => {
    L.lab.exec('client', 'ip', ['neigh', 'replace', DP_VIP, 'lladdr', '02:99:00:00:00:12', 'dev', 'eth0', 'nud', 'permanent']);
    try {
      const [b1, b2] = [balanced('lb1'), balanced('lb2')];
      const p = L.probe(80, 60, { concurrency: 2 });
      assert.deepEqual(p.failures, {});
      assert.deepEqual(Object.keys(p.byServer).sort(), ['be1', 'lb1', 'lb2']);
      assert.ok(balanced('lb2') - b2 >= 60, 'the BACKUP balanced');
      assert.equal(balanced('lb1') - b1, 0, 'lb1 balanced frames lb2 had forwarded to it (ping-pong)');
    } finally {
      L.lab.exec('client', 'ip', ['neigh', 'del', DP_VIP, 'dev', 'eth0']);
    }
  });

  it('a bad --balance value is a usage error', async () => {
    const file = L.writeConfig('x.conf', conf(50));
    const p = L.lab.spawn('lb2', process.execPath, [HALDIR, 'run', file, '--balance', 'everywhere']);
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    assert.equal(code, 2);
    assert.match(err, /--balance must be master or all, not "everywhere"/);
  });
});
