// A real flapping server on loopback: a TCP listener that is up for 500 ms, down for
// 500 ms, over and over, checked by the real engine (real sockets, real timers) every
// 200 ms. keepalived's semantics (rise 1, fall 1) flap the pool with the server; rise 5 /
// fall 5 (haldir's extension, HAProxy's idea) never see five results in a row and keep the
// pool still. The fake-clock tests prove the counting rule; this proves the effect.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { loadClusterText } from '../../src/config/cluster/load.js';
import { createLogger } from '../../src/daemon/log.js';
import { HealthEngine, realTime } from '../../src/health/engine.js';
import { createRunCheck } from '../../src/health/checkers/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A listener on 127.0.0.1:port that flips between listening and closed every `phaseMs`. */
class Flapper {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  flips = 0;
  constructor(
    readonly port: number,
    private readonly phaseMs: number,
  ) {}
  async start(): Promise<void> {
    await this.open();
    const loop = async (): Promise<void> => {
      if (this.server) await this.close();
      else await this.open();
      this.flips++;
      this.timer = setTimeout(() => void loop(), this.phaseMs);
    };
    this.timer = setTimeout(() => void loop(), this.phaseMs);
  }
  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createServer((c) => c.destroy());
      s.once('error', reject);
      s.listen(this.port, '127.0.0.1', () => resolve());
      this.server = s;
    });
  }
  private close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.close();
  }
}

async function transitions(rise: number, fall: number, port: number): Promise<{ changes: string[]; flips: number }> {
  const yaml = `
cluster: t
nodes: [{ name: n1, address: 127.0.0.1 }]
defaults: { rise: ${rise}, fall: ${fall} }
checks:
  tcp: { type: TCP_CHECK, connect_timeout: 0.15, retry: 0, delay_before_retry: 0.1 }
services:
  - vip: 10.123.0.1
    port: ${port}
    protocol: tcp
    scheduler: rr
    mode: nat
    delay_loop: 0.2
    real_servers: [{ address: 127.0.0.1, port: ${port} }]
    checks: [tcp]
`;
  const r = loadClusterText(yaml, 'flap.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  const model = r.models.get('n1')!;
  const lines: string[] = [];
    const flapper = new Flapper(port, 500);
  await flapper.start();
  const engine = new HealthEngine(model, {
    runCheck: createRunCheck({}),
    ...realTime(),
    random: Math.random,
    log: createLogger((l) => void lines.push(l), 'debug'),
    bootstrapUs: 0,
  });
  engine.start();
  await sleep(6000);
  await engine.stop();
  await flapper.stop();
  return { changes: lines.filter((l) => /real server .* (UP|DOWN)/.test(l)), flips: flapper.flips };
}

describe('a real flapping server (up 500 ms, down 500 ms; checked every 200 ms)', () => {

  it('rise 1 / fall 1 (keepalived): the pool flaps with it', async () => {
    const { changes, flips } = await transitions(1, 1, 38411);
    assert.ok(flips >= 10, `the server flipped ${flips} times`);
    assert.ok(changes.length >= 6, `only ${changes.length} changes:\n${changes.join('\n')}`);
  });

  it('rise 5 / fall 5: never five results in a row, the pool stays still', async () => {
    const { changes, flips } = await transitions(5, 5, 38412);
    assert.ok(flips >= 10, `the server flipped ${flips} times`);
    assert.deepEqual(changes, [], 'the real server changed state');
  });
});
