// ctnetlink inside a throwaway lab (src/lab/netns.ts): a director namespace DNATs
// VIP 10.99.0.100 / fd00:99::100 (nft, output hook) to a real server namespace. A held
// TCP connection is one ESTABLISHED, DNATed entry (tuples, status, mark, timeout decoded)
// and counts as 1 active for that VIP → real server; once closed it is 0 active (1
// inactive in TIME_WAIT). UDP counts as active, IPv6 works the same, the family and
// kernel-side (status, mark) filters hold, EPERM without CAP_NET_ADMIN is explained, and
// a 20 000-entry dump is timed, whole and filtered to DNATed entries.
//
// Netlink code runs inside the lab's namespaces: this file re-runs itself there
// (`ip netns exec NS node conntrack.test.js ARG` with HALDIR_CONNTRACK_CHILD=scenario).
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { canBuildLabs, Lab } from '../../src/lab/netns.js';
import { addon } from '../../src/native/addon.js';
import { AF_INET, SOCK_DGRAM } from '../../src/native/constants.js';
import { sockaddrIn } from '../../src/native/sockaddr.js';
import {
  type ConnCounts,
  type ConntrackEntry,
  type ConntrackFilter,
  countNatConnections,
  DST_NAT_FILTER,
  dumpConntrack,
  IPS_ASSURED,
  IPS_CONFIRMED,
  IPS_DST_NAT,
  IPS_SEEN_REPLY,
  type NatService,
} from '../../src/netlink/conntrack.js';

type Json = Record<string, unknown>;
const SELF = fileURLToPath(import.meta.url);
const CHILD_ENV = 'HALDIR_CONNTRACK_CHILD';
const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const errJson = (e: unknown): Json => {
  const err = e as Error & { code?: string };
  return { name: err.name, code: err.code, message: err.message };
};
const countsJson = (m: Map<string, Map<string, ConnCounts>>): Record<string, Record<string, ConnCounts>> =>
  Object.fromEntries([...m].map(([k, v]) => [k, Object.fromEntries(v)]));

// ---- inside the namespaces ----------------------------------------------------

async function child(scenario: string, arg: Json): Promise<void> {
  switch (scenario) {
    case 'server': {
      // TCP 8080 and UDP 5353 (echo), dual stack; runs until killed.
      const tcp = net.createServer((s) => s.on('error', () => {}));
      await new Promise<void>((r) => tcp.listen({ port: 8080, host: '::', ipv6Only: false }, r));
      const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
      udp.on('message', (msg, from) => udp.send(msg, from.port, from.address));
      await new Promise<void>((r) => udp.bind(5353, '::', r));
      out({ ready: true });
      break;
    }
    case 'hold': {
      // One TCP connection held open; SIGTERM closes it (actively: this side gets TIME_WAIT).
      const sock = net.connect(arg.port as number, arg.host as string);
      sock.on('error', (e) => {
        out({ error: errJson(e) });
        process.exit(1);
      });
      await new Promise<void>((r) => sock.on('connect', r));
      process.on('SIGTERM', () => sock.end());
      sock.on('close', () => process.exit(0));
      out({ connected: true, localPort: sock.localPort });
      break;
    }
    case 'dump': {
      if (arg.udp) {
        // One datagram to the VIP and its echo (an entry with a reply).
        const { host, port } = arg.udp as { host: string; port: number };
        const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
        const echoed = new Promise<void>((r) => {
          s.on('message', () => r());
          setTimeout(r, 1000);
        });
        s.send('ping', port, host);
        await echoed;
        s.close();
      }
      const family = arg.family as 4 | 6 | undefined;
      try {
        const entries = dumpConntrack(family, arg.filter as ConntrackFilter | undefined);
        const counts = countNatConnections(entries, (arg.services as NatService[] | undefined) ?? []);
        out({ ok: true, entries, counts: countsJson(counts) });
      } catch (e) {
        out({ ok: false, error: errJson(e) });
      }
      break;
    }
    case 'bench': {
      // n UDP flows to 127.0.0.1 (one conntrack entry each), then timed dumps.
      const n = arg.n as number;
      const A = addon();
      const fd = A.socket(AF_INET, SOCK_DGRAM, 0);
      const payload = Buffer.from('x');
      for (let i = 0; i < n; i++) {
        const port = 10000 + (i % 50000);
        const rc = A.sendto(fd, payload, sockaddrIn(`127.0.${1 + Math.floor(i / 50000)}.1`, port));
        if (rc < 0) throw new Error(`sendto: ${rc}`);
      }
      A.close(fd);
      const runs: number[] = [];
      const natRuns: number[] = [];
      let entries: ConntrackEntry[] = [];
      let nat: ConntrackEntry[] = [];
      for (let k = 0; k < 3; k++) {
        let t0 = performance.now();
        entries = dumpConntrack(4);
        runs.push(performance.now() - t0);
        t0 = performance.now();
        nat = dumpConntrack(4, DST_NAT_FILTER);
        natRuns.push(performance.now() - t0);
      }
      const t0 = performance.now();
      countNatConnections(entries, [{ vip: '10.99.0.100', port: 80, proto: 'tcp' }]);
      out({ entries: entries.length, runs, countMs: performance.now() - t0, natEntries: nat.length, natRuns });
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

// ---- the tests ------------------------------------------------------------------

const RULES = `
table ip haldir_t {
  chain out {
    type nat hook output priority -100; policy accept;
    ip daddr 10.99.0.100 tcp dport 80 ct mark set 0x2a dnat to 10.99.0.21:8080
    ip daddr 10.99.0.100 udp dport 53 dnat to 10.99.0.21:5353
  }
}
table ip6 haldir_t6 {
  chain out {
    type nat hook output priority -100; policy accept;
    ip6 daddr fd00:99::100 tcp dport 80 dnat to [fd00:99::21]:8080
  }
}
`;

const SERVICES: NatService[] = [
  { vip: '10.99.0.100', port: 80, proto: 'TCP' },
  { vip: '10.99.0.100', port: 53, proto: 'udp' },
  { vip: 'fd00:99:0::100', port: 80, proto: 'tcp' },
];

function spawnChild(lab: Lab, host: string, scenario: string, arg: Json, wrap: string[] = []): ChildProcess {
  const argv = [...wrap, process.execPath, SELF, JSON.stringify(arg)];
  return lab.spawn(host, argv[0]!, argv.slice(1), { env: { ...process.env, [CHILD_ENV]: scenario } });
}

/** The first JSON line a child prints. */
function firstLine(proc: ChildProcess, timeoutMs = 10_000): Promise<Json> {
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`no line from child within ${timeoutMs} ms: ${err}`)), timeoutMs);
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (line) => {
      clearTimeout(timer);
      rl.close();
      resolve(JSON.parse(line) as Json);
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited ${code} before printing: ${err}`));
    });
  });
}

/** Runs a scenario to completion; resolves with its (only) JSON line. */
async function run(lab: Lab, host: string, scenario: string, arg: Json = {}, wrap: string[] = []): Promise<Json> {
  const proc = spawnChild(lab, host, scenario, arg, wrap);
  const [line] = await Promise.all([firstLine(proc, 60_000), new Promise((r) => proc.once('close', r))]);
  return line;
}

interface DumpResult {
  ok: boolean;
  entries: ConntrackEntry[];
  counts: Record<string, Record<string, ConnCounts>>;
  error?: Json;
}

function tests(): void {
  const { ok, why } = canBuildLabs();
  let skip: string | false = ok ? false : (why ?? 'cannot build labs');
  if (!skip)
    try {
      execFileSync('nft', ['--version'], { stdio: 'ignore' });
    } catch {
      skip = 'nft (nftables) is not installed';
    }
  describe('conntrack in a lab', { skip }, () => {
    let lab: Lab | undefined;
    let tmp: string | undefined;
    const L = (): Lab => lab!;
    let hold4: ChildProcess | undefined;
    let port4 = 0;
    before(async () => {
      lab = new Lab();
      lab.addHost('dir', { ip: '10.99.0.1/24', mac: '02:99:00:00:00:01' });
      lab.addHost('rs', { ip: '10.99.0.21/24', mac: '02:99:00:00:00:21' });
      lab.exec('dir', 'ip', ['addr', 'add', 'fd00:99::1/64', 'dev', 'eth0', 'nodad']);
      lab.exec('rs', 'ip', ['addr', 'add', 'fd00:99::21/64', 'dev', 'eth0', 'nodad']);
      tmp = mkdtempSync(join(tmpdir(), 'haldir-ct-'));
      writeFileSync(join(tmp, 'rules.nft'), RULES);
      lab.exec('dir', 'nft', ['-f', join(tmp, 'rules.nft')]);
      const server = spawnChild(lab, 'rs', 'server', {});
      assert.deepEqual(await firstLine(server), { ready: true });
    });
    after(async () => {
      await lab?.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('a held TCP connection to the VIP is one DNATed ESTABLISHED entry: 1 active for VIP → RS', async () => {
      hold4 = spawnChild(L(), 'dir', 'hold', { host: '10.99.0.100', port: 80 });
      const c = await firstLine(hold4);
      assert.equal(c.connected, true, JSON.stringify(c));
      port4 = c.localPort as number;
      const r = (await run(L(), 'dir', 'dump', { services: SERVICES })) as unknown as DumpResult;
      assert.ok(r.ok, JSON.stringify(r.error));
      const e = r.entries.find((x) => x.proto === 6 && x.orig.sport === port4);
      assert.ok(e, JSON.stringify(r.entries));
      assert.deepEqual(e.orig, { src: '10.99.0.1', dst: '10.99.0.100', sport: port4, dport: 80 });
      assert.deepEqual(e.reply, { src: '10.99.0.21', dst: '10.99.0.1', sport: 8080, dport: port4 });
      const want = IPS_DST_NAT | IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED;
      assert.equal(e.status & want, want, `status 0x${e.status.toString(16)}`);
      assert.equal(e.family, 4);
      assert.equal(e.tcpState, 'ESTABLISHED');
      assert.equal(e.mark, 0x2a);
      assert.ok(e.timeout! > 400_000, `timeout ${e.timeout}`); // nf_conntrack_tcp_timeout_established: 5 days
      assert.deepEqual(r.counts['tcp:[10.99.0.100]:80'], { '[10.99.0.21]:8080': { active: 1, inactive: 0 } });
      assert.deepEqual(r.counts['tcp:[fd00:99::100]:80'], {});
    });

    it('kernel-side filters: DST_NAT status and ct mark', async () => {
      const nat = (await run(L(), 'dir', 'dump', { filter: DST_NAT_FILTER, services: SERVICES })) as unknown as DumpResult;
      assert.ok(nat.ok, JSON.stringify(nat.error));
      assert.ok(nat.entries.length >= 1 && nat.entries.every((e) => e.status & IPS_DST_NAT));
      assert.deepEqual(nat.counts['tcp:[10.99.0.100]:80'], { '[10.99.0.21]:8080': { active: 1, inactive: 0 } });
      const marked = (await run(L(), 'dir', 'dump', { filter: { mark: 0x2a } })) as unknown as DumpResult;
      assert.deepEqual(
        marked.entries.map((e) => [e.mark, e.orig.sport]),
        [[0x2a, port4]],
      );
      const none = (await run(L(), 'dir', 'dump', { filter: { mark: 0x2b } })) as unknown as DumpResult;
      assert.deepEqual(none.entries, []);
    });

    it('after the connection closes: 0 active for that RS (1 inactive, TIME_WAIT)', async () => {
      assert.ok(hold4, 'needs the previous test');
      await L().stop(hold4);
      let r: DumpResult | undefined;
      for (let i = 0; i < 40; i++) {
        r = (await run(L(), 'dir', 'dump', { services: SERVICES })) as unknown as DumpResult;
        const e = r.entries.find((x) => x.proto === 6 && x.orig.sport === port4);
        if (!e || e.tcpState === 'TIME_WAIT' || e.tcpState === 'CLOSE') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const dest = r!.counts['tcp:[10.99.0.100]:80']!['[10.99.0.21]:8080'];
      assert.equal(dest?.active ?? 0, 0, JSON.stringify(r!.counts));
      const e = r!.entries.find((x) => x.proto === 6 && x.orig.sport === port4);
      assert.equal(e?.tcpState, 'TIME_WAIT');
      assert.deepEqual(dest, { active: 0, inactive: 1 });
    });

    it('a UDP flow through the VIP counts as active', async () => {
      const r = (await run(L(), 'dir', 'dump', { services: SERVICES, udp: { host: '10.99.0.100', port: 53 } })) as unknown as DumpResult;
      assert.ok(r.ok, JSON.stringify(r.error));
      const e = r.entries.find((x) => x.proto === 17 && x.orig.dport === 53);
      assert.ok(e);
      assert.deepEqual([e.reply.src, e.reply.sport, e.tcpState], ['10.99.0.21', 5353, undefined]);
      assert.deepEqual(r.counts['udp:[10.99.0.100]:53'], { '[10.99.0.21]:5353': { active: 1, inactive: 0 } });
    });

    it('IPv6: a held connection counts for [fd00:99::21]:8080; the family filter holds', async () => {
      const hold6 = spawnChild(L(), 'dir', 'hold', { host: 'fd00:99::100', port: 80 });
      const c = await firstLine(hold6);
      assert.equal(c.connected, true, JSON.stringify(c));
      const all = (await run(L(), 'dir', 'dump', { services: SERVICES })) as unknown as DumpResult;
      assert.deepEqual(all.counts['tcp:[fd00:99::100]:80'], { '[fd00:99::21]:8080': { active: 1, inactive: 0 } });
      const e = all.entries.find((x) => x.family === 6 && x.orig.sport === c.localPort);
      assert.deepEqual(e?.orig, { src: 'fd00:99::1', dst: 'fd00:99::100', sport: c.localPort, dport: 80 });
      assert.deepEqual(e?.reply, { src: 'fd00:99::21', dst: 'fd00:99::1', sport: 8080, dport: c.localPort });
      const v4 = (await run(L(), 'dir', 'dump', { family: 4 })) as unknown as DumpResult;
      const v6 = (await run(L(), 'dir', 'dump', { family: 6 })) as unknown as DumpResult;
      assert.ok(v4.entries.length > 0 && v4.entries.every((x) => x.family === 4));
      assert.ok(v6.entries.length > 0 && v6.entries.every((x) => x.family === 6));
      await L().stop(hold6);
    });

    it('without CAP_NET_ADMIN the dump fails with EPERM and says why', async (t) => {
      try {
        execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
      } catch {
        t.skip('setpriv (util-linux) is not installed');
        return;
      }
      const r = (await run(L(), 'dir', 'dump', {}, ['setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin'])) as unknown as DumpResult;
      assert.equal(r.ok, false);
      assert.deepEqual(r.error, {
        name: 'ConntrackError',
        code: 'EPERM',
        message: 'dump conntrack table: EPERM (operation not permitted): reading the conntrack table needs CAP_NET_ADMIN (run haldir as root)',
      });
    });

    it('measures a dump of 20 000 entries, whole and filtered to DNATed ones', async (t) => {
      const r = await run(L(), 'dir', 'bench', { n: 20_000 });
      const runs = r.runs as number[];
      const natRuns = r.natRuns as number[];
      assert.ok((r.entries as number) >= 20_000, `${r.entries} entries`);
      assert.ok((r.natEntries as number) >= 1 && (r.natEntries as number) < 10, `${r.natEntries} DNATed entries`);
      const best = Math.min(...runs);
      const ms = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' / ');
      t.diagnostic(
        `${r.entries} entries: dump ${ms(runs)} ms (${((best * 1000) / (r.entries as number)).toFixed(2)} µs/entry), count ${(r.countMs as number).toFixed(1)} ms; DST_NAT-filtered dump (${r.natEntries} entries) ${ms(natRuns)} ms`,
      );
      assert.ok(best < 5000, `${best} ms`);
      assert.ok(Math.min(...natRuns) < best, 'the filtered dump is cheaper');
    });
  });
}

const scenario = process.env[CHILD_ENV];
if (scenario) {
  child(scenario, JSON.parse(process.argv[2] ?? '{}') as Json).catch((e: unknown) => {
    out({ error: errJson(e) });
    process.exitCode = 1;
  });
} else tests();
