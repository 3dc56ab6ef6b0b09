// Runs inside a throwaway network namespace (see dp-reconcile.ts): reconciles the
// issue-2318-sized table through the nftables driver — written over netlink (the
// default) and through `nft -f` (the fallback backend) — and times the peer, one `nft -f`
// of the same ruleset; prints JSON timings.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../src/config/load.js';
import { allUpTable } from '../src/dataplane/desired.js';
import { NftablesDataplane, type NftBackend } from '../src/dataplane/nftables/index.js';
import { diffState } from '../src/dataplane/nftables/diff.js';
import { renderNft } from '../src/dataplane/nftables/render.js';
import { encodeBatch } from '../src/dataplane/nftables/nfnetlink.js';
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
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dropTables = (): void => {
  for (const fam of ['ip', 'ip6', 'netdev']) {
    try {
      execFileSync('nft', ['delete', 'table', fam, 'haldir'], { stdio: 'ignore' });
    } catch {
      // not there
    }
  }
};

const out: Record<string, number | string> = {};
const desired = allUpTable(model);
out.services = desired.length;
out.dests = desired.reduce((n, d) => n + d.dests.length, 0);
// One real server's weight (service 1001, a wrr service), changed CHANGES times in a row: the
// run's value is the median (one sample is at the mercy of the scheduler on 2 busy cores).
const CHANGES = 9;
const rs = model.virtualServers[1001]!.realServers[3]!;

async function driver(backend: NftBackend, key: string): Promise<void> {
  const drv = new NftablesDataplane({ backend });
  const [fromEmpty, tEmpty] = await time(() => drv.reconcile(allUpTable(model), { full: true }));
  out[`${key}FromEmptyMs`] = tEmpty;
  out[`${key}FromEmptyWriteMs`] = drv.lastWrite?.ms ?? NaN;
  for (const [phase, ms] of Object.entries(drv.lastPhases ?? {})) out[`${key}FromEmpty_${phase}Ms`] = ms;
  out[`${key}FromEmptyNote`] = fromEmpty.note ?? '';
  const [noop, tNoop] = await time(() => drv.reconcile(allUpTable(model)));
  out[`${key}NoopCachedMs`] = tNoop;
  out[`${key}NoopCachedChanges`] = noop.changes.length;
  const one: number[] = [];
  const oneWrite: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    rs.weight += i % 2 ? -7 : 7;
    const changed = allUpTable(model);
    const [r, t] = await time(() => drv.reconcile(changed));
    one.push(t);
    oneWrite.push(drv.lastWrite?.ms ?? NaN);
    out[`${key}OneChangeNote`] = r.note ?? '';
  }
  if (CHANGES % 2) rs.weight -= 7;
  out[`${key}OneChangeMs`] = median(one);
  out[`${key}OneChangeWriteMs`] = median(oneWrite);
  if (backend === 'netlink') {
    const [noopFull, tNoopFull] = await time(() => drv.reconcile(allUpTable(model), { full: true }));
    out.noopFullMs = tNoopFull;
    out.noopFullChanges = noopFull.changes.length;
    rs.weight += 7;
    const [oneFull, tOneFull] = await time(() => drv.reconcile(allUpTable(model), { full: true }));
    out.oneChangeFullReadMs = tOneFull;
    out.oneChangeFullReadChanges = oneFull.changes.length;
    rs.weight -= 7;
    await drv.reconcile(allUpTable(model), { full: true });
  }
  await drv.close();
}

await driver('netlink', 'netlink');
dropTables();
await driver('nft', 'nftf');

// Where the time goes: desired table, render, diff, encoding the batch (pure parts).
const [, tDesired] = await time(() => allUpTable(model));
out.desiredTableMs = tDesired;
const ctx = { drPath: () => new Error('no DR') };
const [r, tRender] = await time(() => renderNft(desired, ctx));
out.renderMs = tRender;
const [full, tDiff] = await time(() => diffState(r.state, new Map()));
out.diffMs = tDiff;
const [batch, tEncode] = await time(() => encodeBatch(full.ops, { ifindex: () => 1 }));
out.encodeMs = tEncode;
out.batchBytes = batch.buf.length;
out.batchMessages = batch.messages.length;
// Peer: what a script regenerating the whole ruleset does for any change — delete the
// table and load it all again, in one transaction (the same objects haldir writes).
const peerFile = join(dir, 'full.nft');
writeFileSync(peerFile, [`delete table ip haldir`, ...full.commands].join('\n') + '\n');
const [, tPeer] = await time(() => execFileSync('nft', ['-f', peerFile]));
out.peerFullReloadMs = tPeer;
const emptyFile = join(dir, 'empty.nft');
writeFileSync(emptyFile, full.commands.join('\n') + '\n');
dropTables();
const [, tPeerEmpty] = await time(() => execFileSync('nft', ['-f', emptyFile]));
out.peerFromEmptyMs = tPeerEmpty;
const [, tList] = await time(() => execFileSync('nft', ['-j', 'list', 'table', 'ip', 'haldir'], { maxBuffer: 1 << 30 }));
out.nftListMs = tList;
console.log(JSON.stringify(out));
