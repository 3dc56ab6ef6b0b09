// Reconcile cost of the IPVS data plane at keepalived issue 2318's size (2,284 virtual
// services, 37,298 real servers, NAT rr/wrr), measured in kernel IPVS inside a
// user-mode-linux guest (src/lab/uml.ts; this host's kernel may have none): haldir's
// driver over generic netlink — from empty, a no-op, one real server's weight through
// the cached (O(changed)) path and through a full kernel read — against the peer in the
// same guest and run, `ipvsadm-restore` of the same rules (and `ipvsadm -e` for the one
// change). UML runs the kernel in a process on one vCPU: absolute times are several
// times a real kernel's, the ratios are the point.
import { fileURLToPath } from 'node:url';
import { runInGuest, umlAvailable } from '../src/lab/uml.js';

const INNER = fileURLToPath(new URL('./ipvs-reconcile-inner.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Run = Record<string, number | string>;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export async function runIpvsReconcile(runs = Number(process.env['BENCH_RUNS'] ?? 3)): Promise<Run[] | string> {
  const avail = umlAvailable();
  if (!avail.ok) return `skipped: ${avail.why}`;
  const r = await runInGuest([process.execPath, INNER, String(runs)], { cwd: ROOT, timeoutMs: 900000, memMb: 2048 });
  const out = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('RUN '))
    .map((l) => JSON.parse(l.slice(4)) as Run);
  if (r.code !== 0 || out.length === 0) throw new Error(`the guest failed (exit ${r.code}): ${r.stderr.slice(-3000)}\n${r.console}`);
  return out;
}

export function formatIpvsReconcile(runs: Run[] | string): string {
  if (typeof runs === 'string') return `IPVS reconcile (user-mode-linux guest): ${runs}`;
  const xs = (k: string): number[] => runs.map((r) => Number(r[k]));
  const m = (k: string): string => `${median(xs(k)).toFixed(0)} ms (${Math.min(...xs(k)).toFixed(0)}–${Math.max(...xs(k)).toFixed(0)})`;
  const ratio = (peer: string, ours: string): string => `${(median(xs(peer)) / median(xs(ours))).toFixed(1)}×`;
  const r0 = runs[0]!;
  return [
    `IPVS reconcile in a user-mode-linux guest (kernel IPVS, 1 vCPU), ${r0.services} services × ${r0.dests} real servers (NAT rr/wrr), median of ${runs.length} runs (min–max)`,
    '',
    '| change | haldir, generic netlink | peer | peer / haldir |',
    '|---|---|---|---|',
    `| from empty | ${m('fromEmptyMs')} (${r0.fromEmptyNote}) | \`ipvsadm-restore\` ${m('peerRestoreMs')} | ${ratio('peerRestoreMs', 'fromEmptyMs')} |`,
    `| nothing (no-op), cached | ${m('noopCachedMs')}, ${r0.noopMessages} change messages | \`ipvsadm-restore\` again ${m('peerRestoreAgainMs')} | ${ratio('peerRestoreAgainMs', 'noopCachedMs')} |`,
    `| nothing, full kernel read + diff | ${m('noopFullMs')} | \`ipvsadm -Sn\` (read only) ${m('peerSaveMs')} | ${ratio('peerSaveMs', 'noopFullMs')} |`,
    `| one real server's weight, cached | ${m('oneChangeMs')} (${r0.oneChangeMessages} message) | \`ipvsadm -e\` ${m('peerEditMs')}; \`ipvsadm-restore\` ${m('peerRestoreAgainMs')} | ${ratio('peerEditMs', 'oneChangeMs')} / ${ratio('peerRestoreAgainMs', 'oneChangeMs')} |`,
    `| one real server's weight, full read | ${m('oneChangeFullMs')} | | |`,
    '',
    `Parts: kernel read (1 service dump + ${r0.services} destination dumps) ${m('readMs')}; desired table ${m('desiredTableMs')}; render ${m('renderMs')}; loading the configuration ${Number(r0.loadConfigMs).toFixed(0)} ms (once).`,
    '`ipvsadm-restore` clears the table first (`ipvsadm -C`): connections in progress lose their entries; haldir changes only what differs.',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(formatIpvsReconcile(await runIpvsReconcile()));
