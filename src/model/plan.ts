// Plan: a node's desired state rendered for operators (owned by the plan module).
// planNode() resolves the model into what will actually run — effective
// priorities and timers, expanded virtual_server_groups, the IPVS table sorted
// like the kernel listing — as plain JSON for scripts; renderPlan() lays it out
// the way operators already read it: VRRP first, then `ipvsadm -Ln`.
import { canonicalIp, formatIpv6, parseIpv6 } from '../vrrp/addr.js';
import { NOTIFY_KEYWORDS } from './defaults.js';
import type {
  Checker,
  Family,
  Forwarding,
  LbKind,
  NodeModel,
  Protocol,
  RealServer,
  Script,
  TrackRef,
  VipAddress,
  VirtualServer,
  VrrpInstance,
  VrrpNotify,
  VsgEntry,
} from './types.js';

// ---------------------------------------------------------------- Plan types

/** A script as it will be run: the command line as written and its argv. */
export interface PlanScript {
  cmd: string;
  argv: string[];
  user?: string;
  group?: string;
}

export interface PlanVip {
  address: string;
  prefix: number;
  family: Family;
  dev?: string;
  label?: string;
  scope?: string;
  broadcast?: string;
  peer?: string;
  /** The line as keepalived's virtual_ipaddress would show it. */
  text: string;
}

export interface PlanTrack {
  kind: 'interface' | 'script' | 'file';
  name: string;
  /** Effective weight (the reference's, else the tracked object's). */
  weight: number;
  reverse: boolean;
  /** What a failure does, in words. */
  effect: string;
  /** For scripts: how it is run. */
  script?: PlanScript;
  intervalSec?: number;
  timeoutSec?: number;
  rise?: number;
  fall?: number;
  /** For files: the path watched. */
  file?: string;
}

export interface PlanVrrpInstance {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  family: Family;
  initialState: 'MASTER' | 'BACKUP';
  priority: number;
  /** Priority 255: owns the addresses, takes over at once, tracking cannot change it. */
  addressOwner: boolean;
  advertIntSec: number;
  downTimerAdverts: number;
  /** Skew_Time as keepalived computes it (microsecond resolution). */
  skewSec: number;
  /** Master_Down_Interval = down_timer_adverts × advert_int + skew. */
  masterDownSec: number;
  preempt: boolean;
  preemptDelaySec: number;
  accept: boolean;
  /** Never the password itself. */
  auth?: { type: 'PASS' | 'AH'; passwordSet: boolean; passwordChars: number; passwordCharsUsed: number };
  vips: PlanVip[];
  excludedVips: PlanVip[];
  /** 'unicast' when peers are configured, else multicast to `destination`. */
  adverts: { mode: 'unicast' | 'multicast'; destination?: string; sourceIp?: string; peers: { address: string; minTtl?: number; maxTtl?: number }[]; ttl?: number };
  tracking: PlanTrack[];
  notify: Partial<Record<keyof VrrpNotify, PlanScript>>;
  syncGroup?: string;
  notes: string[];
}

export interface PlanSyncGroup {
  name: string;
  members: string[];
  tracking: PlanTrack[];
  notify: Partial<Record<keyof VrrpNotify, PlanScript>>;
}

/** ipvsadm's name for a forwarding method. */
export type IpvsForward = 'Masq' | 'Route' | 'Tunnel';

export interface PlanChecker {
  type: Checker['type'];
  /** What is probed: URL(s), ip:port, script, file. */
  target: string;
  connectTimeoutSec?: number;
  retry?: number;
  delayBeforeRetrySec?: number;
  delayLoopSec?: number;
  warmupSec?: number;
  rise: number;
  fall: number;
  /** The one-line description printed under the real server. */
  text: string;
}

export interface PlanRealServer {
  address: string;
  family: Family;
  port: number;
  /** `[addr]:port` for IPv6, `addr:port` otherwise, as ipvsadm -Ln prints it. */
  endpoint: string;
  forward: IpvsForward;
  forwarding: Forwarding;
  weight: number;
  /** Always 0 in a plan: this is desired state, not counters. */
  activeConn: 0;
  inActConn: 0;
  inhibitOnFailure: boolean;
  upperThreshold?: number;
  lowerThreshold?: number;
  notifyUp?: PlanScript;
  notifyDown?: PlanScript;
  checkers: PlanChecker[];
}

export interface PlanService {
  /** IP services: protocol; fwmark services: 'FWM'. */
  kind: 'ip' | 'fwmark';
  protocol: Protocol;
  family: Family;
  address?: string;
  port?: number;
  fwmark?: number;
  /** The virtual_server_group this entry was expanded from. */
  group?: string;
  /** The service column as ipvsadm -Ln prints it, e.g. `TCP  192.168.2.100:80`. */
  name: string;
  scheduler: string;
  schedFlags: string[];
  persistence?: { timeoutSec: number; granularity?: string; engine?: string };
  ops: boolean;
  delayLoopSec: number;
  quorum: number;
  hysteresis: number;
  quorumUp?: PlanScript;
  quorumDown?: PlanScript;
  sorryServer?: { endpoint: string; forward: IpvsForward; inhibit: boolean };
  inhibitOnFailure: boolean;
  realServers: PlanRealServer[];
}

export interface Plan {
  node: string;
  routerId?: string;
  vrrpInstances: PlanVrrpInstance[];
  syncGroups: PlanSyncGroup[];
  ipvs: { version: string; tableSize: number; services: PlanService[] };
}

// ---------------------------------------------------------------- helpers

/** Seconds as operators write them: `3s`, `0.5s`. */
export function fmtSec(sec: number): string {
  return `${Number(sec.toFixed(6))}s`;
}

function planScript(s: Script): PlanScript {
  const p: PlanScript = { cmd: s.cmd, argv: [...s.argv] };
  if (s.user !== undefined) p.user = s.user;
  if (s.group !== undefined) p.group = s.group;
  return p;
}

/** The address as the kernel reports it back (IPv6 canonicalised). */
function canonical(addr: string, family: Family): string {
  if (family === 4) return addr;
  return canonicalIp(addr, 6) ?? addr;
}

function endpoint(addr: string, family: Family, port: number): string {
  return family === 6 ? `[${canonical(addr, 6)}]:${port}` : `${addr}:${port}`;
}

/** Bytes of an address for ordering like ipvsadm's sort. */
function addrKey(addr: string, family: Family): number[] {
  if (family === 4) return addr.split('.').map(Number);
  const b = parseIpv6(addr);
  return b ? [...b] : [];
}

function cmpNums(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const FORWARD: Record<LbKind, IpvsForward> = { NAT: 'Masq', DR: 'Route', TUN: 'Tunnel' };
const PROTO_NUM: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

// ---------------------------------------------------------------- VRRP

/**
 * keepalived's VRRP_TIMER_SKEW in microseconds (vrrp.h): v2 uses
 * (256 − P)/256 s regardless of the interval; v3 scales by the advert
 * interval counted in centiseconds (RFC 5798 §6.1), truncating like the C.
 */
export function skewMicros(version: 2 | 3, priority: number, advertIntSec: number): number {
  const pri = 256 - priority;
  if (version === 2) return Math.floor((pri * 1_000_000) / 256);
  const centis = Math.floor(Math.round(advertIntSec * 1_000_000) / 10_000);
  return Math.floor((pri * centis * 625) / 16);
}

export function masterDownMicros(version: 2 | 3, priority: number, advertIntSec: number, downTimerAdverts: number): number {
  return downTimerAdverts * Math.round(advertIntSec * 1_000_000) + skewMicros(version, priority, advertIntSec);
}

function planVip(v: VipAddress): PlanVip {
  const p: PlanVip = { address: v.address, prefix: v.prefix, family: v.family, text: '' };
  const parts = [`${v.address}/${v.prefix}`];
  if (v.broadcast !== undefined) {
    p.broadcast = v.broadcast;
    parts.push(`brd ${v.broadcast}`);
  }
  if (v.dev !== undefined) {
    p.dev = v.dev;
    parts.push(`dev ${v.dev}`);
  }
  if (v.scope !== undefined) {
    p.scope = v.scope;
    parts.push(`scope ${v.scope}`);
  }
  if (v.label !== undefined) {
    p.label = v.label;
    parts.push(`label ${v.label}`);
  }
  if (v.peer !== undefined) {
    p.peer = v.peer;
    parts.push(`peer ${v.peer}`);
  }
  if (v.homeAddress) parts.push('home');
  if (v.noDad) parts.push('-nodad');
  if (v.noPrefixRoute) parts.push('noprefixroute');
  if (v.preferredLft !== undefined) parts.push(`preferred_lft ${v.preferredLft}`);
  p.text = parts.join(' ');
  return p;
}

function trackEffect(weight: number, reverse: boolean, kind: PlanTrack['kind']): string {
  if (weight === 0) return reverse ? 'FAULT while up' : 'FAULT while down';
  if (kind === 'file') return `priority ${reverse ? '-' : '+'}= file value x ${weight}`;
  // keepalived: positive weights add while up, negative subtract while down; reverse swaps the direction.
  const up = weight > 0;
  const amount = Math.abs(weight);
  if (!reverse) return up ? `+${amount} while up` : `-${amount} while down`;
  return up ? `-${amount} while up` : `+${amount} while down`;
}

function planTracks(model: NodeModel, ifs: TrackRef[], scripts: TrackRef[], files: TrackRef[]): PlanTrack[] {
  const out: PlanTrack[] = [];
  for (const t of ifs) {
    const weight = t.weight ?? 0;
    const reverse = t.weightReverse ?? false;
    out.push({ kind: 'interface', name: t.name, weight, reverse, effect: trackEffect(weight, reverse, 'interface') });
  }
  for (const t of scripts) {
    const s = model.vrrpScripts.find((x) => x.name === t.name);
    const weight = t.weight ?? s?.weight ?? 0;
    const reverse = t.weightReverse ?? s?.weightReverse ?? false;
    const p: PlanTrack = { kind: 'script', name: t.name, weight, reverse, effect: trackEffect(weight, reverse, 'script') };
    if (s) {
      p.script = planScript(s.script);
      p.intervalSec = s.interval;
      if (s.timeout !== undefined) p.timeoutSec = s.timeout;
      p.rise = s.rise;
      p.fall = s.fall;
    }
    out.push(p);
  }
  for (const t of files) {
    const f = model.trackFiles.find((x) => x.name === t.name);
    const weight = t.weight ?? f?.weight ?? 1;
    const reverse = t.weightReverse ?? f?.weightReverse ?? false;
    const p: PlanTrack = { kind: 'file', name: t.name, weight, reverse, effect: trackEffect(weight, reverse, 'file') };
    if (f) p.file = f.file;
    out.push(p);
  }
  return out;
}

function planNotify(n: VrrpNotify): Partial<Record<keyof VrrpNotify, PlanScript>> {
  const out: Partial<Record<keyof VrrpNotify, PlanScript>> = {};
  for (const k of ['master', 'backup', 'fault', 'stop', 'deleted', 'masterRxLowerPri', 'generic'] as const) {
    const s = n[k];
    if (s) out[k] = planScript(s);
  }
  return out;
}

function planInstance(model: NodeModel, v: VrrpInstance): PlanVrrpInstance {
  const skew = skewMicros(v.version, v.priority, v.advertInt);
  const down = masterDownMicros(v.version, v.priority, v.advertInt, v.downTimerAdverts);
  const group = model.syncGroups.find((g) => g.members.includes(v.name));
  const notes: string[] = [];
  const unicast = v.unicastPeers.length > 0;
  const p: PlanVrrpInstance = {
    name: v.name,
    interface: v.interface,
    vrid: v.vrid,
    version: v.version,
    family: v.family,
    initialState: v.state,
    priority: v.priority,
    addressOwner: v.priority === 255,
    advertIntSec: v.advertInt,
    downTimerAdverts: v.downTimerAdverts,
    skewSec: skew / 1_000_000,
    masterDownSec: down / 1_000_000,
    preempt: !v.nopreempt,
    preemptDelaySec: v.preemptDelay,
    accept: v.accept,
    vips: v.vips.map(planVip),
    excludedVips: v.excludedVips.map(planVip),
    adverts: {
      mode: unicast ? 'unicast' : 'multicast',
      peers: v.unicastPeers.map((u) => {
        const peer: { address: string; minTtl?: number; maxTtl?: number } = { address: u.address };
        if (u.minTtl !== undefined) peer.minTtl = u.minTtl;
        if (u.maxTtl !== undefined) peer.maxTtl = u.maxTtl;
        return peer;
      }),
    },
    tracking: planTracks(model, v.trackInterfaces, v.trackScripts, v.trackFiles),
    notify: planNotify(v.notify),
    notes,
  };
  if (!unicast) p.adverts.destination = v.mcastDstIp ?? (v.family === 6 ? model.global.vrrp.mcastGroup6 : model.global.vrrp.mcastGroup4);
  const src = unicast ? v.unicastSrcIp : v.mcastSrcIp;
  if (src !== undefined) p.adverts.sourceIp = src;
  if (unicast && v.unicastTtl !== undefined) p.adverts.ttl = v.unicastTtl;
  if (v.auth) {
    const chars = [...v.auth.pass].length;
    p.auth = { type: v.auth.type, passwordSet: chars > 0, passwordChars: chars, passwordCharsUsed: Math.min(chars, 8) };
    if (v.auth.type === 'PASS' && chars > 8) notes.push(`auth_pass has ${chars} chars; only the first 8 are sent`);
  }
  if (group) p.syncGroup = group.name;
  if (group && !group.trackingWeight && p.tracking.some((t) => t.kind !== 'interface' && t.weight !== 0)) {
    notes.push(`member of sync group ${group.name}: keepalived sets this instance's tracking weights to 0`);
  }
  if (v.priority === 255) notes.push('address owner: takes over at once; tracking cannot lower the priority');
  if (v.nopreempt && v.state === 'MASTER') notes.push('nopreempt has no effect with initial state MASTER');
  if (v.preemptDelay > 0 && v.state === 'MASTER') notes.push('preempt_delay has no effect with initial state MASTER');
  return p;
}

// ---------------------------------------------------------------- IPVS

function describeChecker(c: Checker, rs: RealServer, vsPort: number | undefined): PlanChecker {
  const ip = c.connectIp ?? rs.address;
  const fam: Family = ip.includes(':') ? 6 : 4;
  const port = c.connectPort ?? rs.port ?? vsPort ?? 0;
  const hostPort = endpoint(ip, fam, port);
  const base: PlanChecker = { type: c.type, target: hostPort, rise: c.rise, fall: c.fall, text: '' };
  let withTimings = true;
  let timeoutSec: number | undefined = c.connectTimeout;
  const words: string[] = [`check ${c.type}`];
  switch (c.type) {
    case 'HTTP_GET':
    case 'SSL_GET': {
      const scheme = c.type === 'HTTP_GET' ? 'http' : 'https';
      const urls = c.urls.map((u) => {
        const codes = u.statusCodes.length === 0 ? '200-299' : u.statusCodes.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
        let s = `${scheme}://${hostPort}${u.path} expect ${codes}`;
        if (u.digest !== undefined) s += ` digest ${u.digest}`;
        if (u.regex !== undefined) s += ` ${u.regexNoMatch ? 'not matching' : 'matching'} /${u.regex}/`;
        const vhost = u.virtualhost ?? c.virtualhost;
        if (vhost !== undefined) s += ` host ${vhost}`;
        return s;
      });
      base.target = urls.join(', ');
      words.push(urls.length ? base.target : `${scheme}://${hostPort} (no url)`);
      if (c.urls.length === 0 && c.virtualhost !== undefined) words.push(`host ${c.virtualhost}`);
      if (c.httpProtocol !== undefined) words.push(`HTTP/${c.httpProtocol}`);
      if (c.type === 'SSL_GET' && c.enableSni) words.push(`sni${c.sniName !== undefined ? ` ${c.sniName}` : ''}`);
      break;
    }
    case 'TCP_CHECK':
    case 'PING_CHECK':
      if (c.type === 'PING_CHECK') base.target = canonical(ip, fam);
      words.push(base.target);
      break;
    case 'UDP_CHECK':
      words.push(hostPort);
      if (c.payload !== undefined) words.push(`payload ${c.payload}`);
      if (c.requireReply !== undefined) {
        let r = c.requireReply === '' ? 'require reply' : `require reply ${c.requireReply}`;
        if (c.minReplyLength !== undefined || c.maxReplyLength !== undefined) r += ` of ${c.minReplyLength ?? 0}-${c.maxReplyLength ?? 255} bytes`;
        words.push(r);
      }
      break;
    case 'DNS_CHECK':
      words.push(`${c.queryType} ${c.name} @${hostPort}`);
      break;
    case 'SMTP_CHECK':
      words.push(`${hostPort} helo ${c.heloName}`);
      for (const h of c.hosts) {
        const hip = h.connectIp ?? ip;
        words.push(`+ host ${endpoint(hip, hip.includes(':') ? 6 : 4, h.connectPort ?? port)}`);
      }
      break;
    case 'MISC_CHECK':
      base.target = c.script.cmd;
      words.push(JSON.stringify(c.script.cmd));
      if (c.script.user !== undefined) words.push(`as ${c.script.user}${c.script.group !== undefined ? `:${c.script.group}` : ''}`);
      if (c.dynamic) words.push('dynamic weight');
      // keepalived's misc_timeout defaults to delay_loop; connect_timeout does not apply.
      timeoutSec = c.timeout ?? c.delayLoop;
      break;
    case 'FILE_CHECK':
      base.target = c.trackFile;
      words.push(`track_file ${c.trackFile}`);
      if (c.weight !== undefined) words.push(`weight ${c.weight}${c.weightReverse ? ' reverse' : ''}`);
      withTimings = false; // keepalived reads the file on change; no polling settings
      break;
  }
  if (c.bindTo !== undefined || c.bindIf !== undefined || c.bindPort !== undefined) {
    words.push(`from ${c.bindTo ?? '*'}${c.bindPort !== undefined ? `:${c.bindPort}` : ''}${c.bindIf !== undefined ? `%${c.bindIf}` : ''}`);
  }
  if (c.fwmark !== undefined) words.push(`fwmark ${c.fwmark}`);
  if (withTimings) {
    base.connectTimeoutSec = timeoutSec;
    base.retry = c.retry;
    base.delayBeforeRetrySec = c.delayBeforeRetry;
    base.delayLoopSec = c.delayLoop;
    base.warmupSec = c.warmup;
    words.push(`timeout ${fmtSec(timeoutSec)}`, `retry ${c.retry}`, `every ${fmtSec(c.delayLoop)}`);
    if (c.retry > 0) words.push(`(+${fmtSec(c.delayBeforeRetry)} between retries)`);
    // keepalived's default warmup is delay_loop; show it only when chosen.
    if (c.warmup !== c.delayLoop) words.push(`warmup ${fmtSec(c.warmup)}`);
    if (c.alpha) words.push('alpha (starts down)');
    if (c.logAllFailures) words.push('log all failures');
  }
  if (c.rise !== 1 || c.fall !== 1) words.push(`rise ${c.rise} fall ${c.fall}`);
  base.text = words.join(' ');
  return base;
}

function planRealServer(vs: VirtualServer, rs: RealServer, vsPort: number | undefined): PlanRealServer {
  const forwarding = rs.forwarding ?? vs.forwarding;
  const port = rs.port ?? vsPort ?? 0;
  const p: PlanRealServer = {
    address: canonical(rs.address, rs.family),
    family: rs.family,
    port,
    endpoint: endpoint(rs.address, rs.family, port),
    forward: FORWARD[forwarding.kind],
    forwarding: { ...forwarding },
    weight: rs.weight,
    activeConn: 0,
    inActConn: 0,
    inhibitOnFailure: rs.inhibitOnFailure,
    checkers: rs.checkers.map((c) => describeChecker(c, rs, vsPort)),
  };
  if (rs.upperThreshold !== undefined) p.upperThreshold = rs.upperThreshold;
  if (rs.lowerThreshold !== undefined) p.lowerThreshold = rs.lowerThreshold;
  if (rs.notifyUp) p.notifyUp = planScript(rs.notifyUp);
  if (rs.notifyDown) p.notifyDown = planScript(rs.notifyDown);
  return p;
}

function schedFlags(vs: VirtualServer): string[] {
  // ipvsadm prints the flag names that belong to the scheduler (sh/mh name flag-1/2).
  const f = vs.schedFlags;
  const out: string[] = [];
  if (vs.scheduler === 'sh' || vs.scheduler === 'mh') {
    const s = vs.scheduler;
    if (f.flag1 || (s === 'sh' ? f.shFallback : f.mhFallback)) out.push(`${s}-fallback`);
    if (f.flag2 || (s === 'sh' ? f.shPort : f.mhPort)) out.push(`${s}-port`);
    if (f.flag3) out.push('flag-3');
  } else {
    if (f.flag1 || f.shFallback || f.mhFallback) out.push('flag-1');
    if (f.flag2 || f.shPort || f.mhPort) out.push('flag-2');
    if (f.flag3) out.push('flag-3');
  }
  return out;
}

/** The addresses a virtual_server_group entry stands for. */
function expandEntry(e: VsgEntry): { address: string; family: Family }[] {
  if (e.kind !== 'range' || e.address === undefined || e.rangeEnd === undefined) {
    return e.address === undefined ? [] : [{ address: e.address, family: e.family ?? (e.address.includes(':') ? 6 : 4) }];
  }
  if (!e.address.includes(':')) {
    const o = e.address.split('.').map(Number);
    const out: { address: string; family: Family }[] = [];
    for (let x = o[3]!; x <= e.rangeEnd; x++) out.push({ address: `${o[0]}.${o[1]}.${o[2]}.${x}`, family: 4 });
    return out;
  }
  const b = parseIpv6(e.address);
  if (!b) return [{ address: e.address, family: 6 }];
  const out: { address: string; family: Family }[] = [];
  // The range runs over the last hextet (keepalived: the final 16 bits).
  for (let x = (b[14]! << 8) | b[15]!; x <= e.rangeEnd; x++) {
    b[14] = x >> 8;
    b[15] = x & 0xff;
    out.push({ address: formatIpv6(b), family: 6 });
  }
  return out;
}

function serviceFamily(vs: VirtualServer, fwFamily?: Family): Family {
  return fwFamily ?? vs.ipFamily ?? vs.realServers[0]?.family ?? 4;
}

function planServices(model: NodeModel): PlanService[] {
  const out: PlanService[] = [];
  const make = (vs: VirtualServer, key: { kind: 'ip'; address: string; family: Family; port?: number } | { kind: 'fwmark'; fwmark: number; family: Family }, group?: string): PlanService => {
    const port = key.kind === 'ip' ? key.port : undefined;
    const name =
      key.kind === 'fwmark'
        ? `FWM  ${key.fwmark}${key.family === 6 ? ' IPv6' : ''}`
        : `${vs.protocol.padEnd(4)} ${endpoint(key.address, key.family, port ?? 0)}`;
    const s: PlanService = {
      kind: key.kind,
      protocol: vs.protocol,
      family: key.family,
      name,
      scheduler: vs.scheduler,
      schedFlags: schedFlags(vs),
      ops: vs.ops,
      delayLoopSec: vs.delayLoop,
      quorum: vs.quorum,
      hysteresis: vs.hysteresis,
      inhibitOnFailure: vs.inhibitOnFailure,
      realServers: vs.realServers
        .map((rs) => planRealServer(vs, rs, port))
        .sort((a, b) => cmpNums(addrKey(a.address, a.family), addrKey(b.address, b.family)) || a.port - b.port),
    };
    if (key.kind === 'ip') {
      s.address = canonical(key.address, key.family);
      if (port !== undefined) s.port = port;
    } else s.fwmark = key.fwmark;
    if (group !== undefined) s.group = group;
    if (vs.persistenceTimeout !== undefined) {
      s.persistence = { timeoutSec: vs.persistenceTimeout };
      if (vs.persistenceGranularity !== undefined) s.persistence.granularity = vs.persistenceGranularity;
      if (vs.persistenceEngine !== undefined) s.persistence.engine = vs.persistenceEngine;
    }
    if (vs.quorumUp) s.quorumUp = planScript(vs.quorumUp);
    if (vs.quorumDown) s.quorumDown = planScript(vs.quorumDown);
    if (vs.sorryServer) {
      const ss = vs.sorryServer;
      const fam: Family = ss.address.includes(':') ? 6 : 4;
      s.sorryServer = { endpoint: endpoint(ss.address, fam, ss.port ?? port ?? 0), forward: FORWARD[(ss.forwarding ?? vs.forwarding).kind], inhibit: ss.inhibit };
    }
    return s;
  };
  for (const vs of model.virtualServers) {
    const a = vs.address;
    if (a.kind === 'ip') out.push(make(vs, { kind: 'ip', address: a.address, family: a.family, port: a.port }));
    else if (a.kind === 'fwmark') out.push(make(vs, { kind: 'fwmark', fwmark: a.fwmark, family: serviceFamily(vs, a.family) }));
    else {
      const g = model.virtualServerGroups.find((x) => x.name === a.group);
      for (const e of g?.entries ?? []) {
        if (e.kind === 'fwmark') {
          out.push(make(vs, { kind: 'fwmark', fwmark: e.fwmark ?? 0, family: serviceFamily(vs, e.family) }, a.group));
          continue;
        }
        for (const x of expandEntry(e)) out.push(make(vs, { kind: 'ip', address: x.address, family: x.family, port: e.port }, a.group));
      }
    }
  }
  // ipvsadm -Ln order (libipvs ipvs_cmp_services): fwmark, family, protocol, address, port.
  return out.sort(
    (a, b) =>
      (a.fwmark ?? 0) - (b.fwmark ?? 0) ||
      a.family - b.family ||
      (a.kind === 'fwmark' ? 0 : PROTO_NUM[a.protocol] - PROTO_NUM[b.protocol]) ||
      cmpNums(addrKey(a.address ?? '', a.family), addrKey(b.address ?? '', b.family)) ||
      (a.port ?? 0) - (b.port ?? 0),
  );
}

// ---------------------------------------------------------------- entry points

export function planNode(model: NodeModel): Plan {
  const plan: Plan = {
    node: model.node,
    vrrpInstances: model.vrrpInstances.map((v) => planInstance(model, v)),
    syncGroups: model.syncGroups.map((g) => ({
      name: g.name,
      members: [...g.members],
      tracking: planTracks(model, g.trackInterfaces, g.trackScripts, g.trackFiles),
      notify: planNotify(g.notify),
    })),
    ipvs: { version: '1.2.1', tableSize: 4096, services: planServices(model) },
  };
  if (model.global.routerId !== undefined) plan.routerId = model.global.routerId;
  return plan;
}

/** A script for display: quoted when it has arguments, with its user. */
function showScript(s: PlanScript): string {
  const q = /[\s"'\\]/.test(s.cmd) ? JSON.stringify(s.cmd) : s.cmd;
  return s.user === undefined ? q : `${q} as ${s.user}${s.group !== undefined ? `:${s.group}` : ''}`;
}

const NOTIFY_KEYWORD = NOTIFY_KEYWORDS;

function trackLine(t: PlanTrack): string {
  let s = `track_${t.kind} ${t.name} weight ${t.weight}${t.reverse ? ' reverse' : ''} (${t.effect})`;
  if (t.kind === 'script' && t.script) {
    s += `: ${showScript(t.script)} every ${fmtSec(t.intervalSec ?? 1)}`;
    if (t.timeoutSec !== undefined) s += ` timeout ${fmtSec(t.timeoutSec)}`;
    if ((t.rise ?? 1) !== 1 || (t.fall ?? 1) !== 1) s += ` rise ${t.rise} fall ${t.fall}`;
  }
  if (t.kind === 'file' && t.file !== undefined) s += `: ${t.file}`;
  return s;
}

export function renderPlan(plan: Plan): string {
  const L: string[] = [];
  const kv = (k: string, v: string | number): void => {
    L.push(`  ${k.padEnd(18)} ${v}`);
  };
  L.push(`# haldir plan for node ${plan.node}${plan.routerId !== undefined ? ` (router_id ${plan.routerId})` : ''}`);
  L.push('');
  L.push('VRRP');
  if (plan.vrrpInstances.length === 0) L.push('  (no vrrp_instance)');
  for (const v of plan.vrrpInstances) {
    L.push(`vrrp_instance ${v.name}`);
    kv('interface', v.interface);
    kv('virtual_router_id', v.vrid);
    kv('version', `${v.version} (IPv${v.family})`);
    kv('initial state', v.initialState);
    kv('priority', v.addressOwner ? '255 (address owner)' : v.priority);
    kv('advert_int', fmtSec(v.advertIntSec));
    kv('master_down', `${(v.masterDownSec).toFixed(3)}s (${v.downTimerAdverts} x ${fmtSec(v.advertIntSec)} + skew ${v.skewSec.toFixed(3)}s)`);
    kv('preempt', v.preempt ? (v.preemptDelaySec > 0 ? `yes, after ${fmtSec(v.preemptDelaySec)}` : 'yes') : 'no (nopreempt)');
    if (v.accept) kv('accept', 'yes');
    if (v.auth) kv('auth', `${v.auth.type} (${v.auth.passwordSet ? `password set, ${v.auth.passwordChars} chars` : 'no password'})`);
    for (const x of v.vips) kv('vip', x.text);
    for (const x of v.excludedVips) kv('vip (excluded)', x.text);
    if (v.adverts.mode === 'unicast') {
      kv('adverts', `unicast${v.adverts.sourceIp !== undefined ? ` from ${v.adverts.sourceIp}` : ''}${v.adverts.ttl !== undefined ? ` ttl ${v.adverts.ttl}` : ''}`);
      for (const p of v.adverts.peers) {
        const ttl = p.minTtl !== undefined || p.maxTtl !== undefined ? ` (accept ttl ${p.minTtl ?? 0}-${p.maxTtl ?? 255})` : '';
        kv('unicast_peer', `${p.address}${ttl}`);
      }
    } else {
      kv('adverts', `multicast to ${v.adverts.destination}${v.adverts.sourceIp !== undefined ? ` from ${v.adverts.sourceIp}` : ''}`);
    }
    for (const t of v.tracking) kv('track', trackLine(t));
    for (const [k, s] of Object.entries(v.notify) as [keyof VrrpNotify, PlanScript][]) kv(NOTIFY_KEYWORD[k], showScript(s));
    if (v.syncGroup !== undefined) kv('sync group', v.syncGroup);
    for (const n of v.notes) kv('note', n);
  }
  for (const g of plan.syncGroups) {
    L.push(`vrrp_sync_group ${g.name}`);
    kv('members', g.members.join(' '));
    for (const t of g.tracking) kv('track', trackLine(t));
    for (const [k, s] of Object.entries(g.notify) as [keyof VrrpNotify, PlanScript][]) kv(NOTIFY_KEYWORD[k], showScript(s));
  }
  L.push('');
  L.push('IPVS');
  L.push(`IP Virtual Server version ${plan.ipvs.version} (size=${plan.ipvs.tableSize})`);
  L.push('Prot LocalAddress:Port Scheduler Flags');
  L.push('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn');
  const note = (s: string): void => {
    L.push(`     ${s}`);
  };
  for (const s of plan.ipvs.services) {
    // ipvsadm.c print_service_entry: "%s %s", then " (flags)", " persistent N", " mask M", " pe X", " ops".
    let line = `${s.name} ${s.scheduler}`;
    if (s.schedFlags.length) line += ` (${s.schedFlags.join(',')})`;
    if (s.persistence) {
      line += ` persistent ${s.persistence.timeoutSec}`;
      if (s.persistence.granularity !== undefined) line += ` mask ${s.persistence.granularity}`;
      if (s.persistence.engine !== undefined) line += ` pe ${s.persistence.engine}`;
    }
    if (s.ops) line += ' ops';
    L.push(line);
    if (s.group !== undefined) note(`from virtual_server_group ${s.group}`);
    if (s.quorum !== 1 || s.hysteresis !== 0 || s.quorumUp || s.quorumDown) {
      let q = `quorum ${s.quorum}`;
      if (s.hysteresis !== 0) q += ` hysteresis ${s.hysteresis}`;
      if (s.quorumUp) q += ` up: ${showScript(s.quorumUp)}`;
      if (s.quorumDown) q += ` down: ${showScript(s.quorumDown)}`;
      note(q);
    }
    if (s.sorryServer) note(`sorry_server ${s.sorryServer.endpoint} ${s.sorryServer.forward} (when quorum is lost${s.sorryServer.inhibit ? ', inhibit' : ''})`);
    // The real servers carry the effective setting; say it once when they all share it.
    const allInhibit = s.realServers.length > 0 && s.realServers.every((r) => r.inhibitOnFailure);
    if (allInhibit) note('inhibit_on_failure (failed servers stay with weight 0)');
    for (const r of s.realServers) {
      // ipvsadm.c: "  -> %-28s %-7s %-6d %-10u %-10u"
      L.push(`  -> ${r.endpoint.padEnd(28)} ${r.forward.padEnd(7)} ${String(r.weight).padEnd(6)} ${String(r.activeConn).padEnd(10)} ${String(r.inActConn).padEnd(10)}`.trimEnd());
      if (r.inhibitOnFailure && !allInhibit) note('inhibit_on_failure (stays with weight 0 when failed)');
      if (r.upperThreshold !== undefined || r.lowerThreshold !== undefined) note(`uthreshold ${r.upperThreshold ?? 0} lthreshold ${r.lowerThreshold ?? 0}`);
      if (r.notifyUp) note(`notify_up ${showScript(r.notifyUp)}`);
      if (r.notifyDown) note(`notify_down ${showScript(r.notifyDown)}`);
      for (const c of r.checkers) note(c.text);
      if (r.checkers.length === 0) note('no checker: always up');
    }
  }
  return `${L.join('\n')}\n`;
}
