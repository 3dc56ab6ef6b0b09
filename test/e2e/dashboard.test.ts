// The dashboard end to end: the seed lab (lb1–lb4 running haldir with their APIs) and
// Debian's Chromium driven by playwright-core. The page is lb4's (a node that stays
// BACKUP and connected): Chromium in the root namespace reaches it through a loopback
// proxy to lb4's unix socket, as an operator's `ssh -L` would. nginx stopped on lb3:
// the page shows lb3's real server down within the checker's bound; lb1's link down:
// the page shows lb2 as the new master. Then the same page over TCP with the bearer
// token in the URL fragment (through a bridge into the client namespace), and without
// it the token form. Screenshots go to a temporary directory; their paths are printed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { canBuildLabs } from '../../src/lab/netns.js';
import { SeedLab, UPSTREAMS } from '../../src/lab/seed-lab.js';

const CHROMIUM = '/usr/bin/chromium';
const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : !existsSync(CHROMIUM) ? `${CHROMIUM} is not installed (apt-get install chromium; scripts/setup.sh does)` : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback TCP port that pipes each connection to a unix socket. */
function proxyTo(socketPath: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((c) => {
      const u = connect(socketPath);
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

const RS80 = (ip: string) => `[data-service="[192.168.2.100]:tcp:80"][data-server="[${ip}]:tcp:80"]`;

describe('dashboard: the seed lab in Chromium', { skip }, () => {
  let S: SeedLab;
  let ctx: BrowserContext;
  let page: Page;
  const proxies: Server[] = [];
  let bridge: ChildProcess | undefined;
  const shots = mkdtempSync(join(tmpdir(), 'haldir-dashboard-'));
  const profile = mkdtempSync(join(tmpdir(), 'haldir-chromium-'));
  let base = '';

  before(async () => {
    S = new SeedLab();
    for (const u of UPSTREAMS) await S.startUpstream(u);
    for (const n of S.nodes) await S.startNginx(n.name);
    for (const n of S.nodes) S.startDaemon(n.name);
    const t0 = Date.now();
    while (!(S.holders().join() === 'lb1' && existsSync(S.apiSocket('lb4')))) {
      if (Date.now() - t0 > 30000) throw new Error(`the lab did not come up:\n${S.nodes.map((n) => `--- ${n.name}:\n${S.log(n.name).slice(-2000)}`).join('\n')}`);
      await sleep(200);
    }
    const p = await proxyTo(S.apiSocket('lb4'));
    proxies.push(p.server);
    base = `http://127.0.0.1:${p.port}`;
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    page = await ctx.newPage();
  });

  after(async () => {
    await ctx?.close();
    for (const p of proxies) p.close();
    if (bridge) await S.lab.stop(bridge, 1000);
    await S?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const shot = async (p: Page, name: string): Promise<void> => {
    const f = join(shots, name);
    await p.screenshot({ path: f, fullPage: true });
    console.log(`# screenshot: ${f}`);
  };

  /** Waits until the page satisfies `fn`; returns the ms it took. */
  async function pageUntil(p: Page, what: string, fn: string, ms: number): Promise<number> {
    const t0 = Date.now();
    try {
      await p.waitForFunction(fn, undefined, { timeout: ms, polling: 50 });
    } catch {
      await shot(p, `failed-${what.replace(/\W+/g, '-')}.png`);
      throw new Error(`the page did not show ${what} within ${ms} ms\n${S.nodes.map((n) => `--- ${n.name}:\n${S.log(n.name).slice(-1500)}`).join('\n')}`);
    }
    return Date.now() - t0;
  }

  it('shows every node, lb1 as master, and the real servers up, live', async () => {
    await page.goto(`${base}/dashboard/`);
    await pageUntil(page, 'lb1 as master', `document.querySelector('#masters [data-instance="VI_1"]')?.dataset.master === 'lb1'`, 15000);
    await pageUntil(page, 'four nodes, lb2–lb4 BACKUP', `['lb2','lb3','lb4'].every(n => document.querySelector('#cluster tr[data-node="' + n + '"]')?.dataset.state === 'BACKUP') && document.querySelector('#cluster tr[data-node="lb1"]')?.dataset.state === 'MASTER'`, 10000);
    await pageUntil(page, 'every real server of :80 up', `document.querySelectorAll('tr[data-service="[192.168.2.100]:tcp:80"][data-state="up"]').length === 4`, 15000);
    assert.equal(await page.locator('#conn').getAttribute('data-conn'), 'live');
    assert.match((await page.locator('#node').textContent()) ?? '', /lb4|LB4/);
    assert.ok((await page.locator('#events li').count()) > 0, 'the event log has the start-up events');
  });

  it('nginx stopped on lb3: the page shows lb3 down within the check bound', async () => {
    await S.stopNginx('lb3');
    const t0 = Date.now();
    // HTTP_GET on :80 (as test/e2e/seed-cluster.test.ts): delay_loop 3 + (nb_get_retry 2 + 1) × connect_timeout 2 + 2 × delay_before_retry 1 + 0.5 s.
    const bound = 3000 + 3 * 2000 + 2 * 1000 + 500;
    const took = await pageUntil(page, 'lb3:80 down', `document.querySelector('${RS80('192.168.2.13')}')?.dataset.state === 'down'`, bound + 3000);
    const logged = /(\S+) info real server \[192\.168\.2\.13\]:tcp:80 DOWN/.exec(S.log('lb4'));
    const lag = logged ? Date.now() - Date.parse(logged[1]!) : undefined;
    console.log(`# lb3:80 down on the page ${took} ms after nginx stopped (bound ${bound} ms); the page showed it ≤ ${lag ?? '?'} ms after lb4's health check decided`);
    assert.ok(Date.now() - t0 <= bound + 1000, `${Date.now() - t0} ms`);
    await pageUntil(page, 'the DOWN event in the log', `[...document.querySelectorAll('#events li[data-type="realserver"]')].some(li => /192\\.168\\.2\\.13\\]:tcp:80 of .* DOWN/.test(li.textContent))`, 2000);
    assert.match((await page.locator(RS80('192.168.2.13')).textContent()) ?? '', /HTTP_GET: /);
    await shot(page, 'lb3-down.png');
  });

  it("lb1's link down: the page shows lb2 as the new master", async () => {
    S.lab.setLink('lb1', false);
    const took = await pageUntil(page, 'lb2 as master', `document.querySelector('#masters [data-instance="VI_1"]')?.dataset.master === 'lb2'`, 10000);
    console.log(`# lb2 master on the page ${took} ms after lb1's link went down (VRRP master_down 3.61 s)`);
    assert.ok(took < 3610 + 2500, `${took} ms`);
    await pageUntil(page, 'lb2 MASTER and lb1 unreachable in the node table', `document.querySelector('#cluster tr[data-node="lb2"]')?.dataset.state === 'MASTER' && document.querySelector('#cluster tr[data-node="lb1"]')?.dataset.state === 'unreachable'`, 5000);
    await shot(page, 'dashboard.png');
  });

  it('over TCP: the token from the URL fragment works (and leaves the address bar); without it, the token form', async () => {
    // Root namespace → unix socket → (client namespace) TCP → lb4:9440: the browser speaks to the TCP API.
    const sock = join(S.dir, 'bridge.sock');
    const code = `const net=require('net');net.createServer(c=>{const t=net.connect(9440,'192.168.2.14');c.pipe(t).pipe(c);c.on('error',()=>t.destroy());t.on('error',()=>c.destroy())}).listen(${JSON.stringify(sock)},()=>console.log('ready'))`;
    bridge = S.lab.spawn('client', process.execPath, ['-e', code]);
    await new Promise<void>((res) => bridge!.stdout!.once('data', () => res()));
    const p = await proxyTo(sock);
    proxies.push(p.server);
    const tcp = `http://127.0.0.1:${p.port}`;
    const anon = await ctx.newPage();
    await anon.goto(`${tcp}/dashboard/`);
    await pageUntil(anon, 'the token form', `!document.querySelector('#login').hidden && document.querySelector('#conn').dataset.conn === 'lost'`, 5000);
    await anon.close();
    const withToken = await ctx.newPage();
    await withToken.goto(`${tcp}/dashboard/#token=${S.apiToken}`);
    await pageUntil(withToken, 'live data over TCP', `document.querySelector('#conn').dataset.conn === 'live' && document.querySelector('#masters [data-instance="VI_1"]')?.dataset.master === 'lb2'`, 8000);
    assert.ok(!withToken.url().includes(S.apiToken), 'the token left the address bar');
    await withToken.close();
  });
});
