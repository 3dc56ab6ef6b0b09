// Benchmark: client-visible failover gap, haldir against keepalived 2.2.7 with
// the same configuration in the same run. Four directors (priorities
// 100/99/98/97) and a client in network namespaces; the failure is the
// master's link going down (kill -9 is not a node failure: the VIP would stay
// up, see shared/docs/lab.md), triggered at a random phase of the advert
// cycle. The client pings the VIP every 2 ms from a raw socket; the gap is the
// longest silence between replies. Also counts multi-master episodes: more
// than one director taking the VIP and announcing it for one failure.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { canBuildLabs } from '../src/lab/netns.js';
import { sleep, VrrpLab, type VrrpVariant } from '../src/lab/vrrp-lab.js';

export interface Trial {
  gapMs: number;
  masters: number;
}

export interface FailoverResult {
  variant: string;
  kind: 'haldir' | 'keepalived';
  trials: Trial[];
  error?: string;
}

const PROBE = fileURLToPath(new URL('./icmp-probe.js', import.meta.url));

function probe(l: VrrpLab, durationMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', l.lab.host('client').ns, process.execPath, PROBE, '10.99.0.100', '2', String(durationMs)], (err, out) => {
      if (err) reject(err);
      else resolve((JSON.parse(out) as { replies: number[] }).replies);
    });
  });
}

/** The longest silence between replies from `from` on. */
function longestGap(replies: number[], from: number): number {
  let gap = 0;
  let prev = replies.filter((r) => r < from).pop() ?? from;
  for (const r of replies.filter((x) => x >= from)) {
    gap = Math.max(gap, r - prev);
    prev = r;
  }
  return gap;
}

async function runKind(kind: 'haldir' | 'keepalived', v: VrrpVariant, trials: number): Promise<Trial[]> {
  const l = new VrrpLab([kind, kind, kind, kind], v);
  const out: Trial[] = [];
  try {
    l.start();
    await l.waitHolder('lb1', 15000);
    const downMs = (3 * v.advertInt + v.advertInt) * 1000 + 1500;
    for (let i = 0; i < trials; i++) {
      await sleep(1000 + Math.random() * v.advertInt * 1000); // random phase of the advert cycle
      // Make the client's neighbour entry current, then measure.
      l.lab.exec('client', 'ping', ['-c', '1', '-W', '1', '10.99.0.100']);
      const replies = probe(l, 300 + downMs);
      await sleep(300);
      const t0 = Date.now();
      l.lab.setLink('lb1', false);
      const r = await replies;
      // A multi-master episode, as a client sees it: two directors took the VIP and announced it.
      const masters = new Set(l.directors.filter((d) => d.name !== 'lb1' && d.announced.some((t) => t >= t0)).map((d) => d.name));
      out.push({ gapMs: longestGap(r, t0), masters: masters.size });
      l.lab.setLink('lb1', true);
      await l.waitHolder('lb1', 15000);
      for (const d of l.directors) {
        d.transitions.length = 0;
        d.announced.length = 0;
      }
    }
  } finally {
    await l.close();
  }
  return out;
}

export async function runFailover(trials = Number(process.env['BENCH_TRIALS'] ?? 5)): Promise<FailoverResult[]> {
  const can = canBuildLabs();
  const variants: [string, VrrpVariant, number][] = [
    ['v2, advert_int 1 s', { version: 2, advertInt: 1 }, trials],
    ['v3, advert_int 0.1 s', { version: 3, advertInt: 0.1 }, trials * 2],
  ];
  const results: FailoverResult[] = [];
  for (const [name, v, n] of variants) {
    for (const kind of ['haldir', 'keepalived'] as const) {
      if (!can.ok) {
        results.push({ variant: name, kind, trials: [], error: can.why! });
        continue;
      }
      try {
        results.push({ variant: name, kind, trials: await runKind(kind, v, n) });
      } catch (e) {
        results.push({ variant: name, kind, trials: [], error: (e as Error).message.split('\n')[0]! });
      }
    }
  }
  return results;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function formatFailover(rs: FailoverResult[]): string {
  const rows = [['VRRP', 'director', 'trials', 'median gap ms', 'min–max ms', 'trials with 2+ VIP takers']];
  for (const r of rs) {
    if (r.error) {
      rows.push([r.variant, r.kind, '0', `not run: ${r.error}`, '', '']);
      continue;
    }
    const g = r.trials.map((t) => t.gapMs);
    rows.push([r.variant, r.kind, String(r.trials.length), median(g).toFixed(0), `${Math.min(...g).toFixed(0)}–${Math.max(...g).toFixed(0)}`, `${r.trials.filter((t) => t.masters > 1).length}`]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = rows.map((x) => x.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  const byVariant = new Map<string, FailoverResult[]>();
  for (const r of rs) byVariant.set(r.variant, [...(byVariant.get(r.variant) ?? []), r]);
  const notes: string[] = [];
  for (const [v, pair] of byVariant) {
    const h = pair.find((p) => p.kind === 'haldir');
    const k = pair.find((p) => p.kind === 'keepalived');
    if (h?.trials.length && k?.trials.length) {
      const d = median(h.trials.map((t) => t.gapMs)) - median(k.trials.map((t) => t.gapMs));
      notes.push(`${v}: haldir median − keepalived median = ${d >= 0 ? '+' : ''}${d.toFixed(0)} ms (target ≤ +20 ms)`);
    }
  }
  return ['Failover: client-visible gap after the master link goes down (4 directors, ping every 2 ms)', ...lines, ...notes].join('\n');
}
