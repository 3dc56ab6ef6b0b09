// The real-server decisions of `haldir realserver setup|check|teardown`, as pure
// functions of the host's facts: where the VIP goes (lo for DR, tunl0 for TUN),
// which ARP sysctls are written and where — on all/default/IF, or only on the
// VIP-facing interface and lo when the host is shared with Docker bridges,
// macvlan/ipvlan, bonds, VLANs or other NICs — rp_filter where the mode needs
// it, the list of changes with reasons, and the record teardown restores from.
import {
  arpAnnounceOk,
  arpIgnoreOk,
  conf,
  confKey,
  defaultRoute,
  ipFamily,
  linkByName,
  otherArpInterfaces,
  SHARED_KINDS,
  vipFacingInterface,
  vipProblem,
  type ConfParam,
  type HostFacts,
} from './facts.js';

export type RsMode = 'dr' | 'tun';
export type Scope = 'global' | 'targeted';

export interface SetupRequest {
  vips: string[];
  mode: RsMode;
  /** The VIP-facing interface; found from the addresses and routes when absent. */
  iface?: string;
  /** 'auto' (default) decides from the interfaces present. */
  scope?: 'auto' | Scope;
  /** Where `iface` and `scope` come from, when not from the command line ("the setup record"). */
  from?: string;
}

/** A sysctl value setup wants. */
export interface Setting {
  ifname: string;
  param: ConfParam;
  value: number;
  why: string;
}

export interface PlannedVip {
  address: string;
  family: 4 | 6;
  prefix: number;
  device: string;
  label?: string;
}

export type Change =
  | { kind: 'sysctl'; ifname: string; param: ConfParam; from: number; to: number; why: string }
  | { kind: 'address-add'; vip: PlannedVip; why: string }
  | { kind: 'address-del'; vip: PlannedVip; why: string }
  | { kind: 'link'; ifname: string; up: boolean; why: string };

export interface Problem {
  message: string;
  /** The exact command that fixes it, when there is one. */
  fix?: string;
}

export interface SetupPlan {
  mode: RsMode;
  /** The VIP-facing interface ('' when there is no IPv4 VIP). */
  iface: string;
  ifaceWhy: string;
  scope: Scope;
  scopeWhy: string;
  /** lo (DR) or tunl0 (TUN). */
  vipDevice: string;
  vips: PlannedVip[];
  settings: Setting[];
  changes: Change[];
  /** What already holds, one line each. */
  satisfied: string[];
  warnings: string[];
  errors: Problem[];
}

export const TUN_DEVICE = 'tunl0';
/** Labels must start with the device name (the kernel checks); this one marks haldir's. */
export const vipLabel = (device: string): string => `${device}:haldir`;

const ARP_WHY = {
  arp_ignore: 'answer ARP only for addresses of the receiving interface: the VIP on lo stays silent, the host address still answers',
  arp_announce: 'ARP requests carry the outgoing interface address as source, never the VIP',
} as const;

/** Whether a current value already does what `want` asks (arp_ignore 2 is stricter than 1 and keeps the host address answered). */
function satisfies(param: ConfParam, cur: number | undefined, want: number): boolean {
  if (cur === undefined) return false;
  if (param === 'arp_ignore' && want === 1) return arpIgnoreOk(cur);
  return cur === want;
}

function listShort(items: string[], max = 4): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Chooses the scope of the ARP settings and says why. */
export function chooseScope(f: HostFacts, iface: string, asked: 'auto' | Scope = 'auto', from?: string): { scope: Scope; why: string; shared: string[] } {
  const others = otherArpInterfaces(f, iface);
  const me = linkByName(f, iface);
  const shared = others.map((o) => `${o.link.name} (${o.why})`);
  // A veth as the main interface is just a container's or namespace's NIC; a bond, VLAN,
  // bridge or macvlan/ipvlan on the VIP side means the wire is shared with more than us.
  if (me && SHARED_KINDS.has(me.kind) && me.kind !== 'veth') shared.unshift(`${iface} itself is a ${me.kind}`);
  if (asked !== 'auto') return { scope: asked, why: from ? `as recorded in ${from}` : `asked for with --scope ${asked}`, shared };
  if (shared.length === 0)
    return {
      scope: 'global',
      why: `${iface} is the only interface besides lo: all, default and ${iface} are set as the LVS documentation does, so interfaces added later inherit it`,
      shared,
    };
  return {
    scope: 'targeted',
    why: `${listShort(shared)} share this host: all/default would change how they answer ARP too, so only ${iface} and lo are set`,
    shared,
  };
}

const ORDER: Record<Change['kind'], number> = { link: 0, sysctl: 1, 'address-add': 2, 'address-del': 3 };

/**
 * The plan for `setup` (and, with no changes expected, for `check`). Changes are
 * ordered so the VIP is added only after ARP is suppressed: no moment exists in
 * which the host owns the VIP and still answers ARP for it.
 */
export function planSetup(f: HostFacts, req: SetupRequest): SetupPlan {
  const plan = planSetupUnordered(f, req);
  plan.changes.sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
  return plan;
}

function planSetupUnordered(f: HostFacts, req: SetupRequest): SetupPlan {
  const errors: Problem[] = [];
  const warnings: string[] = [];
  const satisfied: string[] = [];
  const changes: Change[] = [];
  const vipDevice = req.mode === 'tun' ? TUN_DEVICE : 'lo';
  const plan: SetupPlan = { mode: req.mode, iface: '', ifaceWhy: '', scope: 'targeted', scopeWhy: '', vipDevice, vips: [], settings: [], changes, satisfied, warnings, errors };

  if (req.vips.length === 0) errors.push({ message: 'no VIP given (--vip A.B.C.D[,…])' });
  const vips: string[] = [];
  for (const v of req.vips) {
    const bad = vipProblem(v);
    if (bad) errors.push({ message: `--vip: ${bad}` });
    else if (req.mode === 'tun' && ipFamily(v) === 6) errors.push({ message: `--vip ${v}: TUN mode is IPv4-in-IPv4 (ipip) here; an IPv6 VIP needs an ip6tnl device` });
    else if (!vips.includes(v)) vips.push(v);
  }
  const v4 = vips.filter((v) => ipFamily(v) === 4);

  // The VIP-facing interface.
  if (req.iface !== undefined) {
    const l = linkByName(f, req.iface);
    if (!l) errors.push({ message: `--iface ${req.iface}: no such interface (interfaces: ${f.links.map((x) => x.name).join(', ')})` });
    else if (l.loopback) errors.push({ message: `--iface ${req.iface} is the loopback: give the interface the VIP's traffic arrives on` });
    else {
      plan.iface = req.iface;
      plan.ifaceWhy = req.from ? `from ${req.from}` : 'given with --iface';
    }
  } else if (v4.length > 0) {
    const found = v4.map((v) => ({ v, ...vipFacingInterface(f, v) }));
    const names = [...new Set(found.map((x) => x.iface).filter((x): x is string => !!x))];
    const lost = found.find((x) => !x.iface);
    if (lost) errors.push({ message: `cannot tell which interface faces ${lost.v}: ${lost.why}`, fix: `haldir realserver setup --vip ${req.vips.join(',')} --mode ${req.mode} --iface IFACE` });
    else if (names.length > 1) errors.push({ message: `the VIPs face different interfaces (${found.map((x) => `${x.v}: ${x.iface}`).join(', ')}): run setup once per interface with --iface` });
    else {
      plan.iface = names[0]!;
      plan.ifaceWhy = found[0]!.why;
    }
  }

  // TUN: the VIP lives on the ipip fallback device, which the ipip module creates.
  if (req.mode === 'tun') {
    const t = linkByName(f, TUN_DEVICE);
    if (!t) errors.push({ message: `${TUN_DEVICE} does not exist: the ipip module is not loaded (TUN real servers decapsulate on it)`, fix: 'modprobe ipip' });
    else if (!t.up) changes.push({ kind: 'link', ifname: TUN_DEVICE, up: true, why: 'TUN: tunnelled packets are decapsulated on tunl0, which must be up' });
    else satisfied.push(`${TUN_DEVICE} is up`);
  }

  // The VIPs.
  for (const v of vips) {
    const family = ipFamily(v)!;
    const pv: PlannedVip = { address: v, family, prefix: family === 4 ? 32 : 128, device: vipDevice };
    if (family === 4) pv.label = vipLabel(vipDevice);
    plan.vips.push(pv);
    const here = f.addresses.filter((a) => a.address === v);
    const mine = here.find((a) => a.ifname === vipDevice);
    for (const a of here.filter((x) => x.ifname !== vipDevice && x.ifname !== 'lo')) {
      warnings.push(
        `${v} is also on ${a.ifname} (${v}/${a.prefix}): fine while this node is the VRRP master holding it; otherwise the host answers ARP for it there (ARP flux) — remove it: ip address del ${v}/${a.prefix} dev ${a.ifname}`,
      );
    }
    if (mine) satisfied.push(`${v} already on ${vipDevice} (${v}/${mine.prefix})`);
    else if (req.mode === 'dr' || linkByName(f, TUN_DEVICE))
      changes.push({
        kind: 'address-add',
        vip: pv,
        why: req.mode === 'dr' ? 'DR: the director sends frames for the VIP unchanged; the host must own it to accept them' : 'TUN: decapsulated packets are addressed to the VIP; the host must own it',
      });
  }

  if (v4.length === 0 || !plan.iface) return plan;

  // ARP: where and what.
  const sc = chooseScope(f, plan.iface, req.scope ?? 'auto', req.from);
  plan.scope = sc.scope;
  plan.scopeWhy = sc.why;
  if (sc.scope === 'global' && sc.shared.length > 0 && req.scope === 'global')
    warnings.push(`--scope global also changes ARP on ${listShort(sc.shared)}`);
  const targets = sc.scope === 'global' ? ['all', 'default', plan.iface] : [plan.iface, 'lo'];
  for (const ifname of targets)
    for (const [param, value] of [['arp_ignore', 1], ['arp_announce', 2]] as const) plan.settings.push({ ifname, param, value, why: ARP_WHY[param] });

  // rp_filter (the kernel uses max(all, IF): 1 strict, 2 loose).
  const rp = (ifname: string): number => Math.max(conf(f, 'all', 'rp_filter') ?? 0, conf(f, ifname, 'rp_filter') ?? 0);
  if (req.mode === 'tun' && linkByName(f, TUN_DEVICE) && rp(TUN_DEVICE) === 1)
    plan.settings.push({ ifname: TUN_DEVICE, param: 'rp_filter', value: 2, why: "TUN: packets arrive on tunl0 but the route back to the client leaves elsewhere; strict reverse-path filtering drops them, loose (2) does not" });
  const dflt = defaultRoute(f);
  if (req.mode === 'dr' && rp(plan.iface) === 1 && dflt?.oif && dflt.oif !== plan.iface)
    plan.settings.push({
      ifname: plan.iface,
      param: 'rp_filter',
      value: 2,
      why: `clients' packets for the VIP arrive on ${plan.iface} but the default route leaves through ${dflt.oif}: strict reverse-path filtering would drop them, loose (2) does not`,
    });

  for (const s of plan.settings) {
    const cur = conf(f, s.ifname, s.param);
    if (cur === undefined) {
      errors.push({ message: `cannot read ${confKey(s.ifname, s.param)}` });
      continue;
    }
    if (satisfies(s.param, cur, s.value)) satisfied.push(`${confKey(s.ifname, s.param)} = ${cur}`);
    else changes.push({ kind: 'sysctl', ifname: s.ifname, param: s.param, from: cur, to: s.value, why: s.why });
  }

  // After the changes, what the kernel will act on for the VIP-facing interface.
  const after = (ifname: string, param: ConfParam): number => {
    const c = changes.find((x) => x.kind === 'sysctl' && x.ifname === ifname && x.param === param);
    return c && c.kind === 'sysctl' ? c.to : (conf(f, ifname, param) ?? 0);
  };
  const eff = (param: ConfParam): number => Math.max(after('all', param), after(plan.iface, param));
  if (!arpIgnoreOk(eff('arp_ignore')))
    errors.push({
      message: `net.ipv4.conf.all.arp_ignore=${after('all', 'arp_ignore')} overrides ${plan.iface}'s setting (the kernel uses the larger of all and the interface)${
        eff('arp_ignore') === 8 ? ': the host would not answer ARP even for its own address' : ': the VIP would still be answered'
      }`,
      fix: `sysctl -w net.ipv4.conf.all.arp_ignore=0`,
    });
  if (!arpAnnounceOk(eff('arp_announce'))) errors.push({ message: `arp_announce on ${plan.iface} would be ${eff('arp_announce')}, not 2` });
  return plan;
}

// ---- the record teardown restores from --------------------------------------------

export interface StateSysctl {
  ifname: string;
  param: ConfParam;
  /** What setup wants. */
  value: number;
  /** The value before haldir first changed it; absent when setup found it already right (teardown leaves it). */
  before?: number;
}

export interface StateVip extends PlannedVip {
  /** Setup added it (teardown deletes it); false when it was there already. */
  added: boolean;
}

export interface StateFile {
  path: string;
  /** The file's content before setup wrote it; null when there was none (teardown deletes it). */
  before: string | null;
  /** A symlink target instead of content (the systemd enablement link). */
  symlink?: string;
}

export interface RsState {
  version: 1;
  /** The --root the files were written under ('/' for the real ones). */
  root?: string;
  mode: RsMode;
  iface: string;
  scope: Scope;
  vipDevice: string;
  vips: StateVip[];
  sysctls: StateSysctl[];
  /** Interfaces setup brought up (teardown sets them down again). */
  linksUp: string[];
  files: StateFile[];
}

/** The record after applying `plan` on top of an earlier one: first-seen "before" values win, so teardown restores the original. */
export function mergeState(prev: RsState | undefined, plan: SetupPlan, files: StateFile[] = []): RsState {
  const s: RsState = prev
    ? { ...prev, mode: plan.mode, iface: plan.iface || prev.iface, scope: plan.scope, vipDevice: plan.vipDevice, vips: [...prev.vips], sysctls: [...prev.sysctls], linksUp: [...prev.linksUp], files: [...prev.files] }
    : { version: 1, mode: plan.mode, iface: plan.iface, scope: plan.scope, vipDevice: plan.vipDevice, vips: [], sysctls: [], linksUp: [], files: [] };
  for (const v of plan.vips) {
    const added = plan.changes.some((c) => c.kind === 'address-add' && c.vip.address === v.address);
    const i = s.vips.findIndex((x) => x.address === v.address && x.device === v.device);
    if (i < 0) s.vips.push({ ...v, added });
    else if (added) s.vips[i] = { ...s.vips[i]!, added: true };
  }
  for (const st of plan.settings) {
    const ch = plan.changes.find((c) => c.kind === 'sysctl' && c.ifname === st.ifname && c.param === st.param);
    const i = s.sysctls.findIndex((x) => x.ifname === st.ifname && x.param === st.param);
    const prevBefore = i >= 0 ? s.sysctls[i]!.before : undefined;
    const before = prevBefore ?? (ch && ch.kind === 'sysctl' ? ch.from : undefined);
    const rec: StateSysctl = { ifname: st.ifname, param: st.param, value: st.value };
    if (before !== undefined) rec.before = before;
    if (i < 0) s.sysctls.push(rec);
    else s.sysctls[i] = rec;
  }
  for (const c of plan.changes) if (c.kind === 'link' && c.up && !s.linksUp.includes(c.ifname)) s.linksUp.push(c.ifname);
  for (const f of files) if (!s.files.some((x) => x.path === f.path)) s.files.push(f);
  return s;
}

/** Validates a state file's parsed JSON; returns why it is unusable, or undefined. */
export function stateProblem(j: unknown): string | undefined {
  const o = j as Partial<RsState> | null;
  if (!o || typeof o !== 'object') return 'not a JSON object';
  if (o.version !== 1) return `unknown version ${String(o.version)}`;
  if (o.mode !== 'dr' && o.mode !== 'tun') return 'no mode';
  if (!Array.isArray(o.vips) || !Array.isArray(o.sysctls) || !Array.isArray(o.linksUp) || !Array.isArray(o.files)) return 'missing lists';
  for (const x of o.sysctls) if (typeof x?.ifname !== 'string' || typeof x.param !== 'string' || typeof x.value !== 'number') return 'a malformed sysctl entry';
  for (const x of o.vips) if (typeof x?.address !== 'string' || typeof x.device !== 'string') return 'a malformed VIP entry';
  return undefined;
}

export interface TeardownPlan {
  changes: Change[];
  satisfied: string[];
  warnings: string[];
}

/** What teardown does: delete the VIPs setup added, restore the sysctls it changed, set down what it brought up. */
export function planTeardown(f: HostFacts, s: RsState): TeardownPlan {
  const changes: Change[] = [];
  const satisfied: string[] = [];
  const warnings: string[] = [];
  for (const v of s.vips) {
    if (!v.added) {
      satisfied.push(`${v.address} was on ${v.device} before setup: left there`);
      continue;
    }
    if (f.addresses.some((a) => a.address === v.address && a.ifname === v.device)) changes.push({ kind: 'address-del', vip: v, why: 'added by setup' });
    else satisfied.push(`${v.address} is no longer on ${v.device}`);
  }
  for (const x of s.sysctls) {
    if (x.before === undefined) continue;
    const cur = conf(f, x.ifname, x.param);
    if (cur === undefined) {
      warnings.push(`${confKey(x.ifname, x.param)} is gone (interface removed?): nothing to restore`);
      continue;
    }
    if (cur !== x.value && cur !== x.before) warnings.push(`${confKey(x.ifname, x.param)} was changed to ${cur} after setup; restoring ${x.before} anyway`);
    if (cur === x.before) satisfied.push(`${confKey(x.ifname, x.param)} = ${cur} (as before setup)`);
    else changes.push({ kind: 'sysctl', ifname: x.ifname, param: x.param, from: cur, to: x.before, why: 'the value before setup' });
  }
  for (const l of s.linksUp) {
    const link = linkByName(f, l);
    if (link?.up) changes.push({ kind: 'link', ifname: l, up: false, why: 'brought up by setup' });
  }
  // VIPs go first so that the ARP settings never stop protecting a VIP that is still there.
  return { changes, satisfied, warnings };
}

/** One line for a change, as setup/teardown print it. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'sysctl':
      return `set ${confKey(c.ifname, c.param)} ${c.from} -> ${c.to}`;
    case 'address-add':
      return `add ${c.vip.address}/${c.vip.prefix} dev ${c.vip.device}${c.vip.label ? ` label ${c.vip.label}` : ''}`;
    case 'address-del':
      return `delete ${c.vip.address}/${c.vip.prefix} dev ${c.vip.device}`;
    case 'link':
      return `set link ${c.ifname} ${c.up ? 'up' : 'down'}`;
  }
}
