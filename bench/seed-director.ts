// The seed cluster as a whole (lab/seed-lab.ts: four nodes running `haldir run` on the
// seed's own files, nginx on each, a client): ten trials each, at a random phase of the
// advert and check cycles, of (1) the master's link going down — time until the new
// master balances, and the longest client-visible gap on any of the four ports while a
// request loop runs — and (2) one node's nginx stopped — time until it leaves the
// master's table (bound: delay_loop 3 + 3 × connect_timeout 2 + 2 × delay_before_retry 1
// = 11 s). The peer, in the same lab and run: what an operator assembles by hand —
// keepalived for VRRP (the seed's files as haldir exports them, one keyword per line)
// and the services programmed once into nftables (`haldir apply`, no health checks:
// keepalived's checker needs IPVS, which this kernel lacks). Only the takeover scenario
// allows it; the peer has nothing that removes a stopped nginx.
import type { ChildProcess } from 'node:child_process';
import { canBuildLabs } from '../src/lab/netns.js';
import { SEED_PORTS, SEED_VIP, SeedLab, UPSTREAMS } from '../src/lab/seed-lab.js';
import { startTraffic, type TrafficTick } from '../src/lab/traffic-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Result {
  takeovers: number[];
  gaps: number[];
  /** Failed requests from 1 s to 3 s after the takeover (a dead director still in the table fails its share). */
  failsAfter: number[];
  removals: number[];
  returns: number[];
}

async function runOne(kind: 'haldir' | 'peer', trials: number): Promise<Result> {
  const S = new SeedLab();
  let traffic: ChildProcess | undefined;
  try {
    for (const u of UPSTREAMS) await S.startUpstream(u);
    for (const n of S.nodes) await S.startNginx(n.name);
    for (const n of S.nodes) {
      if (kind === 'haldir') S.startDaemon(n.name);
      else S.startPeer(n.name);
    }
    const table = (n: string): string => {
      try {
        return S.lab.exec(n, 'nft', ['list', 'table', 'netdev', 'haldir']);
      } catch {
        return '';
      }
    };
    // The peer's tables are static: on every node, always; the VIP is what moves.
    const balancing = (n: string): boolean => table(n).includes(`${SEED_VIP} . tcp . 6443`);
    const waitFor = async (cond: () => boolean, ms: number, what: string): Promise<number> => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error(`${kind}: ${what}: not within ${ms} ms`);
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
    const r: Result = { takeovers: [], gaps: [], failsAfter: [], removals: [], returns: [] };
    for (let t = 0; t < trials; t++) {
      await sleep(Math.random() * 1000); // random phase of the 1 s advert cycle
      const down = Date.now();
      S.lab.setLink('lb1', false);
      const took = await waitFor(() => S.holders().includes('lb2') && balancing('lb2'), 15000, 'lb2 takeover');
      r.takeovers.push(took);
      await sleep(3500);
      S.lab.setLink('lb1', true);
      await waitFor(() => S.holders().join() === 'lb1' && balancing('lb1') && (kind === 'peer' || !balancing('lb2')), 20000, 'lb1 back');
      await waitFor(() => allIn(), 30000, 'all servers back');
      await sleep(1500);
      const window = (from: number, to: number): TrafficTick[] => ticks.filter((k) => k.at >= from && k.at <= to);
      // The gap while the VIP moved (link down → 2 s after takeover).
      r.gaps.push(Math.max(0, ...window(down + 1000, down + took + 3000).map((k) => k.maxGapMs)));
      r.failsAfter.push(window(down + took + 1000, down + took + 3000).reduce((a, k) => a + k.fail, 0));
    }
    if (kind === 'haldir') {
      for (let t = 0; t < trials; t++) {
        const node = ['lb2', 'lb3', 'lb4'][t % 3]!;
        const re = new RegExp(`192\\.168\\.2\\.${10 + Number(node.slice(2))}/80\\b`);
        await sleep(Math.random() * 3000); // random phase of the 3 s delay_loop
        await S.stopNginx(node);
        r.removals.push(await waitFor(() => !re.test(table('lb1')), 30000, `${node} removal`));
        await S.startNginx(node);
        r.returns.push(await waitFor(() => re.test(table('lb1')), 30000, `${node} return`));
        await waitFor(() => allIn(), 30000, 'all servers back');
      }
    }
    return r;
  } finally {
    if (traffic) await S.lab.stop(traffic, 1000);
    await S.close();
  }
}

export async function runSeedDirector(trials = Number(process.env['BENCH_TRIALS'] ?? 10)): Promise<string> {
  const can = canBuildLabs();
  if (!can.ok) return `seed director bench skipped: ${can.why}`;
  const h = await runOne('haldir', trials);
  const k = await runOne('peer', trials);
  const cell = (xs: number[], unit = ' ms'): string => (xs.length ? `${median(xs)}${unit} (${Math.min(...xs)}–${Math.max(...xs)})` : 'never (no health checks)');
  const row = (name: string, a: number[], b: number[], bound: string, unit?: string): string => `| ${name} | ${cell(a, unit)} | ${cell(b, unit)} | ${bound} |`;
  return [
    `The seed cluster (4 nodes, nginx on each, DR via nftables), ${trials} trials each at a random phase; median (min–max).`,
    'haldir: `haldir run examples/seed/lbN.conf`. Peer: keepalived --vrrp on the same files (exported one keyword per line) + the services applied once to nftables, no health checks.',
    '',
    '| what | haldir | keepalived + nftables | bound |',
    '|---|---|---|---|',
    row('master link down → lb2 holds the VIP and balances', h.takeovers, k.takeovers, 'master_down 3.61 s + 500 ms'),
    row('longest client-visible gap on one port during the takeover', h.gaps, k.gaps, 'master_down 3.61 s + 500 ms'),
    row('failed requests 1–3 s after the takeover (4 ports)', h.failsAfter, k.failsAfter, '0: the dead director must leave the table', ''),
    row("nginx stopped → leaves the master's table (port 80, HTTP_GET)", h.removals, k.removals, '11 s + 500 ms'),
    row('nginx started → back in the table', h.returns, k.returns, '2 × delay_loop = 6 s (keepalived re-checks the failed url, then the url list)'),
  ].join('\n');
}
