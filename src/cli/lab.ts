// `haldir lab`: the seed's four-node cluster on one machine to watch and break. `lab up`
// builds it (lab/seed-lab.ts) in the foreground, owns it and serves its control socket
// (lab/control.ts) until `lab down`, SIGINT or SIGTERM; `lab status`, `lab fault`
// (lab/faults.ts) and `lab traffic` talk to it from other terminals; `lab down` stops it,
// or removes what a crashed `lab up` left behind. This file holds the commands and
// their terminal output.
import { spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { canBuildLabs, netnsExists } from '../lab/netns.js';
import { SEED_PORTS, SEED_VIP, SeedLab, UPSTREAMS, upstreamOf } from '../lab/seed-lab.js';
import { FaultUsageError, parseFault, type FaultEvent } from '../lab/faults.js';
import {
  ControlServer,
  LabController,
  LabError,
  NoLabError,
  pidAlive,
  probeSocket,
  removeCrashedLabs,
  removeCrashedState,
  removeState,
  request,
  socketPath,
  writeState,
  type DownReply,
  type LabStatus,
  type Request,
  type TrafficTarget,
} from '../lab/control.js';
import { EXIT, UsageError, type IO } from './main.js';
import { tickReader, trafficArgs, type TrafficTick } from '../lab/traffic-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const NO_LAB = 'no lab is running (start one with haldir lab up)';

/** Wall-clock time of day, HH:MM:SS.mmm (local time). */
export function clock(at: number): string {
  const d = new Date(at);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One request to the running lab; errors become the exit code (or a usage error). */
async function ask<T>(cmd: string, req: Request, io: IO): Promise<{ ok: true; v: T } | { ok: false; code: number }> {
  try {
    return { ok: true, v: await request<T>(req) };
  } catch (e) {
    if (e instanceof LabError && e.usage) throw new UsageError(e.message);
    io.err(`haldir lab ${cmd}: ${e instanceof NoLabError ? NO_LAB : (e as Error).message}\n`);
    return { ok: false, code: EXIT.invalid };
  }
}

class Aborted extends Error {}

export async function labUp(o: { topology?: string }, io: IO): Promise<number> {
  const topology = o.topology ?? 'seed';
  if (topology !== 'seed') throw new UsageError(`lab up --topology: the only topology is "seed", not "${topology}"`);
  const can = canBuildLabs();
  if (!can.ok) {
    io.err(`haldir lab up: cannot build a lab here: ${can.why}\n`);
    return EXIT.invalid;
  }
  const path = socketPath();
  const probe = await probeSocket(path);
  if (probe.state === 'live') {
    io.err(`haldir lab up: a lab is already running (${probe.hello.tag}, pid ${probe.hello.pid}, ${probe.hello.state}; socket ${path}): only one at a time — stop it with haldir lab down\n`);
    return EXIT.invalid;
  }
  const t0 = Date.now();
  const say = (s: string): void => io.out(`${clock(Date.now())} ${s}\n`);
  if (probe.state === 'stale') {
    try {
      unlinkSync(path);
      say(`removed a stale control socket ${path} (nothing answered on it)`);
    } catch {
      /* gone meanwhile */
    }
  }
  const crashed = removeCrashedLabs();
  const files = removeCrashedState(path);
  if (files.length) say(`removed what a crashed lab left: ${files.join(' ')}`);
  if (crashed.namespaces.length) say(`removed ${crashed.namespaces.length} namespace(s) left by a lab that crashed (${crashed.killed.length} process(es) killed): ${crashed.namespaces.join(' ')}`);

  let stopping: string | undefined;
  let wake!: () => void;
  const stopRequested = new Promise<void>((r) => (wake = r));
  const requestStop = (why: string): void => {
    if (stopping) {
      say(`${why}: already tearing the lab down`);
      return;
    }
    stopping = why;
    say(`${why}: tearing the lab down`);
    wake();
  };
  const onSigint = (): void => requestStop('SIGINT');
  const onSigterm = (): void => requestStop('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const check = (): void => {
    if (stopping) throw new Aborted();
  };

  let S: SeedLab | undefined;
  let ctl: LabController | undefined;
  let server: ControlServer | undefined;
  let trim: NodeJS.Timeout | undefined;
  /** Each node's VRRP state as its log last said. */
  const vrrp = new Map<string, string>();
  /** Follows a node's daemon log: VRRP transitions, real servers changing state as a MASTER sees them (what it balances), errors. */
  const follow = (name: string): void => {
    const d = S?.nodes.find((n) => n.name === name)?.daemon;
    if (!d?.stdout) return;
    vrrp.delete(name);
    let buf = '';
    d.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const tr = /^\S+ info (VI_\w+):? (\w+) -> (\w+)/.exec(line);
        const rs = / info real server (\S+) (UP|DOWN)\b/.exec(line);
        if (tr) {
          vrrp.set(name, tr[3]!);
          say(`${name}: ${tr[1]} ${tr[2]} -> ${tr[3]}`);
        } else if (rs && vrrp.get(name) === 'MASTER') say(`${name} (master): real server ${rs[1]} ${rs[2]}`);
        else if (/^\S+ error /.test(line)) say(`${name}: ${line.replace(/^\S+ /, '')}`);
      }
    });
    d.once('exit', (code, sig) => {
      vrrp.delete(name);
      if (!stopping) say(`${name}: haldir (pid ${d.pid}) exited (${sig ?? `code ${code}`})`);
    });
  };

  let code: number = EXIT.ok;
  try {
    say(`building the seed cluster in network namespaces: client 192.168.2.10, lb1–lb4 192.168.2.11–14 and upstreams ${UPSTREAMS.join(', ')} on one switch, VIP ${SEED_VIP}`);
    S = new SeedLab((m) => say(`  ${m}`));
    const lab = S;
    ctl = new LabController(
      lab,
      topology,
      () => requestStop('lab down'),
      follow,
      (events: FaultEvent[]) => {
        for (const e of events) io.out(`${clock(e.at)} fault: ${e.text}\n`);
      },
    );
    server = new ControlServer(path, ctl.handle);
    await server.listen();
    writeState(lab, path);
    say(`control socket ${path}`);
    // The daemons' logs are kept in memory by SeedLab: keep the newest part only.
    trim = setInterval(() => {
      for (const n of lab.nodes) if (n.log.length > 400) n.log.splice(0, n.log.length - 400);
    }, 10_000);
    for (const u of UPSTREAMS) {
      check();
      await lab.startUpstream(u);
    }
    say(`  upstreams ${UPSTREAMS.join(', ')} answering on :8080 (each node's /healthz is proxied to one: ${lab.nodes.map((n) => `${n.name}→${upstreamOf(n.name)}`).join(', ')})`);
    for (const n of lab.nodes) {
      check();
      await lab.startNginx(n.name);
      say(`  ${n.name}: nginx on ${SEED_PORTS.join('/')} (443 with TLS), /healthz → 200`);
    }
    for (const n of lab.nodes) {
      check();
      lab.startDaemon(n.name);
      follow(n.name);
      say(`  ${n.name}: haldir run examples/seed/${n.name}.conf --dataplane nftables (pid ${n.daemon?.pid})`);
    }
    say('waiting for a master that balances all four services');
    const w0 = Date.now();
    const c = ctl;
    while (!(lab.holders().length === 1 && c.balancedServices(lab.holders()[0]!) === SEED_PORTS.length)) {
      check();
      if (Date.now() - w0 > 30_000) throw new Error(`no master balancing the services within 30 s (VIP holders: ${lab.holders().join(', ') || 'none'})\n${lab.nodes.map((n) => `--- ${n.name}:\n${lab.log(n.name).slice(-1500)}`).join('\n')}`);
      await sleep(100);
    }
    check();
    const master = lab.holders()[0]!;
    ctl.state = 'ready';
    say(`lab ${lab.lab.tag} is up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${master} is MASTER and balances ${SEED_VIP} ports ${SEED_PORTS.join(', ')}`);
    const pad = (s: string, n: number): string => s.padEnd(n);
    io.out(`  ${pad('client', 7)} ${pad('192.168.2.10', 14)} ns ${lab.lab.host('client').ns}\n`);
    for (const n of lab.nodes) io.out(`  ${pad(n.name, 7)} ${pad(n.ip, 14)} ns ${pad(lab.lab.host(n.name).ns, 16)} ${n.name === master ? 'MASTER, balancing' : 'BACKUP, serving'}; nginx pid ${n.nginx?.pid}, haldir pid ${n.daemon?.pid}\n`);
    io.out(`  try: ip netns exec ${lab.lab.host('client').ns} curl -s http://${SEED_VIP}/\n`);
    io.out('lab is up; `haldir lab status` / `fault` / `traffic` / `down` from another terminal; Ctrl-C tears it down\n');
    await stopRequested;
  } catch (e) {
    if (!(e instanceof Aborted)) {
      io.err(`haldir lab up: ${(e as Error).message}\n`);
      code = EXIT.invalid;
    }
  } finally {
    if (ctl) {
      ctl.state = 'stopping';
      // A fault or heal in progress finishes first (bounded: each step has its own timeout).
      let t: NodeJS.Timeout | undefined;
      await Promise.race([ctl.idle(), new Promise<void>((r) => (t = setTimeout(r, 15_000)))]);
      clearTimeout(t);
    }
    await server?.close();
    if (server) removeState(path);
    if (trim) clearInterval(trim);
    if (S) {
      const namespaces = ctl?.namespaces() ?? [];
      say('stopping every process by PID, removing the namespaces');
      await S.close();
      const left = namespaces.filter(netnsExists);
      say(`lab ${S.lab.tag} is down: ${namespaces.length - left.length} namespace(s) removed${left.length ? `; still there: ${left.join(' ')}` : ''}`);
    }
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  return code;
}

function renderStatus(st: LabStatus): string {
  const out: string[] = [];
  out.push(`lab ${st.tag} (topology ${st.topology}, pid ${st.pid}), up ${duration(Date.now() - st.upSince)}; VIP ${st.vip}, ports ${st.ports.join(', ')}`);
  if (st.splitBrain) out.push(`SPLIT BRAIN: ${st.holders.join(' and ')} hold the VIP`);
  else out.push(`master: ${st.master ?? 'none (no reachable node holds the VIP)'}${st.holders.some((h) => h !== st.master) ? `  (also holding it, cut off: ${st.holders.filter((h) => h !== st.master).join(', ')})` : ''}`);
  const rows = [['node', 'address', 'link', 'vrrp', 'haldir', 'nginx', 'balances', 'in table', 'packets', 'bytes']];
  for (const n of st.nodes) {
    rows.push([n.name, n.ip, n.link, n.vrrp, n.daemon ? 'running' : 'stopped', n.nginx ? 'running' : 'stopped', n.balances ? 'yes' : 'no', n.inTable ? 'yes' : 'no', String(n.packets), String(n.bytes)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out.push('  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (st.tableFrom) {
    out.push(`real servers in ${st.tableFrom}'s table (haldir dataplane show there; packets to each since it was programmed): ${st.realServers.length}${st.tableError ? ` (could not read it: ${st.tableError})` : ''}`);
    for (const rs of st.realServers) out.push(`  ${rs.address.padEnd(14)} ${(rs.node ?? '?').padEnd(4)}  ports ${rs.ports.join(',').padEnd(17)} packets ${rs.packets}`);
    for (const s of st.services) if (!s.dests.length) out.push(`  ${s.address}: no real server up`);
  } else out.push('no node balances: no table to show');
  if (st.clientArp) {
    const a = st.clientArp;
    const note = a.node && st.master && a.node !== st.master ? `  — not the master: ${a.node} serves the client's requests itself until the entry is re-resolved` : '';
    out.push(`client's ARP entry for the VIP: ${a.node ?? 'unknown node'} (${a.mac}, ${a.state})${note}`);
  }
  if (st.faults.length) {
    out.push('faults in effect (haldir lab fault heal undoes them):');
    for (const f of st.faults) out.push(`  ${clock(f.at)} ${f.text}`);
  } else out.push('faults in effect: none');
  out.push(`upstreams: ${st.upstreams.map((u) => `${u.ip} ${u.running ? 'running' : 'STOPPED'} (/healthz of ${u.nodes.join(', ')})`).join('; ')}`);
  return out.join('\n') + '\n';
}

export async function labStatus(o: { json?: boolean }, io: IO): Promise<number> {
  const r = await ask<LabStatus>('status', { op: 'status' }, io);
  if (!r.ok) return r.code;
  io.out(o.json ? JSON.stringify(r.v, null, 2) + '\n' : renderStatus(r.v));
  return EXIT.ok;
}

export async function labFault(kind: string, args: string[], io: IO): Promise<number> {
  try {
    parseFault(kind, args);
  } catch (e) {
    if (e instanceof FaultUsageError) throw new UsageError(`lab fault: ${e.message}`);
    throw e;
  }
  const r = await ask<FaultEvent[]>('fault', kind === 'heal' ? { op: 'heal' } : { op: 'fault', kind, args }, io);
  if (!r.ok) return r.code;
  for (const e of r.v) io.out(`${clock(e.at)} ${e.text}\n`);
  return EXIT.ok;
}

type Tick = TrafficTick;

function renderTick(t: Tick): string {
  const nodes = ['lb1', 'lb2', 'lb3', 'lb4', ...Object.keys(t.byNode).filter((n) => !/^lb[1-4]$/.test(n))].map((n) => `${n} ${String(t.byNode[n] ?? 0).padStart(3)}`).join('  ');
  const err = Object.keys(t.errors).length ? `  errors ${Object.entries(t.errors).map(([k, v]) => `${k}×${v}`).join(', ')}` : '';
  return `${clock(t.at)}  ok ${String(t.ok).padStart(4)}  fail ${String(t.fail).padStart(3)}  ${nodes}  p50 ${t.p50} ms  max gap ${t.maxGapMs} ms${err}`;
}

export async function labTraffic(o: { seconds?: string; json?: boolean }, io: IO): Promise<number> {
  const seconds = o.seconds === undefined ? 10 : Number(o.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86400) throw new UsageError(`lab traffic --seconds takes a whole number of seconds (1–86400), not "${o.seconds}"`);
  const r = await ask<TrafficTarget>('traffic', { op: 'traffic-target' }, io);
  if (!r.ok) return r.code;
  const { ns, vip, ports } = r.v;
  if (!o.json) io.out(`traffic from the client (namespace ${ns}) to ${vip} ports ${ports.join(', ')}: one request after another per port, for ${seconds} s (Ctrl-C stops)\n`);
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...trafficArgs({ vip, ports })], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const ticks: Tick[] = [];
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  child.stdout!.on(
    'data',
    tickReader((t, line) => {
      if (stopped) return;
      ticks.push(t);
      io.out(o.json ? line + '\n' : renderTick(t) + '\n');
      if (ticks.length >= seconds) stop();
    }),
  );
  const deadline = setTimeout(stop, seconds * 1000 + 5000);
  const onSigint = (): void => stop();
  process.on('SIGINT', onSigint);
  const kill = setTimeout(() => child.kill('SIGKILL'), seconds * 1000 + 8000);
  const end = await exited;
  clearTimeout(deadline);
  clearTimeout(kill);
  process.off('SIGINT', onSigint);
  if (!ticks.length) {
    io.err(`haldir lab traffic: the load loop ended without a result (${end.signal ?? `exit ${end.code}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}\n`);
    return EXIT.invalid;
  }
  if (!o.json) {
    const ok = ticks.reduce((a, t) => a + t.ok, 0);
    const fail = ticks.reduce((a, t) => a + t.fail, 0);
    const by: Record<string, number> = {};
    for (const t of ticks) for (const [n, c] of Object.entries(t.byNode)) by[n] = (by[n] ?? 0) + c;
    io.out(
      `${ticks.length} s: ${ok} answered, ${fail} failed${ok + fail ? ` (${((100 * fail) / (ok + fail)).toFixed(1)} %)` : ''}; by node: ${Object.keys(by)
        .sort()
        .map((n) => `${n} ${by[n]}`)
        .join(', ') || 'none'}; worst gap ${Math.max(...ticks.map((t) => t.maxGapMs))} ms\n`,
    );
  }
  return EXIT.ok;
}

export async function labDown(io: IO): Promise<number> {
  const path = socketPath();
  const probe = await probeSocket(path);
  if (probe.state === 'live') {
    let r: DownReply;
    try {
      r = await request<DownReply>({ op: 'down' }, { timeoutMs: 10_000 });
    } catch (e) {
      io.err(`haldir lab down: ${(e as Error).message}\n`);
      return EXIT.invalid;
    }
    io.out(`asked lab ${r.tag} (pid ${r.pid}) to shut down; waiting for it to exit\n`);
    const t0 = Date.now();
    while (pidAlive(r.pid)) {
      if (Date.now() - t0 > 60_000) {
        io.err(`haldir lab down: lab up (pid ${r.pid}) is still running after 60 s\n`);
        return EXIT.invalid;
      }
      await sleep(100);
    }
    const left = r.namespaces.filter(netnsExists);
    io.out(`lab ${r.tag} is down after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.namespaces.length - left.length} namespace(s) removed\n`);
    if (left.length) {
      const c = removeCrashedLabs();
      io.out(`removed what it left: ${c.namespaces.join(' ') || 'nothing'}\n`);
    }
    return EXIT.ok;
  }
  const c = removeCrashedLabs();
  const byNs = new Map<string, number[]>();
  for (const k of c.killed) byNs.set(k.ns, [...(byNs.get(k.ns) ?? []), k.pid]);
  for (const ns of c.namespaces) io.out(`removed namespace ${ns}${byNs.get(ns) ? ` (killed pid ${byNs.get(ns)!.join(', ')})` : ''}\n`);
  const files = removeCrashedState(path);
  for (const f of files) io.out(`removed ${f}\n`);
  let socket = false;
  if (probe.state === 'stale' && existsSync(path)) {
    try {
      unlinkSync(path);
      socket = true;
      io.out(`removed the stale control socket ${path}\n`);
    } catch {
      /* gone meanwhile */
    }
  }
  if (!c.namespaces.length && !socket && !files.length) io.out('no lab is running; nothing was left behind\n');
  else io.out(`no lab was running; removed what a crashed lab up left: ${c.namespaces.length} namespace(s), ${c.killed.length} process(es)${socket ? ', the control socket' : ''}${files.length ? ', its temp files' : ''}\n`);
  return EXIT.ok;
}
