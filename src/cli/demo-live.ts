// `haldir demo` on a machine that can build network namespaces: the seed's cluster
// comes alive (lab/seed-lab.ts) and a scripted tour runs — steady traffic on all four
// ports, the master's link cut and the takeover, a node's nginx stopped and its
// removal, both restored — printing what happens with timestamps and the measured
// client-visible gaps, then everything is removed.
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { SEED_PORTS, SEED_VIP, SeedLab, UPSTREAMS, upstreamOf } from '../lab/seed-lab.js';
import { startTraffic, type TrafficTick } from '../lab/traffic-client.js';
import { EXIT, type IO } from './main.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Tick = TrafficTick;

export async function liveDemo(io: IO): Promise<number> {
  const t0 = Date.now();
  const ts = (): string => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`;
  const say = (s: string): void => io.out(`${ts()} ${s}\n`);
  let S: SeedLab | undefined;
  let traffic: ChildProcess | undefined;
  const ticks: Tick[] = [];
  let onTick: ((t: Tick) => void) | undefined;
  const showTick = (t: Tick): void => {
    const nodes = ['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${n}:${String(t.byNode[n] ?? 0).padStart(3)}`).join(' ');
    const err = Object.keys(t.errors).length ? `  errors ${Object.entries(t.errors).map(([k, v]) => `${k}×${v}`).join(', ')}` : '';
    say(`   traffic  ok ${String(t.ok).padStart(3)}  fail ${String(t.fail).padStart(3)}  ${nodes}  p50 ${t.p50} ms  gap ${t.maxGapMs} ms${err}`);
  };
  const watch = async (seconds: number, until?: (t: Tick) => boolean): Promise<Tick[]> => {
    const seen: Tick[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        onTick = undefined;
        resolve();
      }, seconds * 1000);
      onTick = (t) => {
        seen.push(t);
        showTick(t);
        if (until?.(t)) {
          clearTimeout(timer);
          onTick = undefined;
          resolve();
        }
      };
    });
    return seen;
  };
  const cleanup = async (): Promise<void> => {
    if (!S) return;
    say('cleaning up: stopping every process by PID, removing the namespaces');
    await S.close();
    S = undefined;
  };
  const onSignal = (): void => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say('building the seed cluster in network namespaces: client 192.168.2.10, lb1–lb4 192.168.2.11–14 on one switch');
    S = new SeedLab((m) => say(`  ${m}`));
    for (const u of UPSTREAMS) await S.startUpstream(u);
    say(`  upstreams ${UPSTREAMS.join(', ')} answering on :8080`);
    for (const n of S.nodes) {
      await S.startNginx(n.name);
      say(`  ${n.name}: nginx on ${SEED_PORTS.join('/')} (443 with TLS), /healthz → 200 while upstream ${upstreamOf(n.name)} answers`);
    }
    for (const n of S.nodes) {
      S.startDaemon(n.name);
      say(`  ${n.name}: haldir run examples/seed/${n.name}.conf --dataplane nftables`);
    }
    const lab = S;
    const waitFor = async (what: string, cond: () => boolean, ms: number): Promise<number> => {
      const start = Date.now();
      while (!cond()) {
        if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
        await sleep(100);
      }
      return Date.now() - start;
    };
    const balancing = (name: string): boolean => {
      try {
        return lab.lab.exec(name, 'nft', ['list', 'map', 'netdev', 'haldir', 'dr4']).includes(`${SEED_VIP} . tcp . 6443`);
      } catch {
        return false;
      }
    };
    await waitFor('a master', () => lab.holders().length === 1 && balancing(lab.holders()[0]!), 20000);
    say(`${lab.holders()[0]} is MASTER (priority 100) and balances; lb2–lb4 are BACKUP and only serve`);
    io.out(lab.lab.exec('lb1', process.execPath, [fileURLToPath(new URL('../../../bin/haldir.js', import.meta.url)), 'dataplane', 'show']).trimEnd().replace(/^/gm, '          ') + '\n');

    traffic = startTraffic(lab.lab, 'client', { vip: SEED_VIP, ports: SEED_PORTS }, (t) => {
      ticks.push(t);
      onTick?.(t);
    });
    say('== steady traffic: one request after another on each of the four ports, from the client');
    await watch(3);

    say('== fault: lb1 link down (the master vanishes)');
    const down = Date.now();
    lab.lab.setLink('lb1', false);
    const took = await waitFor('lb2 takeover', () => lab.holders().includes('lb2') && balancing('lb2'), 10000);
    say(`lb2 is MASTER and balancing ${(took / 1000).toFixed(2)} s after the link went down (master_down for priority 99: 3.61 s)`);
    const after = await watch(15, (t) => t.fail === 0 && t.at > down + 4000);
    const gap = Math.max(0, ...after.map((t) => t.maxGapMs));
    say(`client-visible gap: ${gap} ms at most on one port (requests to lb1 fail until lb2's checks remove it)`);

    say('== restore: lb1 link up (lb1 has the higher priority and preempts)');
    lab.lab.setLink('lb1', true);
    await waitFor('lb1 back as master', () => lab.holders().join() === 'lb1' && balancing('lb1'), 15000);
    say('lb1 is MASTER again');
    await watch(10, (t) => t.fail === 0 && (t.byNode.lb1 ?? 0) > 0 && (t.byNode.lb4 ?? 0) > 0);

    say('== fault: nginx stopped on lb3');
    const stopAt = Date.now();
    await lab.stopNginx('lb3');
    const left = await waitFor('lb3 removed', () => !/192\.168\.2\.13\/80\b/.test(lab.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 20000);
    say(`lb3 left the rotation ${(left / 1000).toFixed(1)} s after nginx stopped (bound: delay_loop 3 + 3 × connect_timeout 2 + 2 × delay_before_retry 1 = 11 s)`);
    await watch(3);
    say('== restore: nginx started on lb3');
    await lab.startNginx('lb3');
    const back = await waitFor('lb3 back', () => /192\.168\.2\.13\/80\b/.test(lab.lab.exec('lb1', 'nft', ['list', 'table', 'netdev', 'haldir'])), 20000);
    say(`lb3 is back in the rotation ${(back / 1000).toFixed(1)} s later`);
    await watch(3, (t) => (t.byNode.lb3 ?? 0) > 0);
    const total = ticks.filter((t) => t.at >= stopAt).reduce((a, t) => ({ ok: a.ok + t.ok, fail: a.fail + t.fail }), { ok: 0, fail: 0 });
    say(`during the nginx fault: ${total.ok} requests answered, ${total.fail} failed (sent to lb3 before its checks failed)`);
    return EXIT.ok;
  } catch (e) {
    io.err(`haldir demo: ${(e as Error).message}\n`);
    return EXIT.invalid;
  } finally {
    if (traffic && S) await S.lab.stop(traffic, 1000);
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
