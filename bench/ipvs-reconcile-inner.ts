// Runs inside the user-mode-linux guest (see ipvs-reconcile.ts): reconciles the
// issue-2318-sized table (2,284 services × 37,298 real servers, NAT rr/wrr) into kernel
// IPVS through haldir's driver (generic netlink, batched), and loads the same table with
// `ipvsadm-restore`, the peer, in the same run. Prints one JSON line per run.
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { loadKeepalivedText } from '../src/config/keepalived/load.js';
import { allUpTable } from '../src/dataplane/desired.js';
import { IpvsDataplane } from '../src/dataplane/ipvs/index.js';
import { FWD } from '../src/dataplane/ipvs/codec.js';
import { renderTable } from '../src/dataplane/ipvs/objects.js';
import { generateConfig } from './gen-config.js';

const runs = Number(process.argv[2] ?? 3);
const time = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
};
const sh = (cmd: string, args: string[], input?: string): string => execFileSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] });

const [loaded, tLoad] = await time(() => loadKeepalivedText(generateConfig(), 'bench-2318.conf'));
const model = loaded.model;
const desired = allUpTable(model);
const { table } = renderTable(desired, new Map());

// The same table as ipvsadm rules (`ipvsadm -S` format), for ipvsadm-restore.
const rules: string[] = [];
for (const e of table.values()) {
  const s = `-t ${e.svc.address}:${e.svc.port}`;
  rules.push(`-A ${s} -s ${e.svc.scheduler}`);
  for (const d of e.dests.values()) rules.push(`-a ${s} -r ${d.address}:${d.port} ${d.fwd === FWD.MASQ ? '-m' : d.fwd === FWD.TUNNEL ? '-i' : '-g'} -w ${d.weight}`);
}
const rulesText = rules.join('\n') + '\n';
// One real server's weight (service 1001, a wrr service), as both sides change it.
const vs = model.virtualServers[1001]!;
const rs = vs.realServers[3]!;
const vsAddr = vs.address.kind === 'ip' ? `${vs.address.address}:${vs.address.port}` : '';
const editLine = (w: number): string => `-e -t ${vsAddr} -r ${rs.address}:${rs.port} -m -w ${w}`;

for (let i = 0; i < runs; i++) {
  sh('ipvsadm', ['-C']);
  const out: Record<string, number | string> = { services: desired.length, dests: desired.reduce((n, d) => n + d.dests.length, 0), loadConfigMs: tLoad };
  const dp = new IpvsDataplane({ stateFile: false, sysctls: false });
  const [first, tFirst] = await time(() => dp.reconcile(desired, { full: true }));
  out.fromEmptyMs = tFirst;
  out.fromEmptyNote = first.note ?? '';
  out.fromEmptyErrors = (first.errors ?? []).length;
  const c0 = dp.counters().changeMessages;
  const [, tNoop] = await time(() => dp.reconcile(desired));
  out.noopCachedMs = tNoop;
  const [, tNoopFull] = await time(() => dp.reconcile(desired, { full: true }));
  out.noopFullMs = tNoopFull;
  out.noopMessages = dp.counters().changeMessages - c0;
  // The desired table is health's to compute (timed apart below); the reconcile gets it.
  const w0 = rs.weight;
  rs.weight = w0 + 7;
  const changed = allUpTable(model);
  const [one, tOne] = await time(() => dp.reconcile(changed));
  out.oneChangeMs = tOne;
  out.oneChangeNote = one.note ?? '';
  out.oneChangeMessages = dp.counters().changeMessages - c0;
  rs.weight = w0;
  const back = allUpTable(model);
  const [, tOneFull] = await time(() => dp.reconcile(back, { full: true }));
  out.oneChangeFullMs = tOneFull;
  const [, tRead] = await time(() => dp.read());
  out.readMs = tRead;
  const [, tDesired] = await time(() => allUpTable(model));
  out.desiredTableMs = tDesired;
  const [, tRender] = await time(() => renderTable(desired, new Map()));
  out.renderMs = tRender;
  await dp.close();
  // The peer: ipvsadm-restore (clears the table, then one ipvsadm -R of every rule).
  sh('ipvsadm', ['-C']);
  const [, tPeer] = await time(() => sh('ipvsadm-restore', [], rulesText));
  out.peerRestoreMs = tPeer;
  // A one-server change through ipvsadm-restore is the whole table again; ipvsadm -e is the targeted peer.
  const [, tPeerAgain] = await time(() => sh('ipvsadm-restore', [], rulesText));
  out.peerRestoreAgainMs = tPeerAgain;
  const [, tEdit] = await time(() => sh('ipvsadm', editLine(w0 + 7).split(' ')));
  out.peerEditMs = tEdit;
  const [, tSave] = await time(() => sh('ipvsadm', ['-Sn']));
  out.peerSaveMs = tSave;
  process.stdout.write(`RUN ${JSON.stringify(out)}\n`);
}
sh('ipvsadm', ['-C']);
