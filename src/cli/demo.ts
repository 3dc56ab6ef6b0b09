// `haldir demo`: a tour on the embedded seed cluster (examples/seed): the
// operator's four keepalived.conf files and the one cluster file that replaces
// them are read, validated, shown to mean the same thing node by node, planned
// and exported. Later the lab turns this into a live four-node cluster.
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { exportKeepalived } from '../config/keepalived/export.js';
import { loadConfig } from '../config/load.js';
import { planNode, renderPlan } from '../model/plan.js';
import { EXIT, type IO } from './main.js';

/** examples/seed, found relative to this file (dist/src/cli → repository root). */
export function seedDir(): string {
  return fileURLToPath(new URL('../../../examples/seed/', import.meta.url));
}

export function demoCommand(io: IO): number {
  const dir = seedDir();
  const confs = ['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${dir}${n}.conf`);
  const say = (s = '') => io.out(s + '\n');

  say('== 1. The seed: four keepalived.conf files, one per director');
  const ka = loadConfig(confs);
  for (const g of groupDiagnostics(ka.diagnostics)) say(formatGroup(g));
  const kaErr = ka.diagnostics.filter((d) => d.severity === 'error').length;
  say(`   ${confs.length} files → nodes ${ka.nodes.join(', ')}; ${kaErr} errors, ${ka.diagnostics.length - kaErr} warnings`);

  say('\n== 2. The same cluster in one file: examples/seed/haldir.yaml');
  const cl = loadConfig([`${dir}haldir.yaml`]);
  for (const g of groupDiagnostics(cl.diagnostics)) say(formatGroup(g));
  const clErr = cl.diagnostics.filter((d) => d.severity === 'error').length;
  say(`   nodes ${cl.nodes.join(', ')}; ${clErr} errors, ${cl.diagnostics.length - clErr} warnings`);
  if (kaErr || clErr) return EXIT.invalid;

  say('\n== 3. Both front ends give the same plan, node by node');
  let same = true;
  ka.nodes.forEach((kn, i) => {
    const cn = cl.nodes[i];
    const a = planNode({ ...ka.models.get(kn)!, node: cn ?? kn });
    const b = cn ? planNode(cl.models.get(cn)!) : undefined;
    const eq = b !== undefined && isDeepStrictEqual(a, b);
    same &&= eq;
    say(`   ${kn} (keepalived.conf) ≡ ${cn ?? '?'} (haldir.yaml): ${eq ? 'identical' : 'DIFFERENT'}`);
  });

  say(`\n== 4. The plan of ${cl.nodes[0]}: what it will program`);
  io.out(renderPlan(planNode(cl.models.get(cl.nodes[0]!)!)));

  say(`\n== 5. keepalived.conf for ${cl.nodes[1]}, one keyword per line (as keepalived reads it)`);
  const text = exportKeepalived(cl.models.get(cl.nodes[1]!)!);
  const lines = text.split('\n');
  io.out(lines.slice(0, 40).join('\n') + (lines.length > 40 ? `\n   … ${lines.length - 40} more lines (haldir export keepalived examples/seed/haldir.yaml --node ${cl.nodes[1]})\n` : '\n'));
  return same ? EXIT.ok : EXIT.invalid;
}
