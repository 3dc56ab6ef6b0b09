// Property test: 20,000 random and mutated packets (bit flips, truncations,
// extensions, re-checksummed field changes, random bytes, odd IP metadata)
// through decode, receive validation and onPacket, on instances in BACKUP
// and MASTER. No exception may escape, a rejected packet must leave the state
// object untouched with no actions, and an accepted one must do exactly what
// the advert event alone does. Seeded, so a failure reproduces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VrrpInstance } from '../../src/model/types.js';
import {
  canonicalIp,
  computeChecksum,
  decode,
  encodeAdvert,
  initFsm,
  instanceCtx,
  nextDeadline,
  onPacket,
  onTimer,
  step,
  validateAdvert,
  type RxMeta,
  type VrrpFsmState,
  type VrrpInstanceCtx,
} from '../../src/vrrp/index.js';
import { instance, MCAST4, rng, S } from './helpers.js';

const TOTAL = 20_000;

interface Setup {
  name: string;
  ctx: VrrpInstanceCtx;
  family: 4 | 6;
  version: 2 | 3;
  peers: string[];
  dsts: string[];
  states: VrrpFsmState[];
}

function setup(name: string, over: Partial<VrrpInstance>, local: string, peers: string[], dsts: string[]): Setup {
  const inst = instance(over);
  const ctx = instanceCtx(inst, { localAddress: local });
  const s0 = initFsm(ctx.fsm);
  const backup = step(s0, { type: 'startup' }, 0).state;
  const master = onTimer(backup, nextDeadline(backup)?.at ?? 0).state;
  assert.equal(master.state, 'MASTER');
  return { name, ctx, family: inst.family, version: inst.version, peers, dsts, states: [backup, master] };
}

const SETUPS: Setup[] = [
  setup('v2 PASS multicast', { auth: { type: 'PASS', pass: 'secret12345' } }, '192.168.2.11', ['192.168.2.12', '192.168.2.200', '192.168.2.1'], [MCAST4]),
  setup('v3 IPv4 unicast, check_unicast_src', { version: 3, advertInt: 0.1, unicastPeers: [{ address: '10.0.0.2', minTtl: 250 }, { address: '10.0.0.3' }], checkUnicastSrc: true }, '10.0.0.1', ['10.0.0.2', '10.0.0.3', '10.0.0.9'], ['10.0.0.1', MCAST4]),
  setup(
    'v3 IPv6 multicast, strict',
    { version: 3, family: 6, strictMode: true, vips: [{ address: '2001:db8::64', family: 6, prefix: 64 }, { address: 'fe80::64', family: 6, prefix: 64 }] },
    'fe80::1',
    ['fe80::2', 'fe80::ffff', 'fe80::0:1'],
    ['ff02::12'],
  ),
];

function recheck(raw: Uint8Array, su: Setup, meta: RxMeta): void {
  if (raw.length < 8) return;
  const sum = computeChecksum(raw, su.version, su.family, { src: meta.src, dst: meta.dst });
  if (sum === undefined) return;
  raw[6] = sum >> 8;
  raw[7] = sum & 0xff;
}

describe('vrrp fuzz: 20,000 random and mutated packets', () => {
  it('no exception escapes; rejected packets never change state; accepted ones equal the advert event', () => {
    const rand = rng(0x5eed0051);
    const int = (n: number): number => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
    let accepted = 0;
    let transitions = 0;
    const reasons = new Map<string, number>();
    for (let i = 0; i < TOTAL; i++) {
      const su = SETUPS[i % SETUPS.length] as Setup;
      const s = pick(su.states);
      const sender = pick(su.peers);
      const meta: RxMeta = { src: sender, dst: pick(su.dsts) };
      const ttlRoll = rand();
      if (ttlRoll < 0.7) meta.ttl = 255;
      else if (ttlRoll < 0.9) meta.ttl = int(256);
      if (rand() < 0.01) meta.src = pick(['', 'garbage', '::1::2', '300.1.1.1', '1.2.3.4', 'fe80::1%']);

      // A valid advert to start from: our own bytes, as a peer would send them.
      const prio = pick([0, 1, 50, 99, 100, 101, 150, 254, 255, int(256)]);
      const intervalCs = su.version === 2 ? pick([100, 100, 100, 200]) : pick([10, 10, 100, 1, 4095]);
      let raw: Uint8Array = encodeAdvert(su.ctx, { priority: prio, intervalCs }, sender, meta.dst);
      const kind = int(8);
      switch (kind) {
        case 0: // intact
          break;
        case 1: // bit flips
          for (let k = 1 + int(8); k > 0; k--) {
            const at = int(raw.length);
            raw[at] = (raw[at] as number) ^ (1 << int(8));
          }
          break;
        case 2: // truncation
          raw = raw.subarray(0, int(raw.length));
          break;
        case 3: // extension
          raw = Uint8Array.from([...raw, ...Array.from({ length: 1 + int(40) }, () => int(256))]);
          break;
        case 4: // header field changes with a valid checksum, to get past it
          raw[int(6)] = int(256);
          if (rand() < 0.5) raw[3] = int(4);
          recheck(raw, su, meta);
          break;
        case 5: // wrong address list, checksummed
          raw[8 + int(raw.length - 8)] = int(256);
          recheck(raw, su, meta);
          break;
        case 6: // random bytes
          raw = Uint8Array.from({ length: int(120) }, () => int(256));
          break;
        default: // random bytes with a plausible header
          raw = Uint8Array.from({ length: int(60) }, () => int(256));
          if (raw.length >= 2) [raw[0], raw[1]] = [(su.version << 4) | 1, 51];
          if (rand() < 0.5) recheck(raw, su, meta);
      }

      let r: ReturnType<typeof onPacket>;
      try {
        decode(raw, su.family);
        validateAdvert(su.ctx.rx, raw, meta, s.masterAddr);
        r = onPacket(s, su.ctx, raw, meta, 10 * S + i);
      } catch (e) {
        assert.fail(`#${i} ${su.name}: threw ${String(e)} on [${[...raw].join(',')}] ${JSON.stringify(meta)}`);
      }
      reasons.set(r.rx.reason ?? 'ok', (reasons.get(r.rx.reason ?? 'ok') ?? 0) + 1);
      for (const v of Object.values(r.stats)) assert.ok(Number.isInteger(v) && v > 0);
      if (!r.rx.accept) {
        assert.equal(r.state, s, `#${i} ${su.name}: rejected (${r.rx.reason}) but the state changed`);
        assert.deepEqual(r.actions, []);
        continue;
      }
      accepted++;
      const p = r.rx.packet;
      assert.ok(p);
      const intervalOf = p.version === 2 ? p.advertIntSec * 100 : p.maxAdvertIntCs;
      const direct = step(s, { type: 'advert', priority: p.priority, intervalCs: intervalOf, src: canonicalIp(meta.src, su.family) ?? '' }, 10 * S + i);
      assert.deepEqual(r.actions, direct.actions);
      if (r.state.state !== s.state) transitions++;
      const d = nextDeadline(r.state);
      assert.ok(d === undefined || Number.isFinite(d.at));
    }
    // The mix must exercise both paths, many reasons and some transitions.
    assert.ok(accepted > 2_000, `accepted ${accepted}`);
    assert.ok(transitions > 100, `transitions ${transitions}`);
    for (const reason of ['checksum', 'length', 'short', 'otherVrid', 'version', 'ttl', 'addressList', 'unicastSource', 'castMismatch', 'badMeta']) {
      assert.ok((reasons.get(reason) ?? 0) > 0, `no packet rejected for ${reason}: ${JSON.stringify([...reasons])}`);
    }
  });
});
