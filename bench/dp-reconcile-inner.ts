// Runs inside a throwaway network namespace (see dp-reconcile.ts): reconciles the
// issue-2318-sized table through the nftables driver and prints JSON timings.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../src/config/load.js';
import { allUpTable } from '../src/dataplane/desired.js';
import { NftablesDataplane } from '../src/dataplane/nftables/index.js';
import { diffState } from '../src/dataplane/nftables/diff.js';
import { renderNft } from '../src/dataplane/nftables/render.js';
import { generateConfig } from './gen-config.js';

const dir = mkdtempSync(join(tmpdir(), 'haldir-bench-dp-'));
const conf = join(dir, 'bench.conf');
writeFileSync(conf, generateConfig());
const cfg = loadConfig([conf]);
const model = cfg.models.get(cfg.nodes[0]!)!;
const time = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
};

const out: Record<string, number | string> = {};
const desired = allUpTable(model);
out.services = desired.length;
out.dests = desired.reduce((n, d) => n + d.dests.length, 0);
const drv = new NftablesDataplane();
const [fromEmpty, tEmpty] = await time(() => drv.reconcile(desired, { full: true }));
out.fromEmptyMs = tEmpty;
out.fromEmptyCommands = fromEmpty.note ?? '';
const [noop, tNoop] = await time(() => drv.reconcile(desired));
out.noopCachedMs = tNoop;
out.noopCachedChanges = noop.changes.length;
const [noopFull, tNoopFull] = await time(() => drv.reconcile(desired, { full: true }));
out.noopFullMs = tNoopFull;
out.noopFullChanges = noopFull.changes.length;
// One real server's weight changes (service 1001, a wrr service).
const rs = model.virtualServers[1001]!.realServers[3]!;
rs.weight += 7;
const changed = allUpTable(model);
const [one, tOne] = await time(() => drv.reconcile(changed));
out.oneChangeMs = tOne;
out.oneChangeCommands = one.note ?? '';
rs.weight -= 7;
const [oneFull, tOneFull] = await time(() => drv.reconcile(allUpTable(model), { full: true }));
out.oneChangeFullReadMs = tOneFull;
out.oneChangeFullReadChanges = oneFull.changes.length;
// Where the time goes: desired table, render, diff (pure parts).
const [, tDesired] = await time(() => allUpTable(model));
out.desiredTableMs = tDesired;
const ctx = { drPath: () => new Error('no DR') };
const [r, tRender] = await time(() => renderNft(desired, ctx));
out.renderMs = tRender;
const [, tDiff] = await time(() => diffState(r.state, r.state));
out.diffMs = tDiff;
// Peer: what a script regenerating the whole ruleset does for any change — delete the
// table and load it all again, in one transaction (the same objects haldir writes).
const full = diffState(r.state, new Map()).commands;
const peerFile = join(dir, 'full.nft');
writeFileSync(peerFile, [`delete table ip haldir`, ...full].join('\n') + '\n');
const [, tPeer] = await time(() => execFileSync('nft', ['-f', peerFile]));
out.peerFullReloadMs = tPeer;
const emptyFile = join(dir, 'empty.nft');
writeFileSync(emptyFile, full.join('\n') + '\n');
execFileSync('nft', ['delete', 'table', 'ip', 'haldir']);
const [, tPeerEmpty] = await time(() => execFileSync('nft', ['-f', emptyFile]));
out.peerFromEmptyMs = tPeerEmpty;
const [, tList] = await time(() => execFileSync('nft', ['-j', 'list', 'table', 'ip', 'haldir'], { maxBuffer: 1 << 30 }));
out.nftListMs = tList;
console.log(JSON.stringify(out));
