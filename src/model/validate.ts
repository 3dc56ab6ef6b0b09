// Semantic validation of the model: contradictions and mistakes that parse
// fine but misbehave at run time (duplicate VRIDs, DR port remapping, checks
// with nothing to connect to, …). Each rule is a small named function in the
// RULES table, so `haldir validate --list-rules` can print them. Rules read the
// model only; the host's interfaces and addresses come in through
// ValidateOptions when known. Messages never include secrets (auth_pass).
import { didYouMean, plainDiagnostic, type Diagnostic, type Severity } from '../config/diagnostics.js';
import { IPVS_SCHEDULERS, NOTIFY_KEYWORDS, VRRP_DEFAULTS } from './defaults.js';
import { hostPort, rsBlock, vsBlock, vsName } from './names.js';
import { shellOnlySyntax } from './script.js';
import type {
  Checker,
  Family,
  Loc,
  Located,
  NodeModel,
  RealServer,
  Script,
  TrackRef,
  VirtualServer,
  VrrpInstance,
  VrrpNotify,
} from './types.js';

export interface ValidateOptions {
  /** The host's interfaces with their CIDR addresses ("192.168.2.11/24"), when known. */
  interfaces?: Map<string, { addresses: string[] }>;
  /** The node's own addresses, when known. */
  localAddresses?: string[];
}

export interface Rule {
  code: string;
  severity: Severity;
  describe: string;
  check(model: NodeModel, opts: ValidateOptions): Diagnostic[];
}

/** A diagnostic before the rule stamps its code and severity on it. */
type Finding = Omit<Diagnostic, 'severity' | 'code'>;

/** Runs every rule; the result is in rule order (callers sort with sortDiagnostics). */
export function validateNode(model: NodeModel, opts: ValidateOptions = {}): Diagnostic[] {
  flat.delete(model); // the model may have changed since a previous call
  return RULES.flatMap((r) => r.check(model, opts)).map(plainDiagnostic);
}

// ---------------------------------------------------------------------------
// Helpers

/** The location of `fields` (first one written), else of the object itself. */
function at(o: Located | undefined, ...fields: string[]): Loc | undefined {
  const s = o?.src;
  if (!s) return undefined;
  for (const f of fields) if (s[f]) return s[f];
  return s[''];
}

function finding(message: string, loc: Loc | undefined, block: string, hint?: string, related?: Finding['related']): Finding {
  const f: Finding = { message, block };
  if (loc) f.loc = loc;
  if (hint) f.hint = hint;
  if (related && related.length > 0) f.related = related;
  return f;
}

function related(loc: Loc | undefined, message: string): Finding['related'] {
  return loc ? [{ loc, message }] : [];
}

function instBlock(i: VrrpInstance): string {
  return `vrrp_instance ${i.name}`;
}

// Flattened once per model (arrays, not generators: many rules walk them).
const flat = new WeakMap<NodeModel, { rss: { vs: VirtualServer; rs: RealServer }[]; cks: { vs: VirtualServer; rs: RealServer; ck: Checker }[] }>();

function flatten(m: NodeModel) {
  let f = flat.get(m);
  if (!f) {
    const rss: { vs: VirtualServer; rs: RealServer }[] = [];
    const cks: { vs: VirtualServer; rs: RealServer; ck: Checker }[] = [];
    for (const vs of m.virtualServers)
      for (const rs of vs.realServers) {
        rss.push({ vs, rs });
        for (const ck of rs.checkers) cks.push({ vs, rs, ck });
      }
    flat.set(m, (f = { rss, cks }));
  }
  return f;
}

function realServers(m: NodeModel): { vs: VirtualServer; rs: RealServer }[] {
  return flatten(m).rss;
}

function checkers(m: NodeModel): { vs: VirtualServer; rs: RealServer; ck: Checker }[] {
  return flatten(m).cks;
}

/** Reports every item whose key was already seen, pointing back at the first. */
function duplicates<T>(items: Iterable<T>, key: (t: T) => string | undefined, report: (dup: T, first: T) => Finding): Finding[] {
  const seen = new Map<string, T>();
  const out: Finding[] = [];
  for (const it of items) {
    const k = key(it);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, it);
    else out.push(report(it, first));
  }
  return out;
}

// --- IP addresses: parsed to integers so that 2001:db8::1 equals 2001:0db8:0:0::1.

interface Ip {
  family: Family;
  value: bigint;
}

function parseV4(s: string): Ip | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return { family: 4, value: v };
}

function parseV6(text: string): Ip | undefined {
  let s = text.split('%')[0]!;
  const v4tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const v4 = parseV4(v4tail[2]!);
    if (!v4) return undefined;
    s = `${v4tail[1]}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - left.length - right.length : 0;
  if (halves.length === 2 ? fill < 1 : left.length !== 8) return undefined;
  let v = 0n;
  for (const g of [...left, ...Array<string>(fill).fill('0'), ...right]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    v = (v << 16n) | BigInt(`0x${g}`);
  }
  return { family: 6, value: v };
}

function parseIp(s: string): Ip | undefined {
  return s.includes(':') ? parseV6(s) : parseV4(s);
}

/** A comparison key: equal for equal addresses however they are written. */
// Addresses repeat across rules and real servers: canonical keys are computed once.
const ipKeys = new Map<string, string>();

function ipKey(s: string): string {
  const a = s.includes('/') ? s.split('/')[0]! : s;
  if (!a.includes(':')) {
    // IPv4: the dotted quad without leading zeros is the key (the front ends already check it).
    if (!/(^|\.)0\d/.test(a)) return a;
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
    return v4 ? v4.slice(1).map(Number).join('.') : a;
  }
  let k = ipKeys.get(a);
  if (k === undefined) {
    const ip = parseIp(a);
    k = ip ? `${ip.family}:${ip.value}` : a.toLowerCase();
    if (ipKeys.size > 200_000) ipKeys.clear(); // bounded for a long-running daemon
    ipKeys.set(a, k);
  }
  return k;
}

function inSubnet(address: string, cidr: string): boolean {
  const [net, len] = cidr.split('/') as [string, string | undefined];
  const a = parseIp(address);
  const n = parseIp(net);
  if (!a || !n || a.family !== n.family) return false;
  const bits = a.family === 4 ? 32n : 128n;
  const prefix = BigInt(len === undefined ? bits : Number(len));
  const shift = bits - prefix;
  return a.value >> shift === n.value >> shift;
}

/** The node's own addresses (localAddresses and interface addresses), or undefined when unknown. */
function localKeys(o: ValidateOptions): Set<string> | undefined {
  if (!o.localAddresses && !o.interfaces) return undefined;
  const keys = new Set<string>();
  for (const a of o.localAddresses ?? []) keys.add(ipKey(a));
  for (const i of o.interfaces?.values() ?? []) for (const a of i.addresses) keys.add(ipKey(a));
  return keys;
}

// --- Tracking: a reference's weight overrides the tracked object's own.

function scriptWeight(m: NodeModel, ref: TrackRef): number {
  return ref.weight ?? m.vrrpScripts.find((s) => s.name === ref.name)?.weight ?? 0;
}

function fileWeight(m: NodeModel, ref: TrackRef): number {
  return ref.weight ?? m.trackFiles.find((f) => f.name === ref.name)?.weight ?? 0;
}

/** Tracking references of an instance or sync group with their effective weight. */
function weightedTracks(m: NodeModel, o: { trackScripts: TrackRef[]; trackFiles: TrackRef[]; trackInterfaces: TrackRef[] }) {
  return [
    ...o.trackScripts.map((r) => ({ ref: r, kind: 'track_script', weight: scriptWeight(m, r) })),
    ...o.trackFiles.map((r) => ({ ref: r, kind: 'track_file', weight: fileWeight(m, r) })),
    ...o.trackInterfaces.map((r) => ({ ref: r, kind: 'track_interface', weight: r.weight ?? 0 })),
  ];
}

// ---------------------------------------------------------------------------
// VRRP instances

/** RFC 5798 §5.2.3: VRID is 1–255. */
function vridRange(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => !Number.isInteger(i.vrid) || i.vrid < 1 || i.vrid > 255)
    .map((i) =>
      finding(
        `virtual_router_id ${i.vrid} is out of range 1–255 (RFC 5798 §5.2.3); keepalived refuses the instance`,
        at(i, 'vrid'),
        instBlock(i),
        'pick an unused VRID between 1 and 255, the same on every node of this instance',
      ),
    );
}

/** RFC 5798 §5.2.3: one VRID per LAN segment and family; two routers with one VRID fight over the virtual MAC. */
function vridDuplicate(m: NodeModel): Finding[] {
  return duplicates(
    m.vrrpInstances,
    (i) => `${i.interface}|${i.family}|${i.vrid}`,
    (dup, first) =>
      finding(
        `virtual_router_id ${dup.vrid} is used on ${dup.interface} (IPv${dup.family}) by both ${first.name} and ${dup.name}; ` +
          'both send adverts for the same virtual router and use the same virtual MAC, so they disturb each other',
        at(dup, 'vrid'),
        instBlock(dup),
        `give ${dup.name} a VRID not used on ${dup.interface}`,
        related(at(first, 'vrid'), `${first.name} uses virtual_router_id ${first.vrid} here`),
      ),
  );
}

function instanceDuplicate(m: NodeModel): Finding[] {
  return duplicates(
    m.vrrpInstances,
    (i) => i.name,
    (dup, first) =>
      finding(
        `vrrp_instance ${dup.name} is defined twice; tracking, sync groups and notifications cannot tell them apart`,
        at(dup),
        instBlock(dup),
        'rename one of them',
        related(at(first), `first definition of ${first.name}`),
      ),
  );
}

/** RFC 5798 §5.2.4: 0 is reserved for a master that stops, 255 for the address owner. */
function priorityRange(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => !Number.isInteger(i.priority) || i.priority < 1 || i.priority > 255)
    .map((i) =>
      finding(
        `priority ${i.priority} is out of range 1–255 (RFC 5798 §5.2.4: 0 means "master stopping")`,
        at(i, 'priority'),
        instBlock(i),
        'use 1–254 (255 only on the node that owns the virtual addresses)',
      ),
    );
}

/** RFC 5798 §5.2.4: priority 255 is for the router that owns the addresses. */
function priorityOwnerMismatch(m: NodeModel, o: ValidateOptions): Finding[] {
  const local = localKeys(o);
  if (!local) return [];
  return m.vrrpInstances
    .filter((i) => i.priority === 255 && !i.vips.some((v) => local.has(ipKey(v.address))))
    .map((i) =>
      finding(
        `priority 255 declares this node the owner of the virtual addresses (RFC 5798 §5.2.4), but none of ` +
          `${i.vips.map((v) => v.address).join(', ') || '(no addresses)'} is an address of this node; ` +
          'it becomes MASTER at once on start-up, tracking cannot lower its priority, and two such nodes are both MASTER',
        at(i, 'priority'),
        instBlock(i),
        'use a priority of 254 or less (e.g. 150 on the preferred node, 100 on the others)',
      ),
    );
}

function priorityOwnerUnverified(m: NodeModel, o: ValidateOptions): Finding[] {
  if (localKeys(o)) return [];
  return m.vrrpInstances
    .filter((i) => i.priority === 255)
    .map((i) =>
      finding(
        'priority 255 means this node owns the virtual addresses (RFC 5798 §5.2.4): it becomes MASTER at once on ' +
          'start-up and tracking cannot lower its priority; the node\'s addresses are unknown, so this was not verified',
        at(i, 'priority'),
        instBlock(i),
        'use 255 only if a virtual address is configured on this node permanently; otherwise use 254 or less',
      ),
    );
}

/** keepalived.conf(5): an address owner's priority cannot be changed by tracking; weight 0 must be set. */
function ownerWeightedTracking(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    if (i.priority !== 255) continue;
    for (const t of weightedTracks(m, i).filter((x) => x.weight !== 0))
      out.push(
        finding(
          `${t.kind} ${t.ref.name} has weight ${t.weight}, but priority 255 (address owner) cannot be changed by tracking, ` +
            'so the weight has no effect',
          at(t.ref, 'weight'),
          instBlock(i),
          `set "weight 0" on ${t.ref.name} (a failure then sends the instance to FAULT) or lower the priority below 255`,
        ),
      );
  }
  return out;
}

/** keepalived.conf(5): nopreempt and preempt_delay only work when the initial state is not MASTER. */
function nopreemptMaster(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.state === 'MASTER' && (i.nopreempt || i.preemptDelay > 0))
    .map((i) => {
      const what = i.nopreempt ? 'nopreempt' : `preempt_delay ${i.preemptDelay}`;
      return finding(
        `${what} with state MASTER: keepalived ignores it, and this node takes the addresses over whenever it starts`,
        at(i, i.nopreempt ? 'nopreempt' : 'preemptDelay', 'state'),
        instBlock(i),
        `set "state BACKUP" on every node of ${i.name}; priority still picks the first master`,
      );
    });
}

/** keepalived.conf(5) vrrp_strict / strict_mode: what strict RFC compliance forbids. */
function strictModeConflicts(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances.filter((x) => x.strictMode)) {
    const say = (what: string, field: string, hint: string) =>
      out.push(finding(`strict mode (vrrp_strict): ${what}; keepalived -t refuses this configuration`, at(i, field, 'strictMode'), instBlock(i), hint));
    // RFC 5798 §6.1: only the address owner (priority 255) starts as MASTER.
    if ((i.state === 'MASTER') !== (i.priority === 255)) {
      say(`state ${i.state} with priority ${i.priority} (MASTER if and only if priority 255, the address owner)`, 'state', i.state === 'MASTER' ? 'use state BACKUP, or remove vrrp_strict' : 'use state MASTER for priority 255');
    }
    if (i.unicastPeers.length > 0) say('unicast peers are not allowed', 'unicastPeers', 'use multicast, or remove vrrp_strict');
    if (i.preemptDelay > 0) say('preempt_delay is not supported', 'preemptDelay', 'remove preempt_delay, or remove vrrp_strict');
    if (i.accept && i.version === 2) say('accept mode cannot be set for VRRPv2', 'accept', 'remove accept, or use version 3');
    if (i.version === 2 && i.vips.some((v) => v.family === 6)) say('IPv6 addresses are not allowed in VRRPv2', 'vips', 'use version 3');
  }
  return out;
}

function strictModeAuth(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.strictMode && i.auth)
    .map((i) =>
      finding(
        'strict mode (vrrp_strict) does not support authentication: keepalived ignores it and sends adverts without a password',
        at(i, 'auth', 'auth.type'),
        instBlock(i),
        'remove the authentication block (RFC 5798 has none), or remove vrrp_strict',
      ),
    );
}

function preemptDelayRange(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => !(i.preemptDelay >= 0 && i.preemptDelay <= 1000))
    .map((i) =>
      finding(
        `preempt_delay ${i.preemptDelay} is out of range 0–1000 seconds (keepalived.conf(5))`,
        at(i, 'preemptDelay'),
        instBlock(i),
        'use a delay between 0 and 1000 seconds',
      ),
    );
}

/** Whole multiples of `step` up to float noise. */
function isMultiple(x: number, step: number): boolean {
  return Math.abs(x / step - Math.round(x / step)) < 1e-6;
}

/** RFC 3768 §5.3.7 (v2: 8-bit seconds) and RFC 5798 §5.2.7 (v3: 12-bit centiseconds). */
function advertIntRange(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    const x = i.advertInt;
    if (i.version === 2 && !(x >= 0.5 && x < 255.5))
      out.push(
        finding(
          `advert_int ${x} is out of range for VRRPv2: the advert carries whole seconds 1–255 (RFC 3768 §5.3.7)`,
          at(i, 'advertInt'),
          instBlock(i),
          'use 1–255 seconds, or "version 3" for sub-second intervals (0.01–40.95 s)',
        ),
      );
    if (i.version === 3 && !(x >= 0.01 - 1e-9 && x <= 40.95 + 1e-9))
      out.push(
        finding(
          `advert_int ${x} is out of range for VRRPv3: 0.01–40.95 seconds (RFC 5798 §5.2.7, 12 bits of centiseconds)`,
          at(i, 'advertInt'),
          instBlock(i),
          'use an interval between 0.01 and 40.95 seconds',
        ),
      );
  }
  return out;
}

function advertIntRounded(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    const x = i.advertInt;
    if (i.version === 2 && x >= 0.5 && x < 255.5 && !isMultiple(x, 1)) {
      const r = Math.max(1, Math.round(x));
      out.push(
        finding(
          `advert_int ${x} is not a whole number of seconds; VRRPv2 carries whole seconds (RFC 3768 §5.3.7), ` +
            `so keepalived rounds it to ${r} s and failover timing differs from what is written`,
          at(i, 'advertInt'),
          instBlock(i),
          `write "advert_int ${r}", or use "version 3" on every node for sub-second adverts`,
        ),
      );
    }
    if (i.version === 3 && x >= 0.01 && x <= 40.95 && !isMultiple(x, 0.01)) {
      const r = Math.round(x * 100) / 100;
      out.push(
        finding(
          `advert_int ${x} is not a multiple of 10 ms; VRRPv3 adverts carry centiseconds (RFC 5798 §5.2.7), so it cannot be sent as written`,
          at(i, 'advertInt'),
          instBlock(i),
          `write "advert_int ${r}"`,
        ),
      );
    }
  }
  return out;
}

/** RFC 3768 is IPv4 only; VRRP for IPv6 is RFC 5798. */
function ipv6NeedsV3(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.family === 6 && i.version === 2)
    .map((i) =>
      finding(
        'an IPv6 instance with version 2: VRRPv2 (RFC 3768) is IPv4 only, so keepalived runs it as VRRPv3',
        at(i, 'version', 'family'),
        instBlock(i),
        'write "version 3" (and an advert_int valid for v3)',
      ),
    );
}

/** RFC 5798 §5.1: the VRRPv3 header has no authentication. */
function authV3Ignored(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.auth && i.version === 3)
    .map((i) =>
      finding(
        'authentication with VRRPv3: RFC 5798 removed authentication (the v3 header has no auth field, §5.1), so keepalived ignores it',
        at(i, 'auth'),
        instBlock(i),
        'remove the authentication block; to keep strangers out use unicast peers with check_unicast_src, or a firewall',
      ),
    );
}

/**
 * RFC 3768 §5.1: the advert has 8 octets of authentication data. keepalived
 * (vrrp_parser.c) cuts auth_pass to 8 bytes of its UTF-8 text, and so does
 * haldir on the wire (vrrp/packet.ts passAuthData). Never print the password.
 */
function authPassTruncated(m: NodeModel): Finding[] {
  const max = VRRP_DEFAULTS.authPassMax;
  return m.vrrpInstances
    .filter((i) => i.auth && i.version === 2 && Buffer.byteLength(i.auth.pass, 'utf8') > max)
    .map((i) => {
      const chars = [...i.auth!.pass].length;
      const bytes = Buffer.byteLength(i.auth!.pass, 'utf8');
      const size = chars === bytes ? `${chars} characters` : `${chars} characters (${bytes} bytes of UTF-8)`;
      return finding(
        `auth_pass is ${size} long; the VRRPv2 advert carries ${max} bytes (RFC 3768 §5.1), so keepalived ` +
          `uses only the first ${max} (it logs "Truncating auth_pass to ${max} characters"), haldir sends the same ${max}, ` +
          'and nodes that differ only after them still accept each other',
        at(i, 'auth.pass', 'auth'),
        instBlock(i),
        `use a password of at most ${max} ASCII characters, the same on every node`,
      );
    });
}

/** keepalived vrrp.c: "nopreempt is incompatible with priority 255. resetting nopreempt". */
function nopreemptOwner(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.priority === 255 && i.nopreempt)
    .map((i) =>
      finding(
        `nopreempt with priority 255: the address owner always preempts (RFC 5798 §6.4.3), and keepalived logs "(${i.name}) nopreempt is incompatible with priority 255. resetting nopreempt"`,
        at(i, 'nopreempt', 'priority'),
        instBlock(i),
        'remove nopreempt, or use a priority below 255',
      ),
    );
}

/** keepalived vrrp.c: "preempt_delay is incompatible with nopreempt mode - resetting" (and with strict mode). */
function preemptDelayIgnored(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.preemptDelay > 0 && i.state !== 'MASTER' && (i.nopreempt || i.strictMode))
    .map((i) =>
      finding(
        `preempt_delay ${i.preemptDelay} with ${i.nopreempt ? 'nopreempt' : 'strict mode'}: keepalived logs "(${i.name}) preempt_delay is incompatible with ${i.nopreempt ? 'nopreempt' : 'strict'} mode - resetting" and runs without a delay`,
        at(i, 'preemptDelay'),
        instBlock(i),
        i.nopreempt ? 'remove preempt_delay (nopreempt never preempts), or remove nopreempt' : 'remove preempt_delay, or remove vrrp_strict',
      ),
    );
}

/** keepalived vrrp_parser.c: "Cannot use unicast_ttl without unicast peers - resetting". */
function unicastTtlWithoutPeers(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.unicastTtl !== undefined && i.unicastPeers.length === 0)
    .map((i) =>
      finding(
        `unicast_ttl ${i.unicastTtl} without unicast_peer: the adverts are multicast (TTL 255, RFC 3768 §5.2.3), and keepalived logs "(${i.name}): Cannot use unicast_ttl without unicast peers - resetting"`,
        at(i, 'unicastTtl'),
        instBlock(i),
        'remove unicast_ttl, or add the unicast_peer block',
      ),
    );
}

/** keepalived vrrp.c: "multicast destination specified with unicast - ignoring". */
function mcastDstWithUnicast(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.mcastDstIp !== undefined && i.unicastPeers.length > 0)
    .map((i) =>
      finding(
        `mcast_dst_ip ${i.mcastDstIp} with unicast_peer: the adverts go to the peers, and keepalived logs "(${i.name}) multicast destination specified with unicast - ignoring"`,
        at(i, 'mcastDstIp'),
        instBlock(i),
        'remove mcast_dst_ip, or the unicast_peer block',
      ),
    );
}

/**
 * RFC 3768 §5.3.5 / RFC 5798 §5.2.5: Count IP Addrs is 8 bits, and the advert
 * must fit one frame: keepalived (vrrp.c) moves the excess to
 * virtual_ipaddress_excluded, configured but never advertised. With an MTU of
 * 1500 that is more than 255 IPv4 or 89 IPv6 addresses.
 */
function vipCountExcess(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    // Ethernet, IP and VRRP headers (+ 8 octets of authentication in v2), as keepalived counts them.
    const hdr = i.family === 4 ? 14 + 20 + 8 + (i.version === 2 ? 8 : 0) : 14 + 40 + 8;
    const max = Math.min(255, Math.floor((1500 - hdr) / (i.family === 4 ? 4 : 16)));
    if (i.vips.length <= max) continue;
    out.push(
      finding(
        `${i.vips.length} virtual addresses do not fit one advert (at most ${max} with an MTU of 1500): keepalived logs "(${i.name}) Number of VIPs (${i.vips.length}) exceeds maximum/space available in packet (max ${max} addresses) - excess moved to eVIPs" ` +
          `and never advertises ${i.vips.slice(max).length > 1 ? `the last ${i.vips.length - max}` : 'the last one'}`,
        at(i.vips[max], '') ?? at(i, 'vips'),
        instBlock(i),
        'split the addresses over several vrrp_instance blocks (a vrrp_sync_group keeps them together)',
      ),
    );
  }
  return out;
}

/** keepalived vrrp.c: in strict mode it resets down_timer_adverts to 3. */
function strictModeReset(m: NodeModel): Finding[] {
  return m.vrrpInstances
    .filter((i) => i.strictMode && i.downTimerAdverts !== VRRP_DEFAULTS.downTimerAdverts)
    .map((i) =>
      finding(
        `down_timer_adverts ${i.downTimerAdverts} in strict mode: keepalived logs "(${i.name}) down_timer_adverts is incompatible with strict mode - resetting" and uses ${VRRP_DEFAULTS.downTimerAdverts} (RFC 5798 §6.1)`,
        at(i, 'downTimerAdverts'),
        instBlock(i),
        'remove down_timer_adverts, or remove vrrp_strict',
      ),
    );
}

/** keepalived.conf(5): all addresses in virtual_ipaddress must be of the same family. */
function vipFamilyMixed(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    for (const v of i.vips.filter((x) => x.family !== i.family))
      out.push(
        finding(
          `virtual address ${v.address} is IPv${v.family} but ${i.name} is an IPv${i.family} instance; ` +
            'VRRP adverts carry addresses of one family only, so keepalived cannot announce it',
          at(v),
          instBlock(i),
          `move ${v.address} to virtual_ipaddress_excluded (configured with the others but not advertised), or into an IPv${v.family} instance`,
          related(at(i.vips.find((x) => x.family === i.family)), `an IPv${i.family} address of ${i.name}`),
        ),
      );
  }
  return out;
}

function vipOutsideSubnet(m: NodeModel, o: ValidateOptions): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    for (const v of [...i.vips, ...i.excludedVips]) {
      const dev = v.dev ?? i.interface;
      const known = o.interfaces?.get(dev);
      if (!known || known.addresses.some((cidr) => inSubnet(v.address, cidr))) continue;
      const nets = known.addresses.filter((c) => parseIp(c.split('/')[0]!)?.family === v.family);
      out.push(
        finding(
          `virtual address ${v.address} is outside every subnet of ${dev} (${nets.join(', ') || `no IPv${v.family} address`}); ` +
            'neighbours on that link will not send traffic for it there unless a router points at this node',
          at(v),
          instBlock(i),
          `check the address, or put it on the interface of its subnet with "dev IFNAME"`,
        ),
      );
    }
  }
  return out;
}

function interfaceUnknown(m: NodeModel, o: ValidateOptions): Finding[] {
  const known = o.interfaces;
  if (!known || m.global.dynamicInterfaces) return [];
  const out: Finding[] = [];
  const check = (name: string, what: string, loc: Loc | undefined, block: string) => {
    if (known.has(name)) return;
    const guess = didYouMean(name, known.keys());
    out.push(
      finding(
        `${what} ${name} does not exist on this host, so the instance cannot run as configured`,
        loc,
        block,
        (guess ? `did you mean ${guess}?` : `use one of: ${[...known.keys()].join(', ')}`) +
          ' (set dynamic_interfaces in global_defs if it is created later)',
      ),
    );
  };
  for (const i of m.vrrpInstances) {
    check(i.interface, 'interface', at(i, 'interface'), instBlock(i));
    for (const v of i.vips) if (v.dev) check(v.dev, 'dev', at(v), instBlock(i));
    for (const t of i.trackInterfaces) check(t.name, 'track_interface', at(t), instBlock(i));
  }
  return out;
}

// --- Unicast

function unicastPeerSelf(m: NodeModel, o: ValidateOptions): Finding[] {
  const local = localKeys(o) ?? new Set<string>();
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    const self = new Set(local);
    if (i.unicastSrcIp) self.add(ipKey(i.unicastSrcIp));
    for (const p of i.unicastPeers.filter((x) => self.has(ipKey(x.address))))
      out.push(
        finding(
          `unicast peer ${p.address} is this node's own address; the node sends adverts to itself and sees its own priority as another router's`,
          at(p),
          instBlock(i),
          'list only the other nodes in unicast_peer',
        ),
      );
  }
  return out;
}

function unicastPeerDuplicate(m: NodeModel): Finding[] {
  return m.vrrpInstances.flatMap((i) =>
    duplicates(
      i.unicastPeers,
      (p) => ipKey(p.address),
      (dup, first) =>
        finding(
          `unicast peer ${dup.address} is listed twice; every advert is sent to it twice`,
          at(dup),
          instBlock(i),
          'remove the repeated entry',
          related(at(first), 'first listed here'),
        ),
    ),
  );
}

function unicastFamilyMismatch(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const i of m.vrrpInstances) {
    const src = i.unicastSrcIp;
    const srcFamily = src ? parseIp(src)?.family : undefined;
    if (src && srcFamily && srcFamily !== i.family)
      out.push(
        finding(
          `unicast_src_ip ${src} is IPv${srcFamily} but ${i.name} is IPv${i.family}; adverts cannot be sent from it`,
          at(i, 'unicastSrcIp'),
          instBlock(i),
          `use an IPv${i.family} address of ${i.interface}`,
        ),
      );
    for (const p of i.unicastPeers) {
      const pf = parseIp(p.address)?.family;
      if (pf === undefined || pf === i.family) continue;
      out.push(
        finding(
          `unicast peer ${p.address} is IPv${pf} but ${i.name} sends IPv${i.family} adverts; the peer never receives them`,
          at(p),
          instBlock(i),
          `use the peer's IPv${i.family} address`,
          src ? related(at(i, 'unicastSrcIp'), `unicast_src_ip ${src}`) : [],
        ),
      );
    }
  }
  return out;
}

// --- Tracking, scripts and sync groups

function scriptDuplicate(m: NodeModel): Finding[] {
  return duplicates(
    m.vrrpScripts,
    (s) => s.name,
    (dup, first) =>
      finding(
        `vrrp_script ${dup.name} is defined twice; track_script ${dup.name} could mean either`,
        at(dup),
        `vrrp_script ${dup.name}`,
        'rename or remove one of them',
        related(at(first), 'first definition'),
      ),
  );
}

function trackFileDuplicate(m: NodeModel): Finding[] {
  return duplicates(
    m.trackFiles,
    (s) => s.name,
    (dup, first) =>
      finding(
        `vrrp_track_file ${dup.name} is defined twice; track_file ${dup.name} could mean either`,
        at(dup),
        `vrrp_track_file ${dup.name}`,
        'rename or remove one of them',
        related(at(first), 'first definition'),
      ),
  );
}

function syncGroupDuplicate(m: NodeModel): Finding[] {
  return duplicates(
    m.syncGroups,
    (g) => g.name,
    (dup, first) =>
      finding(
        `vrrp_sync_group ${dup.name} is defined twice`,
        at(dup),
        `vrrp_sync_group ${dup.name}`,
        'merge the two groups or rename one',
        related(at(first), 'first definition'),
      ),
  );
}

function trackUnknown(m: NodeModel): Finding[] {
  const scripts = m.vrrpScripts.map((s) => s.name);
  const files = m.trackFiles.map((f) => f.name);
  const out: Finding[] = [];
  const check = (name: string, known: string[], kind: string, def: string, loc: Loc | undefined, block: string) => {
    if (known.includes(name)) return;
    const guess = didYouMean(name, known);
    out.push(
      finding(
        `${kind} ${name} names no ${def}; nothing is tracked and failures go unnoticed`,
        loc,
        block,
        guess ? `did you mean ${guess}?` : `define "${def} ${name} { … }" or remove the reference`,
      ),
    );
  };
  const owners = [
    ...m.vrrpInstances.map((i) => ({ o: i, block: instBlock(i) })),
    ...m.syncGroups.map((g) => ({ o: g, block: `vrrp_sync_group ${g.name}` })),
  ];
  for (const { o, block } of owners) {
    for (const t of o.trackScripts) check(t.name, scripts, 'track_script', 'vrrp_script', at(t), block);
    for (const t of o.trackFiles) check(t.name, files, 'track_file', 'vrrp_track_file', at(t), block);
  }
  for (const { rs, ck } of checkers(m))
    if (ck.type === 'FILE_CHECK') check(ck.trackFile, files, 'FILE_CHECK track_file', 'vrrp_track_file', at(ck, 'trackFile'), rsBlock(rs));
  return out;
}

/** keepalived.conf(5): a script runs only if an instance or sync group tracks it. */
function scriptUnused(m: NodeModel): Finding[] {
  const used = new Set([...m.vrrpInstances, ...m.syncGroups].flatMap((o) => o.trackScripts.map((t) => t.name)));
  return m.vrrpScripts
    .filter((s) => !used.has(s.name))
    .map((s) =>
      finding(
        `vrrp_script ${s.name} is not tracked by any vrrp_instance or vrrp_sync_group, so it never runs`,
        at(s),
        `vrrp_script ${s.name}`,
        `add "track_script { ${s.name} }" to the instance it should influence, or remove it`,
      ),
    );
}

function syncMemberUnknown(m: NodeModel): Finding[] {
  const names = m.vrrpInstances.map((i) => i.name);
  const out: Finding[] = [];
  for (const g of m.syncGroups)
    for (const member of g.members.filter((x) => !names.includes(x))) {
      const guess = didYouMean(member, names);
      out.push(
        finding(
          `sync group member ${member} names no vrrp_instance; the group cannot move it together with the others`,
          at(g, 'members'),
          `vrrp_sync_group ${g.name}`,
          guess ? `did you mean ${guess}?` : 'list existing vrrp_instance names in group { }',
        ),
      );
    }
  return out;
}

/** keepalived: an instance cannot be in more than one sync group; it ignores the second. */
function syncMemberDuplicate(m: NodeModel): Finding[] {
  const members = m.syncGroups.flatMap((g) => [...new Set(g.members)].map((name) => ({ g, name })));
  return duplicates(
    members,
    (x) => x.name,
    (dup, first) =>
      finding(
        `vrrp_instance ${dup.name} is in sync groups ${first.g.name} and ${dup.g.name}; an instance can follow one group only, ` +
          `and keepalived ignores its membership of ${dup.g.name}`,
        at(dup.g, 'members'),
        `vrrp_sync_group ${dup.g.name}`,
        `merge the two groups, or remove ${dup.name} from one of them`,
        related(at(first.g, 'members'), `${dup.name} is a member of ${first.g.name} here`),
      ),
  );
}

function syncGroupSingle(m: NodeModel): Finding[] {
  return m.syncGroups
    .filter((g) => new Set(g.members).size === 1)
    .map((g) =>
      finding(
        `vrrp_sync_group ${g.name} has a single member; a sync group keeps several instances in the same state, with one it does nothing`,
        at(g, 'members'),
        `vrrp_sync_group ${g.name}`,
        'add the instances that must fail over together, or remove the group',
      ),
    );
}

/** keepalived.conf(5): in a sync group, tracking weights must be 0 unless sync_group_tracking_weight is set. */
function syncGroupWeightedTracking(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const g of m.syncGroups.filter((x) => !x.trackingWeight))
    for (const i of m.vrrpInstances.filter((x) => g.members.includes(x.name)))
      for (const t of weightedTracks(m, i).filter((x) => x.weight !== 0))
        out.push(
          finding(
            `${t.kind} ${t.ref.name} of ${i.name} has weight ${t.weight}, but ${i.name} is in sync group ${g.name}: keepalived ` +
              'ignores the weight, so a failure puts the whole group in FAULT instead of lowering the priority',
            at(t.ref, 'weight'),
            instBlock(i),
            `use "weight 0" on it, or set sync_group_tracking_weight in vrrp_sync_group ${g.name} and give every member the same weights`,
          ),
        );
  return out;
}

/** keepalived.conf(5): tracking weights are −253..253 (track_file −254..254). */
function trackWeightRange(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  const bad = (w: number, lim: number) => !Number.isInteger(w) || w < -lim || w > lim;
  for (const s of m.vrrpScripts.filter((x) => bad(x.weight, 253)))
    out.push(
      finding(
        `vrrp_script weight ${s.weight} is out of range -253..253; priorities are 1–254, so a larger change is meaningless`,
        at(s, 'weight'),
        `vrrp_script ${s.name}`,
        'use a weight between -253 and 253 (typically larger than the priority gap between nodes)',
      ),
    );
  const owners = [
    ...m.vrrpInstances.map((i) => ({ o: i, block: instBlock(i) })),
    ...m.syncGroups.map((g) => ({ o: g, block: `vrrp_sync_group ${g.name}` })),
  ];
  for (const { o, block } of owners) {
    const refs = [
      ...o.trackScripts.map((r) => ({ r, kind: 'track_script', lim: 253 })),
      ...o.trackInterfaces.map((r) => ({ r, kind: 'track_interface', lim: 253 })),
      ...o.trackFiles.map((r) => ({ r, kind: 'track_file', lim: 254 })),
    ];
    for (const { r, kind, lim } of refs.filter((x) => x.r.weight !== undefined && bad(x.r.weight, x.lim)))
      out.push(
        finding(
          `${kind} ${r.name} weight ${r.weight} is out of range -${lim}..${lim}`,
          at(r, 'weight'),
          block,
          `use a weight between -${lim} and ${lim}`,
        ),
      );
  }
  return out;
}

function scriptInterval(m: NodeModel): Finding[] {
  return m.vrrpScripts
    .filter((s) => !(s.interval > 0))
    .map((s) =>
      finding(
        `vrrp_script interval ${s.interval}: the script would never be scheduled`,
        at(s, 'interval'),
        `vrrp_script ${s.name}`,
        'set "interval" to a positive number of seconds (default 1)',
      ),
    );
}

function scriptTimeoutExceedsInterval(m: NodeModel): Finding[] {
  return m.vrrpScripts
    .filter((s) => s.timeout !== undefined && s.interval > 0 && s.timeout > s.interval)
    .map((s) =>
      finding(
        `vrrp_script timeout ${s.timeout} s is longer than its interval ${s.interval} s; a hanging script delays the next run, ` +
          `so a failure can take ${s.fall} × ${s.timeout} s to be noticed`,
        at(s, 'timeout'),
        `vrrp_script ${s.name}`,
        `make timeout at most ${s.interval}, or raise interval`,
      ),
    );
}

/** vrrp_script rise/fall, and haldir's checker rise/fall: at least one result is needed to change state. */
function riseFallRange(m: NodeModel): Finding[] {
  const bad = (n: number) => !Number.isInteger(n) || n < 1;
  const out: Finding[] = [];
  for (const s of m.vrrpScripts)
    for (const [k, v] of [['rise', s.rise], ['fall', s.fall]] as const)
      if (bad(v))
        out.push(
          finding(`vrrp_script ${k} ${v}: the script state could never change`, at(s, k), `vrrp_script ${s.name}`, `set ${k} to 1 or more`),
        );
  for (const { rs, ck } of checkers(m)) {
    if (!bad(ck.rise) && !bad(ck.fall)) continue; // the common case, without allocating
    for (const [k, v] of [['rise', ck.rise], ['fall', ck.fall]] as const)
      if (bad(v))
        out.push(finding(`${ck.type} ${k} ${v}: the checker state could never change`, at(ck, k), rsBlock(rs), `set ${k} to 1 or more`));
  }
  return out;
}

// --- Scripts run without a shell

interface ScriptUse {
  script: Script;
  keyword: string;
  loc: Loc | undefined;
  block: string;
}


function* notifyUses(owner: Located & { notify: VrrpNotify }, block: string): Generator<ScriptUse> {
  for (const [k, keyword] of Object.entries(NOTIFY_KEYWORDS) as [keyof VrrpNotify, string][]) {
    const script = owner.notify[k];
    if (script) yield { script, keyword, loc: at(owner, `notify.${k}`, 'notify'), block };
  }
}

function* scriptUses(m: NodeModel): Generator<ScriptUse> {
  const g = m.global;
  if (g.startupScript) yield { script: g.startupScript, keyword: 'startup_script', loc: at(g, 'startupScript'), block: 'global_defs' };
  if (g.shutdownScript) yield { script: g.shutdownScript, keyword: 'shutdown_script', loc: at(g, 'shutdownScript'), block: 'global_defs' };
  for (const [field, kw] of [['notifyFifo', 'notify_fifo_script'], ['vrrpNotifyFifo', 'vrrp_notify_fifo_script'], ['lvsNotifyFifo', 'lvs_notify_fifo_script']] as const) {
    const s = g[field]?.script;
    if (s) yield { script: s, keyword: kw, loc: at(g, field), block: 'global_defs' };
  }
  for (const s of m.vrrpScripts) yield { script: s.script, keyword: 'script', loc: at(s, 'script'), block: `vrrp_script ${s.name}` };
  for (const i of m.vrrpInstances) yield* notifyUses(i, instBlock(i));
  for (const sg of m.syncGroups) yield* notifyUses(sg, `vrrp_sync_group ${sg.name}`);
  for (const vs of m.virtualServers) {
    if (vs.quorumUp) yield { script: vs.quorumUp, keyword: 'quorum_up', loc: at(vs, 'quorumUp'), block: vsBlock(vs) };
    if (vs.quorumDown) yield { script: vs.quorumDown, keyword: 'quorum_down', loc: at(vs, 'quorumDown'), block: vsBlock(vs) };
    for (const rs of vs.realServers) {
      if (rs.notifyUp) yield { script: rs.notifyUp, keyword: 'notify_up', loc: at(rs, 'notifyUp'), block: rsBlock(rs) };
      if (rs.notifyDown) yield { script: rs.notifyDown, keyword: 'notify_down', loc: at(rs, 'notifyDown'), block: rsBlock(rs) };
      for (const ck of rs.checkers)
        if (ck.type === 'MISC_CHECK') yield { script: ck.script, keyword: 'misc_path', loc: at(ck, 'script'), block: rsBlock(rs) };
    }
  }
}

/** The command line with quoted parts blanked: operators inside quotes are arguments, not shell syntax. */
function unquoted(cmd: string): string {
  return cmd.replace(/'[^']*'|"[^"]*"/g, 'Q');
}

function scriptShellSyntax(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const u of scriptUses(m)) {
    const bare = unquoted(u.script.cmd);
    const found = shellOnlySyntax(bare);
    if (found === undefined) continue;
    // Show the whole operator ("||", ">>"), not just its first character.
    const op = bare.split(/\s+/).find((t) => t.startsWith(found) && /^[<>|&;]+$/.test(t)) ?? found;
    const inner = u.script.cmd.includes("'") ? '…' : u.script.cmd;
    out.push(
      finding(
        `${u.keyword} uses shell syntax "${op}", but haldir runs scripts without a shell: "${op}" would be passed to ` +
          `${u.script.argv[0] ?? 'the program'} as a plain argument`,
        u.loc,
        u.block,
        `run it through a shell explicitly: ${u.keyword} "/bin/sh -c '${inner}'", or move the pipeline into a script file`,
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// Virtual and real servers

/** IPVS keys services by (family, address, port, protocol) or by (family, fwmark). */
function vsKey(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `ip|${ipKey(a.address)}|${a.port}|${vs.protocol}`;
  if (a.kind === 'fwmark') return `fwmark|${a.family ?? vs.ipFamily ?? 4}|${a.fwmark}`;
  return `group|${a.group}|${vs.protocol}`;
}

function vsDuplicate(m: NodeModel): Finding[] {
  return duplicates(m.virtualServers, vsKey, (dup, first) =>
    finding(
      `virtual server ${vsName(dup)} is defined twice; IPVS holds one service per address, so one definition's real servers and checks override the other's`,
      at(dup),
      vsBlock(dup),
      'merge the two virtual_server blocks',
      related(at(first), 'first definition'),
    ),
  );
}

function rsDuplicate(m: NodeModel): Finding[] {
  return m.virtualServers.flatMap((vs) =>
    duplicates(
      vs.realServers,
      (rs) => `${ipKey(rs.address)}|${rs.port ?? ''}`,
      (dup, first) =>
        finding(
          `real server ${hostPort(dup.address, dup.port)} is listed twice in ${vsName(vs)}; IPVS keeps one destination, ` +
            'and the two sets of checkers fight over its weight',
          at(dup),
          rsBlock(dup),
          'remove one of the real_server blocks (put all its checkers in the other)',
          related(at(first), 'first listed here'),
        ),
    ),
  );
}

function lbAlgoUnknown(m: NodeModel): Finding[] {
  const known: readonly string[] = IPVS_SCHEDULERS;
  return m.virtualServers
    .filter((vs) => !known.includes(vs.scheduler))
    .map((vs) => {
      const guess = didYouMean(vs.scheduler, known);
      return finding(
        `lb_algo ${vs.scheduler} is not an IPVS scheduler; the kernel refuses the service`,
        at(vs, 'scheduler'),
        vsBlock(vs),
        guess ? `did you mean ${guess}?` : `use one of: ${known.join(', ')}`,
      );
    });
}

/** sh-port, sh-fallback, mh-port, mh-fallback are IPVS scheduler flags with a meaning only for sh and mh. */
function schedFlagMismatch(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const vs of m.virtualServers) {
    const f = vs.schedFlags;
    const flags = [
      ['sh-port', f.shPort, 'sh'],
      ['sh-fallback', f.shFallback, 'sh'],
      ['mh-port', f.mhPort, 'mh'],
      ['mh-fallback', f.mhFallback, 'mh'],
    ] as const;
    for (const [name, set, sched] of flags)
      if (set && vs.scheduler !== sched)
        out.push(
          finding(
            `${name} is a flag of the ${sched} scheduler, but lb_algo is ${vs.scheduler}; it has no effect`,
            at(vs, 'schedFlags', 'scheduler'),
            vsBlock(vs),
            `use "lb_algo ${sched}", or remove ${name}`,
          ),
        );
  }
  return out;
}

function rsForwarding(vs: VirtualServer, rs: RealServer) {
  return rs.forwarding?.kind ?? vs.forwarding.kind;
}

/** DR rewrites only the MAC, TUN encapsulates: neither can change the destination port. */
function portRemapForbidden(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const vs of m.virtualServers) {
    if (vs.address.kind !== 'ip' || vs.address.port === 0) continue;
    const vport = vs.address.port;
    const vip = hostPort(vs.address.address, vport);
    const targets = vs.realServers.map((rs) => ({
      kind: rsForwarding(vs, rs),
      port: rs.port,
      loc: at(rs, 'port'),
      block: rsBlock(rs),
      what: 'real server',
      kw: `real_server ${rs.address}`,
    }));
    const sorry = vs.sorryServer;
    if (sorry)
      targets.push({
        kind: sorry.forwarding?.kind ?? vs.forwarding.kind,
        port: sorry.port,
        loc: at(vs, 'sorryServer'),
        block: vsBlock(vs),
        what: 'sorry server',
        kw: `sorry_server ${sorry.address}`,
      });
    for (const t of targets.filter((x) => x.kind !== 'NAT' && x.port !== undefined && x.port !== vport))
      out.push(
        finding(
          `${t.kind} cannot remap ports (${vip} → ${t.port}); keepalived silently resets the ${t.what} port to ${vport}, ` +
            `so nothing is sent to ${t.port}`,
          t.loc,
          t.block,
          `use "lb_kind NAT" to map ${vport} → ${t.port}, or make the server listen on ${vport} and write "${t.kw} ${vport}"`,
        ),
      );
  }
  return out;
}

/** For a DR/TUN fwmark service, IPVS delivers packets with their original port. */
function fwmarkRsPort(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { vs, rs } of realServers(m)) {
    if (vs.address.kind !== 'fwmark' || rs.port === undefined || rsForwarding(vs, rs) === 'NAT') continue;
    out.push(
      finding(
        `real server port ${rs.port} in the ${rsForwarding(vs, rs)} fwmark service ${vsName(vs)}: packets keep the port ` +
          `the client used, so ${rs.port} only sets the checkers' default port`,
        at(rs, 'port'),
        rsBlock(rs),
        `write "real_server ${rs.address}" without a port and give each checker "connect_port ${rs.port}"`,
      ),
    );
  }
  return out;
}

/** keepalived.conf(5): only tunnelled real servers may differ in family from the virtual server. */
function rsFamilyMismatch(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { vs, rs } of realServers(m)) {
    const vf = vs.address.kind === 'ip' ? vs.address.family : vs.address.kind === 'fwmark' ? (vs.address.family ?? vs.ipFamily) : undefined;
    if (vf === undefined || rs.family === vf || rsForwarding(vs, rs) === 'TUN') continue;
    out.push(
      finding(
        `real server ${rs.address} is IPv${rs.family} but ${vsName(vs)} is IPv${vf}; IPVS can only forward across families through a tunnel`,
        at(rs),
        rsBlock(rs),
        `use the server's IPv${vf} address, or "lb_kind TUN"`,
      ),
    );
  }
  return out;
}

/** keepalived.conf(5): the port may be omitted only if the service is persistent. */
function vsPortZero(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.address.kind === 'ip' && vs.address.port === 0 && vs.persistenceTimeout === undefined)
    .map((vs) =>
      finding(
        `virtual server ${vsName(vs)} has no port (all ports) but is not persistent; an all-ports service must be persistent`,
        at(vs),
        vsBlock(vs),
        'add "persistence_timeout SECONDS", or give the virtual server a port',
      ),
    );
}

function opsNotUdp(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.ops && vs.protocol !== 'UDP')
    .map((vs) =>
      finding(
        `ops (one-packet scheduling) with protocol ${vs.protocol}: IPVS applies it only to UDP, so it is ignored`,
        at(vs, 'ops'),
        vsBlock(vs),
        'remove ops, or use it on a UDP service',
      ),
    );
}

function persistenceGranularityWithoutTimeout(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.persistenceGranularity !== undefined && vs.persistenceTimeout === undefined)
    .map((vs) =>
      finding(
        `persistence_granularity ${vs.persistenceGranularity} without persistence_timeout: the service is not persistent, so the mask is ignored`,
        at(vs, 'persistenceGranularity'),
        vsBlock(vs),
        'add "persistence_timeout SECONDS" (keepalived\'s default is 360), or remove persistence_granularity',
      ),
    );
}

function weightSum(vs: VirtualServer): number {
  return vs.realServers.reduce((s, rs) => s + Math.max(0, rs.weight), 0);
}

function quorumUnreachable(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.realServers.length > 0 && weightSum(vs) < vs.quorum)
    .map((vs) =>
      finding(
        `quorum ${vs.quorum} is more than the sum of all real server weights (${weightSum(vs)}); the service can never be up, ` +
          `even with every server alive${vs.sorryServer ? ' (only the sorry server is used)' : ''}`,
        at(vs, 'quorum'),
        vsBlock(vs),
        `lower quorum to at most ${weightSum(vs)}, or add real servers / weight`,
      ),
    );
}

function hysteresisTooLarge(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.hysteresis > 0 && vs.hysteresis >= vs.quorum)
    .map((vs) =>
      finding(
        `hysteresis ${vs.hysteresis} is not less than quorum ${vs.quorum}: quorum is lost only below quorum − hysteresis ` +
          `(${vs.quorum - vs.hysteresis}), so it is never lost once gained`,
        at(vs, 'hysteresis'),
        vsBlock(vs),
        `use a hysteresis below ${vs.quorum}`,
      ),
    );
}

/** keepalived check_data.c drops a virtual server without real servers, sorry_server or not. */
function vsSorryOnly(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.realServers.length === 0 && vs.sorryServer)
    .map((vs) =>
      finding(
        `virtual server ${vsName(vs)} has a sorry_server but no real_server: haldir serves it from the sorry server, but keepalived logs "Virtual server … has no real servers - ignoring" and runs no such service`,
        at(vs),
        vsBlock(vs),
        'add the real_server blocks (the sorry server takes over when they are all down)',
      ),
    );
}

function vsNoRealServers(m: NodeModel): Finding[] {
  return m.virtualServers
    .filter((vs) => vs.realServers.length === 0 && !vs.sorryServer)
    .map((vs) =>
      finding(
        `virtual server ${vsName(vs)} has no real_server and no sorry_server; the service accepts connections and answers nothing`,
        at(vs),
        vsBlock(vs),
        'add real_server blocks, or a sorry_server, or remove the virtual server',
      ),
    );
}

function vsVipUnmanaged(m: NodeModel, o: ValidateOptions): Finding[] {
  const managed = new Set(m.vrrpInstances.flatMap((i) => [...i.vips, ...i.excludedVips].map((v) => ipKey(v.address))));
  const local = localKeys(o) ?? new Set<string>();
  const out: Finding[] = [];
  for (const vs of m.virtualServers) {
    if (vs.address.kind !== 'ip') continue;
    const k = ipKey(vs.address.address);
    if (managed.has(k) || local.has(k)) continue;
    out.push(
      finding(
        `${vs.address.address} is in no vrrp_instance's virtual_ipaddress; the service is reachable only if the address is configured some other way`,
        at(vs),
        vsBlock(vs),
        `add ${vs.address.address} to the virtual_ipaddress of the instance that should carry it`,
      ),
    );
  }
  return out;
}

/** ipvsadm: weights are 0–65535. */
function rsWeightRange(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { vs, rs } of realServers(m))
    if (!Number.isInteger(rs.weight) || rs.weight < 0 || rs.weight > 65535)
      out.push(
        finding(
          `weight ${rs.weight} of real server ${rs.address} in ${vsName(vs)} is out of range 0–65535; the kernel refuses it`,
          at(rs, 'weight'),
          rsBlock(rs),
          'use a weight between 0 and 65535 (0 drains the server)',
        ),
      );
  return out;
}

function rsThresholdOrder(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { rs } of realServers(m)) {
    const u = rs.upperThreshold;
    const l = rs.lowerThreshold;
    if (u === undefined || l === undefined || u === 0 || u >= l) continue;
    out.push(
      finding(
        `uthreshold ${u} is below lthreshold ${l}: IPVS marks the server overloaded above ${u} connections and only clears it ` +
          `below ${l}, so the bounds are inverted`,
        at(rs, 'upperThreshold'),
        rsBlock(rs),
        'make uthreshold larger than lthreshold',
      ),
    );
  }
  return out;
}

/** The port a checker connects to, if any. */
function checkPort(rs: RealServer, ck: Checker): number | undefined {
  return ck.connectPort ?? (rs.port === 0 ? undefined : rs.port);
}

const PORT_CHECKERS = new Set(['HTTP_GET', 'SSL_GET', 'TCP_CHECK', 'UDP_CHECK']);

function checkerNoPort(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { vs, rs, ck } of checkers(m)) {
    if (!PORT_CHECKERS.has(ck.type) || checkPort(rs, ck) !== undefined) continue;
    out.push(
      finding(
        `${ck.type} on real server ${rs.address} of ${vsName(vs)} has no port to connect to: the real server has none and the checker sets no connect_port`,
        at(ck),
        rsBlock(rs),
        `add "connect_port PORT" to the ${ck.type} block`,
      ),
    );
  }
  return out;
}

const PLAIN_HTTP_PORTS = new Set([80, 8080]);
const TLS_PORTS = new Set([443, 8443]);

function checkerTlsPortMismatch(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { rs, ck } of checkers(m)) {
    const port = checkPort(rs, ck);
    if (port === undefined) continue;
    const mismatch =
      ck.type === 'SSL_GET' && PLAIN_HTTP_PORTS.has(port)
        ? 'SSL_GET speaks TLS to port ' + port + ', which is usually plain HTTP; the handshake fails and the server is marked down'
        : ck.type === 'HTTP_GET' && TLS_PORTS.has(port)
          ? 'HTTP_GET speaks plain HTTP to port ' + port + ', which is usually HTTPS; the server answers with a TLS error or 400 and is marked down'
          : undefined;
    if (mismatch)
      out.push(
        finding(mismatch, at(ck, 'connectPort'), rsBlock(rs), ck.type === 'SSL_GET' ? 'use HTTP_GET for a plain-HTTP port' : 'use SSL_GET for an HTTPS port'),
      );
  }
  return out;
}

function httpNoUrl(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { rs, ck } of checkers(m))
    if ((ck.type === 'HTTP_GET' || ck.type === 'SSL_GET') && ck.urls.length === 0)
      out.push(
        finding(
          `${ck.type} has no url; there is nothing to request, so the checker cannot judge the server`,
          at(ck),
          rsBlock(rs),
          'add "url { path /healthz }" (status 200–299 is accepted by default)',
        ),
      );
  return out;
}

function digestInvalid(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { rs, ck } of checkers(m)) {
    if (ck.type !== 'HTTP_GET' && ck.type !== 'SSL_GET') continue;
    for (const u of ck.urls.filter((x) => x.digest !== undefined && !/^[0-9a-f]{32}$/i.test(x.digest)))
      out.push(
        finding(
          `digest "${u.digest}" of url ${u.path} is not an MD5 sum (32 hex digits); no response body can ever match it, so the server is always down`,
          at(u, 'digest'),
          rsBlock(rs),
          `compute it with "genhash -s ${rs.address} -p ${checkPort(rs, ck) ?? 'PORT'} -u ${u.path}", or remove digest`,
        ),
      );
  }
  return out;
}

function connectTimeoutExceedsDelayLoop(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { rs, ck } of checkers(m)) {
    if (ck.type === 'FILE_CHECK' || ck.type === 'MISC_CHECK' || ck.connectTimeout < ck.delayLoop) continue;
    out.push(
      finding(
        `${ck.type}: connect_timeout ${ck.connectTimeout} s is not shorter than delay_loop ${ck.delayLoop} s; ` +
          'a slow server is checked less often than delay_loop says',
        at(ck, 'connectTimeout'),
        rsBlock(rs),
        `use a connect_timeout well below delay_loop (e.g. ${Math.max(1, Math.floor(ck.delayLoop / 3))})`,
      ),
    );
  }
  return out;
}

const TCP_CHECKERS = new Set(['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK']);

function tcpCheckOnUdp(m: NodeModel): Finding[] {
  const out: Finding[] = [];
  for (const { vs, rs, ck } of checkers(m)) {
    if (vs.protocol !== 'UDP' || !TCP_CHECKERS.has(ck.type) || ck.connectPort !== undefined || rs.port === undefined) continue;
    out.push(
      finding(
        `${ck.type} checks TCP port ${rs.port}, but ${vsName(vs)} is a UDP service; the check says nothing about the UDP service`,
        at(ck),
        rsBlock(rs),
        'use UDP_CHECK or DNS_CHECK, or set connect_port to make a TCP check deliberate',
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// The table

function rule(code: string, severity: Severity, describe: string, find: (m: NodeModel, o: ValidateOptions) => Finding[]): Rule {
  return { code, severity, describe, check: (m, o) => find(m, o).map((f) => ({ severity, code, ...f })) };
}

export const RULES: readonly Rule[] = [
  // VRRP instances
  rule('vrid-range', 'error', 'virtual_router_id outside 1–255', vridRange),
  rule('vrid-duplicate', 'error', 'two instances with one VRID on one interface and family', vridDuplicate),
  rule('instance-duplicate', 'error', 'two vrrp_instance blocks with one name', instanceDuplicate),
  rule('priority-range', 'error', 'priority outside 1–255', priorityRange),
  rule('priority-owner-mismatch', 'error', 'priority 255 but no virtual address is a local address', priorityOwnerMismatch),
  rule('priority-owner-unverified', 'warning', 'priority 255 (address owner) when local addresses are unknown', priorityOwnerUnverified),
  rule('owner-weighted-tracking', 'warning', 'weighted tracking on a priority-255 instance', ownerWeightedTracking),
  rule('nopreempt-master', 'warning', 'nopreempt or preempt_delay with state MASTER', nopreemptMaster),
  rule('strict-mode-conflict', 'error', 'what vrrp_strict forbids: MASTER without 255, unicast, preempt_delay, v2 accept or IPv6', strictModeConflicts),
  rule('strict-mode-auth', 'warning', 'authentication under vrrp_strict is ignored', strictModeAuth),
  rule('preempt-delay-range', 'error', 'preempt_delay outside 0–1000 s', preemptDelayRange),
  rule('advert-int-range', 'error', 'advert_int outside 1–255 s (v2) or 0.01–40.95 s (v3)', advertIntRange),
  rule('advert-int-rounded', 'warning', 'advert_int not a whole second (v2) or 10 ms step (v3)', advertIntRounded),
  rule('ipv6-needs-v3', 'warning', 'IPv6 instance with version 2', ipv6NeedsV3),
  rule('auth-v3-ignored', 'warning', 'authentication with VRRPv3', authV3Ignored),
  rule('auth-pass-truncated', 'warning', 'auth_pass longer than 8 bytes (keepalived and haldir send the first 8)', authPassTruncated),
  rule('nopreempt-owner', 'warning', 'nopreempt with priority 255 (keepalived resets it)', nopreemptOwner),
  rule('preempt-delay-ignored', 'warning', 'preempt_delay with nopreempt or strict mode (keepalived resets it)', preemptDelayIgnored),
  rule('unicast-ttl-without-peers', 'warning', 'unicast_ttl without unicast_peer (keepalived resets it)', unicastTtlWithoutPeers),
  rule('mcast-dst-with-unicast', 'warning', 'mcast_dst_ip with unicast_peer (keepalived ignores it)', mcastDstWithUnicast),
  rule('vip-count-excess', 'warning', 'more virtual addresses than fit one advert (keepalived stops advertising the rest)', vipCountExcess),
  rule('strict-mode-reset', 'warning', 'down_timer_adverts other than 3 under vrrp_strict (keepalived resets it)', strictModeReset),
  rule('vip-family-mixed', 'error', 'virtual_ipaddress of another family than the instance', vipFamilyMixed),
  rule('vip-outside-subnet', 'warning', 'virtual address outside every subnet of its interface', vipOutsideSubnet),
  rule('interface-unknown', 'warning', 'interface, dev or track_interface not present on the host', interfaceUnknown),
  rule('unicast-peer-self', 'error', 'unicast peer is this node', unicastPeerSelf),
  rule('unicast-peer-duplicate', 'warning', 'unicast peer listed twice', unicastPeerDuplicate),
  rule('unicast-family-mismatch', 'error', 'unicast_src_ip or peer of another family', unicastFamilyMismatch),
  // Tracking, scripts, sync groups
  rule('script-duplicate', 'error', 'two vrrp_script blocks with one name', scriptDuplicate),
  rule('track-file-duplicate', 'error', 'two vrrp_track_file blocks with one name', trackFileDuplicate),
  rule('sync-group-duplicate', 'error', 'two vrrp_sync_group blocks with one name', syncGroupDuplicate),
  rule('track-unknown', 'error', 'track_script / track_file naming nothing defined', trackUnknown),
  rule('script-unused', 'warning', 'vrrp_script tracked by nothing (never runs)', scriptUnused),
  rule('sync-member-unknown', 'error', 'sync group member naming no instance', syncMemberUnknown),
  rule('sync-member-duplicate', 'error', 'instance in two sync groups', syncMemberDuplicate),
  rule('sync-group-single', 'warning', 'sync group with a single member', syncGroupSingle),
  rule('sync-group-weighted-tracking', 'warning', 'weighted tracking in a sync group without sync_group_tracking_weight', syncGroupWeightedTracking),
  rule('track-weight-range', 'error', 'tracking weight outside −253..253 (track_file −254..254)', trackWeightRange),
  rule('script-interval', 'error', 'vrrp_script interval ≤ 0', scriptInterval),
  rule('script-timeout-exceeds-interval', 'warning', 'vrrp_script timeout longer than interval', scriptTimeoutExceedsInterval),
  rule('rise-fall-range', 'error', 'rise or fall below 1', riseFallRange),
  rule('script-shell-syntax', 'error', 'script using shell syntax (haldir runs no shell)', scriptShellSyntax),
  // Virtual and real servers
  rule('vs-duplicate', 'error', 'two virtual servers for one address/port/protocol or fwmark', vsDuplicate),
  rule('rs-duplicate', 'error', 'real server listed twice in one virtual server', rsDuplicate),
  rule('lb-algo-unknown', 'error', 'lb_algo not an IPVS scheduler', lbAlgoUnknown),
  rule('sched-flag-mismatch', 'warning', 'sh-*/mh-* flags without the sh/mh scheduler', schedFlagMismatch),
  rule('port-remap-forbidden', 'error', 'DR or TUN real server with another port than the service', portRemapForbidden),
  rule('fwmark-rs-port', 'warning', 'real server port in a DR/TUN fwmark service', fwmarkRsPort),
  rule('rs-family-mismatch', 'error', 'real server of another family without TUN', rsFamilyMismatch),
  rule('vs-port-zero', 'error', 'all-ports virtual server without persistence', vsPortZero),
  rule('ops-not-udp', 'warning', 'ops on a non-UDP service', opsNotUdp),
  rule('persistence-granularity-without-timeout', 'warning', 'persistence_granularity without persistence_timeout', persistenceGranularityWithoutTimeout),
  rule('quorum-unreachable', 'error', 'quorum above the sum of real server weights', quorumUnreachable),
  rule('hysteresis-too-large', 'warning', 'hysteresis ≥ quorum', hysteresisTooLarge),
  rule('vs-no-real-servers', 'warning', 'virtual server without real servers or sorry server', vsNoRealServers),
  rule('vs-sorry-only', 'warning', 'virtual server with a sorry server but no real servers (keepalived drops it)', vsSorryOnly),
  rule('vs-vip-unmanaged', 'warning', 'virtual server address in no vrrp_instance', vsVipUnmanaged),
  rule('rs-weight-range', 'error', 'real server weight outside 0–65535', rsWeightRange),
  rule('rs-threshold-order', 'error', 'uthreshold below lthreshold', rsThresholdOrder),
  rule('checker-no-port', 'error', 'connecting checker with no port (fwmark service without connect_port)', checkerNoPort),
  rule('checker-tls-port-mismatch', 'warning', 'SSL_GET on a plain-HTTP port or HTTP_GET on an HTTPS port', checkerTlsPortMismatch),
  rule('http-no-url', 'error', 'HTTP_GET/SSL_GET without url', httpNoUrl),
  rule('digest-invalid', 'error', 'url digest not 32 hex digits', digestInvalid),
  rule('connect-timeout-exceeds-delay-loop', 'warning', 'connect_timeout ≥ delay_loop', connectTimeoutExceedsDelayLoop),
  rule('tcp-check-on-udp', 'warning', 'TCP-based checker on a UDP service without connect_port', tcpCheckOnUdp),
];
