// Neighbours and routes over rtnetlink inside a throwaway lab (src/lab/netns.ts): a
// director and two real servers with fixed MACs on one switch. The dump shows a pinged
// host with its MAC; resolveMac resolves a host the director has never talked to (IPv4
// and IPv6) by probing, fails within its timeout naming address and interface when no
// host answers, and refuses real servers behind a gateway or without a route;
// probeNeighbour leaves a permanent entry alone.
//
// Netlink code runs inside the director's namespace: this file re-runs itself there
// (`ip netns exec NS node neigh.test.js ARG` with HALDIR_NETLINK_CHILD=scenario), runs
// one scenario and prints its result as one JSON line.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { canBuildLabs, Lab } from '../../src/lab/netns.js';
import { resolveMac, sendDiscardDatagram, usableMac } from '../../src/netlink/neigh.js';
import { Rtnetlink } from '../../src/netlink/rtnetlink.js';

type Json = Record<string, unknown>;
const SELF = fileURLToPath(import.meta.url);
const CHILD_ENV = 'HALDIR_NETLINK_CHILD';

const errJson = (e: unknown): Json => {
  const err = e as Error & { code?: string };
  return { name: err.name, code: err.code, message: err.message };
};

// ---- inside the namespace -------------------------------------------------------

async function child(scenario: string, arg: Json): Promise<Json> {
  const rtnl = Rtnetlink.open();
  try {
    const eth0 = rtnl.getLink('eth0').ifindex;
    switch (scenario) {
      case 'dump':
        return { eth0, all: rtnl.dumpNeighbours(), v4: rtnl.dumpNeighbours(4), v6: rtnl.dumpNeighbours(6) };
      case 'resolve': {
        const address = arg.address as string;
        const before = rtnl.getNeighbour(address, eth0) ?? null;
        const t0 = performance.now();
        try {
          const r = await resolveMac(rtnl, address, arg.timeoutMs === undefined ? {} : { timeoutMs: arg.timeoutMs as number });
          return { eth0, before, ok: true, ...r, ms: performance.now() - t0, after: rtnl.getNeighbour(address, eth0) ?? null };
        } catch (e) {
          return { eth0, before, ok: false, error: errJson(e), ms: performance.now() - t0 };
        }
      }
      case 'route':
        try {
          return { eth0, ok: true, route: rtnl.routeGet(arg.address as string) };
        } catch (e) {
          return { eth0, ok: false, error: errJson(e) };
        }
      case 'probe': {
        const address = arg.address as string;
        rtnl.probeNeighbour(address, eth0);
        return { eth0, after: rtnl.getNeighbour(address, eth0) ?? null };
      }
      case 'datagram': {
        // The fallback trigger alone: one UDP datagram to port 9, then poll the entry.
        const address = arg.address as string;
        const t0 = performance.now();
        await sendDiscardDatagram(address);
        for (;;) {
          const n = rtnl.getNeighbour(address, eth0);
          const ms = performance.now() - t0;
          if (usableMac(n) || ms > 1000) return { eth0, neighbour: n ?? null, ms };
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      case 'get':
        return { eth0, neighbour: rtnl.getNeighbour(arg.address as string, eth0) ?? null };
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } finally {
    rtnl.close();
  }
}

// ---- the tests ------------------------------------------------------------------

/** Runs one scenario of this file inside a lab host; resolves with its JSON line. */
async function inHost(lab: Lab, host: string, scenario: string, arg: Json = {}): Promise<Json> {
  const proc: ChildProcess = lab.spawn(host, process.execPath, [SELF, JSON.stringify(arg)], {
    env: { ...process.env, [CHILD_ENV]: scenario },
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => proc.on('close', (c) => r(c)));
  if (code !== 0) throw new Error(`${scenario} in ${host} exited ${code}: ${err}${out}`);
  const last = out.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Json;
}

interface Neigh {
  ifindex: number;
  family: number;
  address: string;
  mac?: string;
  state: number;
  stateNames: string[];
  router?: boolean;
}

const MAC = { dir: '02:99:00:00:00:01', rs1: '02:99:00:00:00:21', rs2: '02:99:00:00:00:22' };

function tests(): void {
  const { ok, why } = canBuildLabs();
  describe('neighbours, routes and resolveMac in a lab', { skip: ok ? false : why }, () => {
    let lab: Lab | undefined;
    const L = (): Lab => lab!;
    before(() => {
      lab = new Lab();
      lab.addHost('dir', { ip: '10.99.0.1/24', mac: MAC.dir });
      lab.addHost('rs1', { ip: '10.99.0.21/24', mac: MAC.rs1 });
      lab.addHost('rs2', { ip: '10.99.0.22/24', mac: MAC.rs2 });
      lab.exec('dir', 'ip', ['addr', 'add', 'fd00:99::1/64', 'dev', 'eth0', 'nodad']);
      lab.exec('rs2', 'ip', ['addr', 'add', 'fd00:99::22/64', 'dev', 'eth0', 'nodad']);
      lab.exec('dir', 'ip', ['route', 'add', '192.0.2.0/24', 'via', '10.99.0.254']);
    });
    after(async () => {
      await lab?.close();
    });

    it('dumpNeighbours shows a pinged host with its MAC, like ip neigh', async () => {
      L().exec('dir', 'ping', ['-c', '1', '-W', '2', '10.99.0.21']);
      const r = await inHost(L(), 'dir', 'dump');
      const all = r.all as Neigh[];
      const rs1 = all.find((n) => n.address === '10.99.0.21');
      assert.ok(rs1, JSON.stringify(all));
      assert.equal(rs1.mac, MAC.rs1);
      assert.equal(rs1.family, 4);
      assert.equal(rs1.ifindex, r.eth0);
      assert.ok(rs1.stateNames.includes('reachable'), rs1.stateNames.join());
      assert.equal(rs1.router, undefined);
      // Families filter; the same entries as iproute2 sees.
      assert.ok((r.v4 as Neigh[]).every((n) => n.family === 4) && (r.v6 as Neigh[]).every((n) => n.family === 6));
      assert.equal((r.v4 as Neigh[]).length + (r.v6 as Neigh[]).length, all.length);
      const ip = JSON.parse(L().exec('dir', 'ip', ['-j', '-4', 'neigh', 'show'])) as { dst: string; lladdr?: string }[];
      assert.deepEqual(
        (r.v4 as Neigh[]).map((n) => `${n.address} ${n.mac}`).sort(),
        ip.map((n) => `${n.dst} ${n.lladdr}`).sort(),
      );
    });

    it('resolveMac resolves a host not yet in the table by probing (IPv4)', async (t) => {
      const r = await inHost(L(), 'dir', 'resolve', { address: '10.99.0.22', timeoutMs: 1000 });
      assert.equal(r.before, null, 'rs2 must not be in the table before');
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.mac, MAC.rs2);
      assert.equal(r.ifindex, r.eth0);
      assert.ok((r.ms as number) < 1000, `${r.ms} ms`);
      t.diagnostic(`resolved 10.99.0.22 in ${(r.ms as number).toFixed(1)} ms`);
      assert.ok(((r.after as Neigh).stateNames ?? []).includes('reachable'));
    });

    it('resolveMac resolves an IPv6 neighbour (neighbour solicitation)', async (t) => {
      const r = await inHost(L(), 'dir', 'resolve', { address: 'fd00:99::22', timeoutMs: 1000 });
      assert.equal(r.before, null);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.mac, MAC.rs2);
      assert.ok((r.ms as number) < 1000, `${r.ms} ms`);
      t.diagnostic(`resolved fd00:99::22 in ${(r.ms as number).toFixed(1)} ms`);
      assert.equal((r.after as Neigh).router, false);
    });

    it('the fallback trigger (a UDP datagram to port 9) resolves a neighbour too', async (t) => {
      L().exec('dir', 'ip', ['neigh', 'flush', 'dev', 'eth0', 'to', '10.99.0.21']);
      const r = await inHost(L(), 'dir', 'datagram', { address: '10.99.0.21' });
      assert.equal((r.neighbour as Neigh | null)?.mac, MAC.rs1, JSON.stringify(r));
      t.diagnostic(`resolved 10.99.0.21 by datagram in ${(r.ms as number).toFixed(1)} ms`);
    });

    it('resolveMac of an address with no host fails within the timeout, naming address and interface', async () => {
      const [short, dflt] = await Promise.all([
        inHost(L(), 'dir', 'resolve', { address: '10.99.0.99', timeoutMs: 500 }),
        inHost(L(), 'dir', 'resolve', { address: '10.99.0.98' }),
      ]);
      for (const [r, ms, addr] of [
        [short, 500, '10.99.0.99'],
        [dflt, 1000, '10.99.0.98'],
      ] as const) {
        assert.equal(r.ok, false, JSON.stringify(r));
        const err = r.error as Json;
        assert.equal(err.code, 'timeout');
        assert.equal(err.message, `no ARP reply from ${addr} on eth0 within ${ms} ms: is the real server up and on this segment?`);
        assert.ok((r.ms as number) >= ms - 5 && (r.ms as number) < ms + 300, `${r.ms} ms for a ${ms} ms timeout`);
      }
    });

    it('routeGet reports the gateway; resolveMac refuses a real server behind one', async () => {
      const route = await inHost(L(), 'dir', 'route', { address: '192.0.2.10' });
      assert.deepEqual(route.route, { ifindex: route.eth0, type: 1, gateway: '10.99.0.254', prefsrc: '10.99.0.1' });
      const onLink = await inHost(L(), 'dir', 'route', { address: '10.99.0.21' });
      assert.deepEqual(onLink.route, { ifindex: onLink.eth0, type: 1, prefsrc: '10.99.0.1' });
      const r = await inHost(L(), 'dir', 'resolve', { address: '192.0.2.10' });
      assert.deepEqual(r.error, {
        name: 'ResolveMacError',
        code: 'via-gateway',
        message: "real server 192.0.2.10 is reached via gateway 10.99.0.254: DR needs the real server on the director's L2 segment",
      });
    });

    it('routeGet without a route throws ENETUNREACH naming the address; a local address is refused', async () => {
      const r = await inHost(L(), 'dir', 'route', { address: '198.51.100.7' });
      assert.equal((r.error as Json).code, 'ENETUNREACH');
      assert.equal((r.error as Json).message, 'route lookup for 198.51.100.7: ENETUNREACH (network is unreachable)');
      const v6 = await inHost(L(), 'dir', 'route', { address: '2001:db8::7' });
      assert.equal((v6.error as Json).code, 'ENETUNREACH');
      const local = await inHost(L(), 'dir', 'resolve', { address: '10.99.0.1' });
      assert.equal((local.error as Json).code, 'not-unicast');
      assert.match((local.error as Json).message as string, /^real server 10\.99\.0\.1 is an address of this director/);
    });

    it('probeNeighbour leaves a permanent entry alone; getNeighbour of an unknown address is undefined', async () => {
      L().exec('dir', 'ip', ['neigh', 'add', '10.99.0.77', 'lladdr', '02:99:00:00:00:77', 'dev', 'eth0', 'nud', 'permanent']);
      const r = await inHost(L(), 'dir', 'probe', { address: '10.99.0.77' });
      assert.deepEqual((r.after as Neigh).stateNames, ['permanent']);
      assert.equal((r.after as Neigh).mac, '02:99:00:00:00:77');
      const g = await inHost(L(), 'dir', 'get', { address: '10.99.0.66' });
      assert.equal(g.neighbour, null);
    });
  });
}

const scenario = process.env[CHILD_ENV];
if (scenario) {
  child(scenario, JSON.parse(process.argv[2] ?? '{}') as Json).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stdout.write(`${JSON.stringify({ error: errJson(e) })}\n`);
      process.exitCode = 1;
    },
  );
} else tests();
