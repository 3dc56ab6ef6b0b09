// Reconcile cost of the nftables data plane at keepalived issue 2318's size (2,284
// virtual services, 37,298 real servers, NAT rr/wrr): from empty, a no-op, one real
// server's weight changed — through haldir's cached (O(changed)) path and its full
// path (kernel read + diff), against the peer a script would be: regenerate the whole
// ruleset and load it with one `nft -f`. Each run in a fresh network namespace.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INNER = fileURLToPath(new URL('./dp-reconcile-inner.js', import.meta.url));

type Run = Record<string, number | string>;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export function runDpReconcile(runs = Number(process.env['BENCH_RUNS'] ?? 3)): Run[] {
  const out: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const ns = `hb${process.pid}-rec${i}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      out.push(JSON.parse(execFileSync('ip', ['netns', 'exec', ns, process.execPath, INNER], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Run);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  }
  return out;
}

export function formatDpReconcile(runs: Run[]): string {
  const m = (k: string): string => {
    const xs = runs.map((r) => Number(r[k]));
    return `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  };
  const r0 = runs[0]!;
  return [
    `nftables reconcile, ${r0.services} services × ${r0.dests} real servers (NAT rr/wrr), median of ${runs.length} runs (min–max)`,
    '',
    '| change | haldir, cached state (O(changed)) | haldir, full kernel read + diff | peer: regenerate + one `nft -f` | target |',
    '|---|---|---|---|---|',
    `| from empty | — | ${m('fromEmptyMs')} | ${m('peerFromEmptyMs')} | < 2 s |`,
    `| nothing (no-op) | ${m('noopCachedMs')} | ${m('noopFullMs')} | ${m('peerFullReloadMs')} | no change |`,
    `| one real server's weight | ${m('oneChangeMs')} (${r0.oneChangeCommands}) | ${m('oneChangeFullReadMs')} | ${m('peerFullReloadMs')} | < 20 ms |`,
    '',
    `Pure parts of one full render: desired table ${m('desiredTableMs')}, render ${m('renderMs')}, diff ${m('diffMs')}; \`nft -j list table\` alone ${m('nftListMs')}.`,
  ].join('\n');
}
