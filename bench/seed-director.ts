// The seed cluster as a whole (lab/seed-lab.ts: four nodes running `haldir run` on the
// seed's own files, nginx on each, a client): ten trials each, at a random phase of the
// advert and check cycles, of (1) the master's link going down — time until the new
// master balances, and the longest client-visible gap on any of the four ports while a
// request loop runs — and (2) one node's nginx stopped — time until it leaves the
// master's table (bound: delay_loop 3 + 3 × connect_timeout 2 + 2 × delay_before_retry 1
// = 11 s). No peer in this table: keepalived programs IPVS, which this kernel lacks, so
// keepalived + nftables has no health-driven data plane to compare with; the VRRP part
// alone is compared with keepalived in `bench failover`.
import type { ChildProcess } from 'node:child_process';
import { canBuildLabs } from '../src/lab/netns.js';
import { SEED_PORTS, SEED_VIP, SeedLab, UPSTREAMS } from '../src/lab/seed-lab.js';
import { startTraffic, type TrafficTick } from '../src/lab/traffic-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runSeedDirector(trials = Number(process.env['BENCH_TRIALS'] ?? 10)): Promise<string> {
  const can = canBuildLabs();
  if (!can.ok) return `seed director bench skipped: ${can.why}`;
  const S = new SeedLab();
  let traffic: ChildProcess | undefined;
  try {
    for (const u of UPSTREAMS) await S.startUpstream(u);
    for (const n of S.nodes) await S.startNginx(n.name);
    for (const n of S.nodes) S.startDaemon(n.name);
    const table = (n: string): string => {
      try {
        return S.lab.exec(n, 'nft', ['list', 'table', 'netdev', 'haldir']);
      } catch {
        return '';
      }
    };
    const balancing = (n: string): boolean => table(n).includes(`${SEED_VIP} . tcp . 6443`);
    const waitFor = async (cond: () => boolean, ms: number, what: string): Promise<number> => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
        await sleep(20);
      }
      return Date.now() - t0;
    };
    // One chain per destination: 4 services × 4 nodes.
    const allIn = (): boolean => (table('lb1').match(/chain vs\/tcp\/192\.168\.2\.100\/\d+\/192\.168\.2\.1[1-4]\/\d+ \{/g) ?? []).length === 16;
    await waitFor(() => S.holders().join() === 'lb1' && balancing('lb1') && allIn(), 30000, 'lb1 master with all servers');
    const ticks: TrafficTick[] = [];
    traffic = startTraffic(S.lab, 'client', { vip: SEED_VIP, ports: SEED_PORTS }, (t) => ticks.push(t));
    await sleep(2000);
    const takeovers: number[] = [];
    const gaps: number[] = [];
    for (let t = 0; t < trials; t++) {
      await sleep(Math.random() * 1000); // random phase of the 1 s advert cycle
      const down = Date.now();
      S.lab.setLink('lb1', false);
      takeovers.push(await waitFor(() => S.holders().includes('lb2') && balancing('lb2'), 15000, 'lb2 takeover'));
      await sleep(2000);
      S.lab.setLink('lb1', true);
      await waitFor(() => S.holders().join() === 'lb1' && balancing('lb1') && !balancing('lb2'), 20000, 'lb1 back');
      await waitFor(() => allIn(), 30000, 'all servers back');
      await sleep(1500);
      // The gap while the VIP moved (link down → 2 s after takeover).
      gaps.push(Math.max(0, ...ticks.filter((k) => k.at >= down + 1000 && k.at <= down + takeovers[t]! + 3000).map((k) => k.maxGapMs)));
    }
    const removals: number[] = [];
    const returns: number[] = [];
    for (let t = 0; t < trials; t++) {
      const node = ['lb2', 'lb3', 'lb4'][t % 3]!;
      const re = new RegExp(`192\\.168\\.2\\.${10 + Number(node.slice(2))}/80\\b`);
      await sleep(Math.random() * 3000); // random phase of the 3 s delay_loop
      await S.stopNginx(node);
      removals.push(await waitFor(() => !re.test(table('lb1')), 30000, `${node} removal`));
      await S.startNginx(node);
      returns.push(await waitFor(() => re.test(table('lb1')), 30000, `${node} return`));
      await waitFor(() => allIn(), 30000, 'all servers back');
    }
    const row = (name: string, xs: number[], bound: string): string =>
      `| ${name} | ${median(xs)} ms | ${Math.min(...xs)}–${Math.max(...xs)} ms | ${bound} |`;
    return [
      `The seed cluster (4 nodes, haldir run on examples/seed/lbN.conf, nginx on each, DR via nftables), ${trials} trials each at a random phase`,
      '',
      '| what | median | min–max | bound |',
      '|---|---|---|---|',
      row('master link down → lb2 balancing', takeovers, 'master_down 3.61 s + 500 ms'),
      row('longest client-visible gap on one port during the takeover', gaps, 'master_down 3.61 s + 500 ms'),
      row('nginx stopped → leaves the master\'s table (port 80, HTTP_GET)', removals, '11 s + 500 ms'),
      row('nginx started → back in the table', returns, '2 × delay_loop = 6 s (keepalived re-checks the failed url, then the url list)'),
      '',
      'Peer: none in this table — keepalived programs IPVS, absent from this kernel (see `bench failover` for VRRP against keepalived).',
    ].join('\n');
  } finally {
    if (traffic) await S.lab.stop(traffic, 1000);
    await S.close();
  }
}
