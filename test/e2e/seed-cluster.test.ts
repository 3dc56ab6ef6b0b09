// The seed's system end to end: four nodes that are directors and real servers at once
// (nginx on each), each running `haldir run` on the seed's own keepalived.conf. Requests
// to the VIP on all four ports are answered by all four nodes; only the master
// balances (no LVS-DR ping-pong between directors); a node whose nginx stops leaves the
// rotation within the checker's bound and returns; the master's link going down moves
// the VIP and the balancing to lb2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canBuildLabs } from '../../src/lab/netns.js';
import { SEED_PORTS, SeedLab, UPSTREAMS } from '../../src/lab/seed-lab.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the seed cluster: lb1–lb4 as directors and real servers', { skip }, () => {
  let S: SeedLab;
  before(async () => {
    S = new SeedLab();
    for (const u of UPSTREAMS) await S.startUpstream(u);
    for (const n of S.nodes) await S.startNginx(n.name);
    for (const n of S.nodes) S.startDaemon(n.name);
  });
  after(async () => {
    await S?.close();
  });

  async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n${S.nodes.map((n) => `--- ${n.name}:\n${S.log(n.name).slice(-2500)}`).join('\n')}`);
      await sleep(100);
    }
    return Date.now() - t0;
  }
  const balancing = (name: string): boolean => {
    try {
      return S.lab.exec(name, 'nft', ['list', 'map', 'netdev', 'haldir', 'dr4']).includes('192.168.2.100 . tcp . 6443');
    } catch {
      return false;
    }
  };
  const upCount = (name: string): number => (S.log(name).match(/real server \S+ UP/g) ?? []).length;

  it('requests on all four ports succeed and spread over the four nodes; only the master balances', async () => {
    await until('lb1 master and balancing', () => S.holders().join() === 'lb1' && balancing('lb1'), 20000);
    await sleep(1000);
    for (const port of SEED_PORTS) {
      const p = S.probe(port, 40, { concurrency: 4 });
      assert.deepEqual(p.failures, {}, `port ${port}`);
      assert.deepEqual(Object.keys(p.byServer).sort(), ['lb1', 'lb2', 'lb3', 'lb4'], `port ${port}: ${JSON.stringify(p.byServer)}`);
    }
    for (const n of ['lb2', 'lb3', 'lb4']) assert.equal(balancing(n), false, `${n} balances too: it would forward again what lb1 forwarded to it`);
    void upCount;
  });

  it('nginx stopped on lb3: lb3 leaves the rotation within the checker bound, and returns', async () => {
    await S.stopNginx('lb3');
    const t0 = Date.now();
    // HTTP_GET on :80: delay_loop 3 + (nb_get_retry 2 + 1) × connect_timeout 2 + 2 × delay_before_retry 1 + 0.5 s.
    const bound = 3000 + 3 * 2000 + 2 * 1000 + 500;
    await until('lb3 out of every service', () => !/192\.168\.2\.13\/(80|443|8443|6443)\b/.test(S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), bound + 2000);
    const took = Date.now() - t0;
    assert.ok(took <= bound, `lb3 left after ${took} ms (bound ${bound} ms)`);
    for (const port of SEED_PORTS) {
      const p = S.probe(port, 20, { concurrency: 4 });
      assert.deepEqual(p.failures, {}, `port ${port} after lb3 left`);
      assert.equal(p.byServer.lb3, undefined);
    }
    await S.startNginx('lb3');
    await until('lb3 back', () => /192\.168\.2\.13\/80\b/.test(S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 8000);
    assert.ok((S.probe(80, 40, { concurrency: 4 }).byServer.lb3 ?? 0) > 0);
  });

  it('the two-level check: lb3\'s upstream stopped turns its /healthz 503 and lb3 leaves port 80; it returns with the upstream', async () => {
    await until('lb3 in port 80', () => /192\.168\.2\.13\/80\b/.test(S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 10000);
    await S.stopUpstream('192.168.3.33');
    const t0 = Date.now();
    await until('lb3 out of port 80', () => !/192\.168\.2\.13\/80\b/.test(S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 14000);
    const took = Date.now() - t0;
    // lb1's log arrives through a pipe this process reads between polls: wait for the line, do not race it.
    await until("lb1's log: lb3's HTTP_GET down with status 503", () => /192\.168\.2\.13\]:tcp:80.*status 503/.test(S.log('lb1')), 3000);
    const p = S.probe(80, 20, { concurrency: 4 });
    assert.deepEqual(p.failures, {});
    assert.equal(p.byServer.lb3, undefined, `lb3 still served port 80 (${took} ms after the upstream stopped)`);
    // Only HTTP_GET on :80 looks through nginx to the upstream; the TCP_CHECKs keep lb3 on the other ports.
    assert.ok((S.probe(8443, 20, { concurrency: 4 }).byServer.lb3 ?? 0) > 0);
    await S.startUpstream('192.168.3.33');
    await until('lb3 back in port 80', () => /192\.168\.2\.13\/80\b/.test(S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 10000);
  });

  it('master link down: lb2 takes the VIP and the balancing; requests succeed again', async () => {
    await until('all four back in rotation', () => (S.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir']).match(/192\.168\.2\.1[1-4]\/6443\b/g) ?? []).length >= 4, 10000);
    const t0 = Date.now();
    S.lab.setLink('lb1', false);
    try {
      await until('lb2 master and balancing', () => S.holders().includes('lb2') && balancing('lb2'), 10000);
      const took = Date.now() - t0;
      // master_down for priority 99: 3 × 1 s + (256 − 99)/256 s = 3.61 s.
      assert.ok(took <= 3613 + 1500, `takeover ${took} ms`);
      await sleep(500);
      const p = S.probe(80, 30, { concurrency: 3, timeoutMs: 3000 });
      // lb2 took lb1 (the master that fell silent) out of the real servers at once: nothing
      // is sent to the dead node while its health checks are still timing out.
      assert.deepEqual(p.failures, {}, JSON.stringify(p));
      assert.equal(p.byServer.lb1, undefined);
      assert.match(S.log('lb2'), /former master out of the real servers/);
    } finally {
      S.lab.setLink('lb1', true);
    }
  });
});
