// VRRP on real sockets in network namespaces: four haldir directors with the
// seed's priorities, then mixed clusters with real keepalived 2.2.7 (v2 with
// PASS, v3, unicast), and bad packets that must be dropped and counted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canBuildLabs } from '../../src/lab/netns.js';
import { sleep, VrrpLab, type VrrpVariant } from '../../src/lab/vrrp-lab.js';

const lab = canBuildLabs();
const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;
const skip = !lab.ok ? lab.why : undefined;

/** keepalived / RFC 3768: master_down = 3 × advert_int + (256 − P)/256 s (v2); v3 scales the skew by advert_int. */
function masterDownMs(v: VrrpVariant, priority: number): number {
  const skew = v.version === 2 ? (256 - priority) / 256 : ((256 - priority) * v.advertInt) / 256;
  return (3 * v.advertInt + skew) * 1000;
}

describe('VRRP in network namespaces: four haldir nodes', { skip }, () => {
  const v: VrrpVariant = { version: 2, advertInt: 1, auth: 'secret' };
  let L: VrrpLab | undefined;
  before(() => void (L = new VrrpLab(['haldir', 'haldir', 'haldir', 'haldir'], v)));
  after(() => L?.close());

  it('lb1 (priority 100) is the only MASTER; the client resolves the VIP to lb1', async () => {
    L!.start();
    await L!.waitHolder('lb1', 10000);
    await sleep(300);
    assert.deepEqual(L!.holders(), ['lb1']);
    L!.lab.exec('client', 'ping', ['-c', '1', '-W', '1', '10.99.0.100']);
    assert.equal(L!.neighMac(), L!.director('lb1').mac);
  });

  it('master link down: lb2 takes over within master_down + 100 ms and the client follows', async () => {
    L!.watch();
    const t0 = Date.now();
    L!.lab.setLink('lb1', false);
    await L!.waitHolder('lb2', 8000);
    const took = (await L!.transitionAt('lb2', 'MASTER', t0)) - t0;
    const limit = masterDownMs(v, 99) + 100;
    assert.ok(took <= limit, `lb2 became MASTER ${took} ms after the link went down (limit ${limit.toFixed(0)})`);
    // The gratuitous ARPs moved the client's existing neighbour entry.
    await L!.waitFor(() => L!.neighMac() === L!.director('lb2').mac, 2000, "client's neighbour entry to move to lb2");
  });

  it('lb1 back: it preempts, and lb2 gives the VIP up', async () => {
    L!.lab.setLink('lb1', true);
    await L!.waitHolder('lb1', 10000);
    await L!.waitFor(() => L!.neighMac() === L!.director('lb1').mac, 2000, "client's entry back on lb1");
  });

  it('SIGTERM of the master: priority 0, lb2 takes over within skew + 100 ms', async () => {
    await sleep(1500);
    const t0 = Date.now();
    await L!.stopOne(L!.director('lb1'));
    await L!.waitHolder('lb2', 5000);
    const took = (await L!.transitionAt('lb2', 'MASTER', t0)) - t0;
    const limit = ((256 - 99) / 256) * 1000 + 100;
    assert.ok(took <= limit, `lb2 became MASTER ${took} ms after SIGTERM (limit ${limit.toFixed(0)})`);
    assert.ok(L!.director('lb1').output.some((l) => /MASTER -> STOP/.test(l)), 'lb1 logged its stop');
  });

  it('adverts with wrong auth, another VRID, TTL 254, a bad checksum or truncated are dropped and counted', async () => {
    const l = L!;
    await l.waitHolder('lb2', 3000);
    const status = async (name: string) => {
      const d = l.director(name);
      const n = d.output.length;
      d.proc!.kill('SIGUSR2');
      await l.waitFor(() => d.output.slice(n).some((x) => x.startsWith('{"status"')), 2000, `${name} status`);
      return JSON.parse(d.output.slice(n).find((x) => x.startsWith('{"status"'))!) as { status: { state: string; stats: Record<string, number> }[]; unknownVrid: number };
    };
    const before = await status('lb3');
    const inject = fileURLToPath(new URL('./vrrp-inject.js', import.meta.url));
    const sent = JSON.parse(l.lab.exec('client', process.execPath, [inject, 'eth0', '10.99.0.10', 'secret'])) as Record<string, number>;
    assert.ok(Object.values(sent).every((n) => n > 0), JSON.stringify(sent));
    await sleep(300);
    const afterSt = await status('lb3');
    const d = (k: string) => afterSt.status[0]!.stats[k]! - before.status[0]!.stats[k]!;
    assert.equal(d('vrrpStatsAuthFailures'), 1, 'wrong password');
    assert.equal(afterSt.unknownVrid - before.unknownVrid, 1, 'VRID 77');
    assert.equal(d('vrrpv3StatisticsIpTtlErrors'), 1, 'TTL 254');
    assert.equal(d('vrrpv3RouterChecksumErrors'), 1, 'bad checksum');
    assert.equal(d('vrrpv3StatisticsPacketLengthErrors'), 1, 'truncated');
    // Each was priority 254: had one been accepted, lb3 would follow the injector and lb2 would yield.
    assert.equal(afterSt.status[0]!.state, 'BACKUP');
    await sleep(500);
    assert.deepEqual(l.holders(), ['lb2']);
  });

  it('no two masters outside the takeover instant', () => {
    assert.ok(L!.longestDualMaster() <= 300, `two VIP holders for ${L!.longestDualMaster()} ms`);
  });
});

const variants: [string, VrrpVariant][] = [
  ['v2, auth PASS, multicast', { version: 2, advertInt: 1, auth: 'pw12' }],
  ['v3 at 1 s, multicast', { version: 3, advertInt: 1 }],
  ['v2, unicast', { version: 2, advertInt: 1, unicast: true }],
  ['v3, IPv6 VIP over ff02::12', { version: 3, advertInt: 1, ipv6: true }],
];

for (const [name, v] of variants) {
  describe(`mixed cluster with keepalived 2.2.7: ${name}`, { skip: skip ?? (!hasKeepalived && 'keepalived is not installed') }, () => {
    // Interleaved by priority: lb1 haldir 100, lb2 keepalived 99, lb3 haldir 98, lb4 keepalived 97.
    let L: VrrpLab | undefined;
    before(() => void (L = new VrrpLab(['haldir', 'keepalived', 'haldir', 'keepalived'], v)));
    after(() => L?.close());

    it('the highest priority is MASTER whichever program runs it; failover both ways', async () => {
      const l = L!;
      l.start();
      await l.waitHolder('lb1', 12000);
      l.watch();
      // haldir → keepalived
      l.lab.setLink('lb1', false);
      await l.waitHolder('lb2', 8000);
      // keepalived → haldir
      l.lab.setLink('lb2', false);
      await l.waitHolder('lb3', 8000);
      // haldir → keepalived
      l.lab.setLink('lb3', false);
      await l.waitHolder('lb4', 8000);
      // Everyone back: keepalived lb4 yields to haldir lb1 (preempt).
      for (const n of ['lb1', 'lb2', 'lb3']) l.lab.setLink(n, true);
      await l.waitHolder('lb1', 12000);
      await sleep(2500);
      assert.deepEqual(l.holders(), ['lb1']);
      assert.ok(l.longestDualMaster() <= 300, `two VIP holders for ${l.longestDualMaster()} ms\n${l.dump()}`);
    });

    it('haldir accepted every advert keepalived sent (no drops counted)', async () => {
      const l = L!;
      const lb3 = l.director('lb3');
      lb3.proc!.kill('SIGUSR2');
      await l.waitFor(() => lb3.output.some((x) => x.startsWith('{"status"')), 2000, 'the status line');
      const st = JSON.parse(lb3.output.filter((x) => x.startsWith('{"status"')).pop()!) as { status: { stats: Record<string, number> }[] };
      const s = st.status[0]!.stats;
      assert.ok(s['vrrpv3StatisticsRcvdAdvertisements']! > 0, 'it received adverts');
      for (const k of ['vrrpv3RouterChecksumErrors', 'vrrpv3RouterVersionErrors', 'vrrpStatsAuthFailures', 'vrrpv3StatisticsIpTtlErrors', 'vrrpv3StatisticsPacketLengthErrors', 'vrrpv3StatisticsAdvIntervalErrors'])
        assert.equal(s[k], 0, `${k}: ${JSON.stringify(s)}`);
    });
  });
}
