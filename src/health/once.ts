// One round of every check of a node, for `haldir check --once`: each
// checker of each real server runs once (every url of an HTTP checker, every
// host of an SMTP checker), a bounded number at a time, and each real server
// is reported up only when all its checkers passed (keepalived's AND).
import type { Checker, NodeModel, RealServer, VirtualServer } from '../model/types.js';
import type { CheckResult, CheckTarget, RunCheck } from './types.js';

export interface OnceCheck {
  type: Checker['type'];
  /** What was checked: "http://192.168.2.11:80/healthz", "192.168.2.11:443" … */
  what: string;
  result: CheckResult;
}

export interface OnceServer {
  service: string;
  server: string;
  up: boolean;
  checks: OnceCheck[];
}

function hostPort(address: string, port: number | undefined): string {
  const h = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? h : `${h}:${port}`;
}

export function serviceName(vs: VirtualServer): string {
  const a = vs.address;
  const where = a.kind === 'ip' ? hostPort(a.address, a.port) : a.kind === 'fwmark' ? `fwmark ${a.fwmark}` : `group ${a.group}`;
  return `${vs.protocol} ${where}`;
}

/** The address and port a checker connects to (connect_ip / connect_port override the real server's). */
export function checkTarget(rs: RealServer, c: Checker): CheckTarget {
  const address = c.connectIp ?? rs.address;
  return { address, port: c.connectPort ?? rs.port, family: address.includes(':') ? 6 : 4 };
}

/** The attempts one round makes for a checker: one per url (HTTP), one otherwise. */
function attempts(c: Checker, t: CheckTarget): { what: string; urlIndex?: number }[] {
  if (c.type === 'HTTP_GET' || c.type === 'SSL_GET') {
    const scheme = c.type === 'SSL_GET' ? 'https' : 'http';
    return c.urls.map((u, urlIndex) => ({ what: `${scheme}://${hostPort(t.address, t.port)}${u.path}`, urlIndex }));
  }
  if (c.type === 'MISC_CHECK') return [{ what: c.script.cmd }];
  if (c.type === 'FILE_CHECK') return [{ what: c.trackFile }];
  return [{ what: hostPort(t.address, t.port) }];
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

export async function checkOnce(model: NodeModel, runCheck: RunCheck, concurrency = 256): Promise<OnceServer[]> {
  const servers: OnceServer[] = [];
  const tasks: (() => Promise<void>)[] = [];
  for (const vs of model.virtualServers) {
    for (const rs of vs.realServers) {
      const s: OnceServer = { service: serviceName(vs), server: hostPort(rs.address, rs.port), up: true, checks: [] };
      servers.push(s);
      for (const c of rs.checkers) {
        const t = checkTarget(rs, c);
        for (const a of attempts(c, t)) {
          const entry: OnceCheck = { type: c.type, what: a.what, result: { ok: false, reason: 'not run', latencyMs: 0 } };
          s.checks.push(entry);
          tasks.push(async () => {
            entry.result = await runCheck(c, t, a.urlIndex !== undefined ? { urlIndex: a.urlIndex } : {});
          });
        }
      }
    }
  }
  await pool(tasks, concurrency);
  for (const s of servers) s.up = s.checks.every((c) => c.result.ok);
  return servers;
}

/** A table an operator reads: one line per real server, its checks indented below. */
export function renderOnce(servers: OnceServer[]): string {
  const lines: string[] = [];
  let service = '';
  for (const s of servers) {
    if (s.service !== service) {
      service = s.service;
      lines.push(service);
    }
    lines.push(`  -> ${s.server.padEnd(24)} ${s.up ? 'UP  ' : 'DOWN'}`);
    for (const c of s.checks) {
      lines.push(`       ${c.type.padEnd(10)} ${c.what}  ${c.result.ok ? 'ok' : c.result.reason}  ${c.result.latencyMs.toFixed(1)} ms`);
    }
  }
  const up = servers.filter((s) => s.up).length;
  lines.push(`${up} of ${servers.length} real servers up`);
  return lines.join('\n') + '\n';
}
