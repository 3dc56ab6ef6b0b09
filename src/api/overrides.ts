// Operator overrides of real servers: drain (weight 0, kept until undrain) and a set
// weight, applied on top of health's table before the director filters it by VRRP
// state (daemon/director.ts setOverrides). Pure: targets are parsed and matched here,
// names are resolved to addresses by the caller. Overrides are keyed by the real
// server's identity (address and port, health/server-state.ts rsKey), optionally one
// service's, so they survive a reload that keeps the server; they live in memory and
// end with the process.
import { isIP } from 'node:net';
import type { NodeModel } from '../model/types.js';
import { formatRs, formatVs, IPVS_WEIGHT_LIMIT, rsKey, vsKey, type DesiredService } from '../health/server-state.js';
import { canonicalIp } from '../vrrp/addr.js';

export interface Override {
  /** rsKey: `[address]:port` (port 0 when the server has none). */
  server: string;
  /** vsKey of the one service it applies to; absent: every service with that server. */
  service?: string;
  drain: boolean;
  weight?: number;
  /** ISO time of the last change. */
  since: string;
  by: string;
}

/** A target as typed: `lb3:80`, `192.168.2.13:80`, `[fd00::13]:80`, `192.168.2.13` (every port). */
export interface Target {
  host: string;
  port?: number;
}

export class TargetError extends Error {}

export function parseTarget(text: string): Target {
  const t = text.trim();
  if (t === '') throw new TargetError('empty real server: give HOST:PORT, e.g. lb3:80 or 192.168.2.13:80');
  let host = t;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const i = t.lastIndexOf(':');
    if (i >= 0) {
      host = t.slice(0, i);
      port = t.slice(i + 1);
    }
  }
  if (host === '' || /[\s/]/.test(host)) throw new TargetError(`"${text}" is not a real server: give HOST:PORT, e.g. lb3:80 or 192.168.2.13:80`);
  if (port === undefined) return { host };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new TargetError(`"${text}": the port must be a number 0–65535`);
  return { host, port: Number(port) };
}

export function parseWeight(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > IPVS_WEIGHT_LIMIT) {
    throw new TargetError(`weight must be an integer 0–${IPVS_WEIGHT_LIMIT}, not ${JSON.stringify(v)}`);
  }
  return v;
}

export interface Match {
  vsKey: string;
  rsKey: string;
  /** keepalived's form of both, for messages: `[192.168.2.13]:tcp:80 in [192.168.2.100]:tcp:80`. */
  name: string;
}

/** How a service may be named: its key, keepalived's form, or `VIP:PORT`. */
export function serviceNames(model: NodeModel): Map<string, string> {
  const m = new Map<string, string>();
  for (const vs of model.virtualServers) {
    const k = vsKey(vs);
    m.set(k, k);
    m.set(formatVs(vs), k);
    const a = vs.address;
    if (a.kind === 'ip') {
      const c = canonicalIp(a.address, a.family) ?? a.address;
      m.set(a.family === 6 ? `[${c}]:${a.port}` : `${c}:${a.port}`, k);
    }
  }
  return m;
}

/**
 * The real servers of the model at `addresses` (already resolved, any form) and `port`
 * (any when absent), optionally within one service (`service` as serviceNames accepts).
 */
export function matchServers(model: NodeModel, addresses: string[], port: number | undefined, service?: string): Match[] {
  const want = new Set(addresses.map((a) => canonicalIp(a, a.includes(':') ? 6 : 4) ?? a.toLowerCase()));
  const svc = service === undefined ? undefined : serviceNames(model).get(service.trim());
  const out: Match[] = [];
  for (const vs of model.virtualServers) {
    const vk = vsKey(vs);
    if (svc !== undefined && vk !== svc) continue;
    for (const rs of vs.realServers) {
      const addr = canonicalIp(rs.address, rs.family) ?? rs.address;
      if (!want.has(addr)) continue;
      if (port !== undefined && (rs.port ?? 0) !== port) continue;
      out.push({ vsKey: vk, rsKey: rsKey(rs), name: `${formatRs(rs, vs)} in ${formatVs(vs)}` });
    }
  }
  return out;
}

/** A service given that the model does not have: the message for a 404. */
export function unknownService(model: NodeModel, service: string): string | undefined {
  if (serviceNames(model).has(service.trim())) return undefined;
  const known = model.virtualServers.map((vs) => formatVs(vs));
  return `no virtual service "${service}" (there are: ${known.join(', ') || 'none'})`;
}

const id = (server: string, service?: string): string => `${service ?? '*'} ${server}`;

/** The overrides in force, with the changes that operators make. */
export class Overrides {
  private readonly m = new Map<string, Override>();

  list(): Override[] {
    return [...this.m.values()];
  }

  /**
   * Drain (`drain` true) or undrain the matched servers. One override per server and
   * service scope: a drain given for every service covers the server in each.
   */
  setDrain(matches: Match[], scope: string | undefined, drain: boolean, by: string, now: Date): void {
    for (const k of this.keys(matches, scope)) {
      const o = this.m.get(id(k.server, k.service)) ?? { server: k.server, ...(k.service ? { service: k.service } : {}), drain: false, since: now.toISOString(), by };
      o.drain = drain;
      o.since = now.toISOString();
      o.by = by;
      this.store(o);
    }
    // Undrain also lifts a drain set on one service when asked for every service.
    if (!drain && scope === undefined) {
      for (const o of this.m.values()) if (matches.some((x) => x.rsKey === o.server) && o.drain) this.store({ ...o, drain: false, since: now.toISOString(), by });
    }
  }

  /** `weight` undefined: back to the configured weight. */
  setWeight(matches: Match[], scope: string | undefined, weight: number | undefined, by: string, now: Date): void {
    for (const k of this.keys(matches, scope)) {
      const o = this.m.get(id(k.server, k.service)) ?? { server: k.server, ...(k.service ? { service: k.service } : {}), drain: false, since: now.toISOString(), by };
      if (weight === undefined) delete o.weight;
      else o.weight = weight;
      o.since = now.toISOString();
      o.by = by;
      this.store(o);
    }
    if (weight === undefined && scope === undefined) {
      for (const o of [...this.m.values()]) {
        if (!matches.some((x) => x.rsKey === o.server) || o.weight === undefined) continue;
        const n = { ...o, since: now.toISOString(), by };
        delete n.weight;
        this.store(n);
      }
    }
  }

  private keys(matches: Match[], scope: string | undefined): { server: string; service?: string }[] {
    const seen = new Map<string, { server: string; service?: string }>();
    for (const x of matches) {
      const k = scope === undefined ? { server: x.rsKey } : { server: x.rsKey, service: x.vsKey };
      seen.set(id(k.server, k.service), k);
    }
    return [...seen.values()];
  }

  private store(o: Override): void {
    const k = id(o.server, o.service);
    if (!o.drain && o.weight === undefined) this.m.delete(k);
    else this.m.set(k, o);
  }

  /** The override that applies to a server in a service: the service's own, else the one for every service. */
  lookup(vsKeyOf: string, rsKeyOf: string): { drain: boolean; weight?: number } | undefined {
    const own = this.m.get(id(rsKeyOf, vsKeyOf));
    const all = this.m.get(id(rsKeyOf));
    if (!own && !all) return undefined;
    const weight = own?.weight ?? all?.weight;
    return { drain: (own?.drain ?? false) || (all?.drain ?? false), ...(weight !== undefined ? { weight } : {}) };
  }

  apply(table: DesiredService[]): DesiredService[] {
    return applyOverrides(table, this);
  }
}

/**
 * Health's table with the overrides: a drained server stays in the table at weight 0
 * (no new connections; the ones it has finish); a weight replaces the server's weight
 * while health has it carrying traffic. A server health took out stays out — neither
 * brings a failed server back — and the sorry server is never overridden.
 */
export function applyOverrides(table: DesiredService[], o: Pick<Overrides, 'lookup'>): DesiredService[] {
  return table.map((ds) => {
    let changed = false;
    const dests = ds.dests.map((d) => {
      if (d.sorry) return d;
      const x = o.lookup(ds.vsKey, d.key);
      if (!x || d.weight === 0) return d;
      const weight = x.drain ? 0 : (x.weight ?? d.weight);
      if (weight === d.weight) return d;
      changed = true;
      return { ...d, weight };
    });
    return changed ? { ...ds, dests } : ds;
  });
}
