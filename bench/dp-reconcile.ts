// Reconcile cost of the nftables data plane at keepalived issue 2318's size (2,284
// virtual services, 37,298 real servers, NAT rr/wrr): from empty, a no-op, one real
// server's weight changed — through haldir's cached (O(changed)) path and its full
// path (kernel read + diff), written over netlink (the default) and through `nft -f` (the
// fallback backend), against the peer a script would be: regenerate the whole ruleset and
// load it with one `nft -f`. Each run in a fresh network namespace.
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
    `nftables reconcile, ${r0.services} services × ${r0.dests} real servers (NAT rr/wrr), median of ${runs.length} runs (min–max); each run in a fresh namespace`,
    '',
    '| change | haldir, netlink (default), cached state | haldir, netlink, full kernel read + diff | haldir, `nft -f` backend, cached state | peer: regenerate + one `nft -f` | target |',
    '|---|---|---|---|---|---|',
    `| from empty | ${m('netlinkFromEmptyMs')} | (same: nothing to read) | ${m('nftfFromEmptyMs')} | ${m('peerFromEmptyMs')} | < 2 s |`,
    `| nothing (no-op) | ${m('netlinkNoopCachedMs')} | ${m('noopFullMs')} | ${m('nftfNoopCachedMs')} | ${m('peerFullReloadMs')} | no change |`,
    `| one real server's weight (median of 9 in a row per run) | ${m('netlinkOneChangeMs')} | ${m('oneChangeFullReadMs')} | ${m('nftfOneChangeMs')} | ${m('peerFullReloadMs')} | < 20 ms |`,
    '',
    `Where the netlink from-empty time goes: rendering ${m('netlinkFromEmpty_renderMs')}, reading the (empty) kernel state ${m('netlinkFromEmpty_readMs')}, diff ${m('netlinkFromEmpty_diffMs')}, write ${m('netlinkFromEmpty_writeMs')}.`,
    `Writing alone (encode, send, the kernel's work, its answer): from empty ${m('netlinkFromEmptyWriteMs')} over netlink (${r0.batchMessages} messages, ${(Number(r0.batchBytes) / 1e6).toFixed(1)} MB in one sendmsg) vs ${m('nftfFromEmptyWriteMs')} through nft -f; one change ${m('netlinkOneChangeWriteMs')} over netlink (${r0.netlinkOneChangeNote}) vs ${m('nftfOneChangeWriteMs')} through nft -f.`,
    `Pure parts of one full render (warm): desired table ${m('desiredTableMs')}, render ${m('renderMs')}, diff ${m('diffMs')}, netlink encoding ${m('encodeMs')}; \`nft -j list table\` alone ${m('nftListMs')}.`,
  ].join('\n');
}
