// `haldir doctor` findings as a pure function of what was observed: the host's
// facts (interfaces, addresses, routes, sysctls), the roles this host plays
// (real server of which VIPs in which mode; director of which services), tool
// availability, what was heard on the wire during a VRRP listen window, TCP
// connects to the real servers, and event-loop lateness. Each finding has a
// stable code, a severity, the evidence it rests on and the command that fixes it.
import type { LbKind } from '../model/types.js';
import {
  addressesOn,
  arpAnnounceOk,
  arpIgnoreOk,
  conf,
  defaultRoute,
  describeKind,
  effective,
  effectiveText,
  interfacesFacing,
  ipFamily,
  linkByName,
  localAddresses,
  otherArpInterfaces,
  routeFor,
  type ConfParam,
  type HostFacts,
  type HostLink,
} from './facts.js';
import { TUN_DEVICE } from './realserver.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  code: string;
  severity: Severity;
  title: string;
  evidence: string[];
  /** Commands that fix it, in order. */
  fix?: string[];
}

/** This host as a real server of a VIP. */
export interface RsRole {
  vip: string;
  mode: 'dr' | 'tun' | 'nat';
  /** Where the role comes from: "virtual_server 10.0.0.1:80 (lb.conf:12)", "--vip", "setup record". */
  from: string;
}

export interface DirectorService {
  name: string;
  vip?: string;
  kind: LbKind;
  realServers: { address: string; port?: number }[];
}

export interface DirectorInstance {
  name: string;
  iface: string;
  vrid: number;
  version: 2 | 3;
  priority: number;
  advertInt: number;
  vips: string[];
  unicast: boolean;
}

export interface DirectorRole {
  node: string;
  services: DirectorService[];
  instances: DirectorInstance[];
  /** Other nodes of the configuration with an instance of the same VRID, by VRID. */
  peersByVrid: Record<number, string[]>;
}

export interface HeardAdvert {
  src: string;
  vrid: number;
  version: number;
  priority: number;
  addresses: string[];
  count: number;
  /** Another haldir doctor's probe. */
  probe: boolean;
  /** A probe whose address list names one of our addresses: that doctor heard our probe. */
  listsUs: boolean;
}

export interface VrrpObservation {
  iface: string;
  windowMs: number;
  probeVrid: number;
  probesSent: number;
  sendError?: string;
  listenError?: string;
  adverts: HeardAdvert[];
}

export interface TargetResult {
  service: string;
  address: string;
  port: number;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface DoctorInput {
  facts: HostFacts;
  realServer: RsRole[];
  director?: DirectorRole;
  /** Acceptable default gateways of a NAT real server (--director, the configuration's VRRP VIPs). */
  natGateways: string[];
  tools: { nft?: { ok: boolean; detail: string }; ipvs: boolean };
  vrrp: VrrpObservation[];
  targets: TargetResult[];
  lag?: { p50: number; p99: number; max: number; windowMs: number };
  lagThresholdMs: number;
  /** Concurrent connections the operator expects (conntrack must hold them). */
  expectConnections: number;
}

const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** The next power of two at or above n (conntrack sizes are usually powers of two). */
const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(2, n)));

/** Interfaces whose ARP behaviour matters for a VIP: those on its subnet, else the default route's. */
function arpInterfacesFor(f: HostFacts, vip: string): HostLink[] {
  const names = ipFamily(vip) === 4 ? interfacesFacing(f, vip) : [];
  if (names.length === 0) {
    const d = defaultRoute(f)?.oif;
    if (d) names.push(d);
  }
  return names.map((n) => linkByName(f, n)).filter((l): l is HostLink => !!l && !l.loopback && !l.noarp);
}

/** A VIP is held by this node's VRRP (as master it is expected on the interface). */
function heldByVrrp(d: DirectorRole | undefined, vip: string): string | undefined {
  return d?.instances.find((i) => i.vips.includes(vip))?.name;
}

function arpFix(ifnames: string[], param: ConfParam, value: number, f: HostFacts): string[] {
  const out = [`sysctl -w ${ifnames.map((n) => `net.ipv4.conf.${n.replace(/\./g, '/')}.${param}=${value}`).join(' ')}`];
  // A higher conf/all wins over the interface (max): an all=8 or 3 must come down too.
  if (param === 'arp_ignore' && (conf(f, 'all', param) ?? 0) > 2) out.push('sysctl -w net.ipv4.conf.all.arp_ignore=0');
  return out;
}

function realServerFindings(x: DoctorInput, out: Finding[]): void {
  const f = x.facts;
  const seen = new Set<string>();
  for (const r of x.realServer) {
    const key = `${r.vip}|${r.mode}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (r.mode === 'nat') {
      natRealServer(x, r, out);
      continue;
    }
    const fam = ipFamily(r.vip);
    const setup = `haldir realserver setup --vip ${r.vip} --mode ${r.mode}`;
    const on = f.addresses.filter((a) => a.address === r.vip);
    const held = heldByVrrp(x.director, r.vip);
    // ARP flux: the VIP on an ARP interface the host answers for, with no VRRP owning it there.
    for (const a of on) {
      const l = linkByName(f, a.ifname);
      if (!l || l.loopback || l.noarp) continue;
      if (held) continue;
      out.push({
        code: 'arp-flux',
        severity: 'error',
        title: `VIP ${r.vip} is on ${a.ifname} of a ${r.mode.toUpperCase()} real server: it answers ARP for the VIP and steals the director's traffic`,
        evidence: [`${r.vip}/${a.prefix} dev ${a.ifname}${a.label ? ` label ${a.label}` : ''}`, `real server of ${r.from}`, 'no VRRP instance of this node carries this VIP'],
        fix: [`ip address del ${r.vip}/${a.prefix} dev ${a.ifname}`, setup],
      });
    }
    const onDevice = on.some((a) => a.ifname === 'lo' || (r.mode === 'tun' && a.ifname === TUN_DEVICE));
    if (!onDevice && !(held && on.length > 0)) {
      out.push({
        code: 'rs-vip-missing',
        severity: 'error',
        title: `VIP ${r.vip} is not on ${r.mode === 'tun' ? `${TUN_DEVICE} or lo` : 'lo'}: this real server drops the ${r.mode === 'tun' ? 'decapsulated packets' : "director's frames"} for it`,
        evidence: [`real server of ${r.from}`, on.length ? `${r.vip} only on ${on.map((a) => a.ifname).join(', ')}` : `${r.vip} is on no interface`],
        fix: [setup],
      });
    }
    if (r.mode === 'tun') {
      const t = linkByName(f, TUN_DEVICE);
      if (!t)
        out.push({
          code: 'tun-no-ipip',
          severity: 'error',
          title: `${TUN_DEVICE} does not exist: the ipip module is not loaded, IPIP packets from the director are dropped`,
          evidence: [`no interface ${TUN_DEVICE}`, `real server of ${r.from}`],
          fix: ['modprobe ipip', `ip link set dev ${TUN_DEVICE} up`, setup],
        });
      else {
        if (!t.up)
          out.push({ code: 'tun-down', severity: 'error', title: `${TUN_DEVICE} is down: no decapsulation`, evidence: [`${TUN_DEVICE} state down`], fix: [`ip link set dev ${TUN_DEVICE} up`] });
        if (effective(f, TUN_DEVICE, 'rp_filter') === 1)
          out.push({
            code: 'tun-rp-filter',
            severity: 'error',
            title: `strict rp_filter on ${TUN_DEVICE}: packets decapsulated there come from clients routed elsewhere and are dropped`,
            evidence: [effectiveText(f, TUN_DEVICE, 'rp_filter')],
            fix: [`sysctl -w net.ipv4.conf.${TUN_DEVICE}.rp_filter=2`],
          });
      }
    }
    if (fam !== 4) continue;
    // ARP suppression where the VIP's subnet is (the kernel uses max(all, IF)).
    const ifs = arpInterfacesFor(f, r.vip);
    const badIgnore = ifs.filter((l) => !arpIgnoreOk(effective(f, l.name, 'arp_ignore')));
    const badAnnounce = ifs.filter((l) => !arpAnnounceOk(effective(f, l.name, 'arp_announce')));
    if (badIgnore.length > 0) {
      const eight = badIgnore.filter((l) => effective(f, l.name, 'arp_ignore') === 8);
      out.push({
        code: 'arp-ignore',
        severity: 'error',
        title: eight.length
          ? `effective arp_ignore is 8 on ${eight.map((l) => l.name).join(', ')}: the host answers no ARP at all there — not even for its own address (SSH to it breaks)`
          : `effective arp_ignore on ${badIgnore.map((l) => l.name).join(', ')} is not 1: the host answers ARP there for addresses of other interfaces, VIP ${r.vip} included`,
        evidence: [...badIgnore.map((l) => `${l.name} (${describeKind(l)}): ${effectiveText(f, l.name, 'arp_ignore')}`), `real server of ${r.from}`],
        fix: arpFix(badIgnore.map((l) => l.name), 'arp_ignore', 1, f),
      });
    }
    if (badAnnounce.length > 0)
      out.push({
        code: 'arp-announce',
        severity: 'error',
        title: `effective arp_announce on ${badAnnounce.map((l) => l.name).join(', ')} is not 2: ARP requests may carry VIP ${r.vip} as source and repoint neighbours' caches to this host`,
        evidence: [...badAnnounce.map((l) => `${l.name} (${describeKind(l)}): ${effectiveText(f, l.name, 'arp_announce')}`), `real server of ${r.from}`],
        fix: arpFix(badAnnounce.map((l) => l.name), 'arp_announce', 2, f),
      });
    sharedHost(x, r.vip, ifs, out);
  }
}

/** Docker bridges, veths, macvlan/ipvlan, bonds, VLANs: the global (all/default) ARP settings reach them too. */
function sharedHost(x: DoctorInput, vip: string, facing: HostLink[], out: Finding[]): void {
  const f = x.facts;
  const iface = facing[0]?.name;
  if (!iface) return;
  const shared = otherArpInterfaces(f, iface).filter((o) => !facing.some((l) => l.name === o.link.name));
  if (shared.length === 0) return;
  if (out.some((o) => o.code === 'shared-host-global-arp' || o.code === 'shared-host')) return;
  const allIgnore = conf(f, 'all', 'arp_ignore') ?? 0;
  const allAnnounce = conf(f, 'all', 'arp_announce') ?? 0;
  const names = facing.map((l) => l.name);
  const list = shared.map((o) => `${o.link.name} (${o.why})`);
  if (allIgnore > 0 || allAnnounce > 0) {
    const own = [...names, 'lo'];
    out.push({
      code: 'shared-host-global-arp',
      severity: 'warning',
      title: `ARP suppression is set globally (conf/all) on a host shared with ${shared.map((o) => o.link.name).join(', ')}: it changes how those answer ARP too; set it only on ${names.join(', ')} and lo`,
      evidence: [`net.ipv4.conf.all.arp_ignore = ${allIgnore}, net.ipv4.conf.all.arp_announce = ${allAnnounce}`, ...list],
      fix: [
        `sysctl -w ${own.flatMap((n) => [`net.ipv4.conf.${n.replace(/\./g, '/')}.arp_ignore=1`, `net.ipv4.conf.${n.replace(/\./g, '/')}.arp_announce=2`]).join(' ')}`,
        'sysctl -w net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0',
        `haldir realserver setup --vip ${vip} --iface ${names[0]} --persist`,
      ],
    });
  } else
    out.push({
      code: 'shared-host',
      severity: 'info',
      title: `shared host (${shared.map((o) => o.link.name).join(', ')}): ARP settings are per interface (targeted), all/default untouched — as it should be`,
      evidence: list,
    });
}

function natRealServer(x: DoctorInput, r: RsRole, out: Finding[]): void {
  const f = x.facts;
  const d = defaultRoute(f);
  const gws = x.natGateways;
  const want = gws[0];
  if (!d || !d.gateway) {
    out.push({
      code: 'nat-gateway',
      severity: 'error',
      title: 'NAT real server without a default gateway: replies to clients never go back through the director, which must undo the NAT',
      evidence: [d ? `default route dev ${d.oif} without a gateway` : 'no default route', `real server of ${r.from}`],
      ...(want ? { fix: [`ip route replace default via ${want}`] } : {}),
    });
    return;
  }
  if (gws.length === 0) {
    out.push({
      code: 'nat-gateway-unknown',
      severity: 'info',
      title: `NAT real server: default gateway ${d.gateway}; NAT needs it to be the director (give --director ADDRESS, or the configuration file, to check)`,
      evidence: [`default via ${d.gateway} dev ${d.oif ?? '?'}`],
    });
    return;
  }
  if (!gws.includes(d.gateway))
    out.push({
      code: 'nat-gateway',
      severity: 'error',
      title: `NAT real server's default gateway is ${d.gateway}, not the director (${gws.join(', ')}): replies bypass the director and clients drop them`,
      evidence: [`default via ${d.gateway} dev ${d.oif ?? '?'}`, `director addresses: ${gws.join(', ')}`, `real server of ${r.from}`],
      fix: [`ip route replace default via ${want}`],
    });
}

function directorFindings(x: DoctorInput, out: Finding[]): void {
  const d = x.director;
  if (!d) return;
  const f = x.facts;
  const nat = d.services.filter((s) => s.kind === 'NAT');
  const tun = d.services.filter((s) => s.kind === 'TUN');
  for (const i of d.instances)
    if (!linkByName(f, i.iface))
      out.push({
        code: 'vrrp-interface-missing',
        severity: 'error',
        title: `VRRP instance ${i.name} runs on ${i.iface}, which this host does not have`,
        evidence: [`interfaces: ${f.links.map((l) => l.name).join(', ')}`],
        fix: [`set "interface" of ${i.name} to one of them`],
      });
  if (nat.length > 0 && f.sysctl['net.ipv4.ip_forward'] !== 1)
    out.push({
      code: 'ip-forward',
      severity: 'error',
      title: 'IP forwarding is off on a NAT director: it cannot forward clients to the real servers nor replies back',
      evidence: [`net.ipv4.ip_forward = ${f.sysctl['net.ipv4.ip_forward'] ?? '?'}`, `NAT services: ${nat.map((s) => s.name).join(', ')}`],
      fix: ['sysctl -w net.ipv4.ip_forward=1', "echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-haldir-director.conf"],
    });
  // One-armed NAT: replies come in and go out the same interface → ICMP redirects tell real servers to bypass us.
  const redirectIfs = new Set<string>();
  for (const s of nat) {
    if (!s.vip || ipFamily(s.vip) !== 4) continue;
    const clientIf = routeFor(f, s.vip)?.oif ?? interfacesFacing(f, s.vip)[0];
    for (const rs of s.realServers) {
      const via = routeFor(f, rs.address)?.oif;
      if (via && via === clientIf && effective(f, via, 'send_redirects') === 1) redirectIfs.add(via);
    }
  }
  for (const i of redirectIfs)
    out.push({
      code: 'send-redirects',
      severity: 'warning',
      title: `one-armed NAT on ${i}: the director will send ICMP redirects telling real servers to bypass it`,
      evidence: [effectiveText(f, i, 'send_redirects')],
      fix: [`sysctl -w net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.${i}.send_redirects=0`],
    });
  // TUN: IPIP adds 20 bytes; a full-size client packet no longer fits a 1500 path.
  const mtuSeen = new Set<string>();
  for (const s of tun)
    for (const rs of s.realServers) {
      if (ipFamily(rs.address) !== 4) continue;
      const via = routeFor(f, rs.address)?.oif;
      const l = via ? linkByName(f, via) : undefined;
      if (!l || l.mtu > 1500 || mtuSeen.has(l.name)) continue;
      mtuSeen.add(l.name);
      out.push({
        code: 'tun-mtu',
        severity: 'warning',
        title: `TUN: ${l.name} (MTU ${l.mtu}) carries IPIP to the real servers; a full-size client packet becomes ${l.mtu + 20} bytes and must be fragmented or dropped`,
        evidence: [`${rs.address} is reached through ${l.name}, MTU ${l.mtu}`, `service ${s.name}`],
        fix: [
          `ip link set dev ${l.name} mtu ${l.mtu + 20}   # where the path carries it; otherwise, on every real server:`,
          `nft add table inet haldir_mss`,
          `nft add chain inet haldir_mss out '{ type filter hook output priority mangle; }'`,
          `nft add rule inet haldir_mss out ip saddr ${s.vip ?? 'VIP'} tcp flags syn,ack tcp option maxseg size set ${l.mtu - 60}`,
        ],
      });
    }
  // Data planes.
  if (x.tools.nft && !x.tools.nft.ok)
    out.push({
      code: 'nftables-missing',
      severity: 'error',
      title: "nftables is not usable: haldir's kernel data plane (the default as root) cannot be programmed",
      evidence: [x.tools.nft.detail],
      fix: ['apt-get install nftables'],
    });
  if (!x.tools.ipvs && d.services.length > 0)
    out.push({
      code: 'ipvs-missing',
      severity: 'info',
      title: 'IPVS is not loaded: haldir run --dataplane ipvs would fail (nftables, the default, does not need it)',
      evidence: ['/proc/net/ip_vs does not exist'],
      fix: ['modprobe ip_vs'],
    });
}

function conntrackFindings(x: DoctorInput, out: Finding[]): void {
  const max = x.facts.sysctl['net.netfilter.nf_conntrack_max'];
  const count = x.facts.sysctl['net.netfilter.nf_conntrack_count'];
  if (max === undefined) return;
  const size = pow2(x.expectConnections);
  const persist = `echo 'net.netfilter.nf_conntrack_max = ${size}' > /etc/sysctl.d/90-haldir-conntrack.conf`;
  if (count !== undefined && max > 0 && count >= 0.9 * max)
    out.push({
      code: 'conntrack-full',
      severity: 'error',
      title: `the conntrack table is ${Math.round((count / max) * 100)}% full: new connections are dropped when it fills`,
      evidence: [`net.netfilter.nf_conntrack_count = ${count}`, `net.netfilter.nf_conntrack_max = ${max}`],
      fix: [`sysctl -w net.netfilter.nf_conntrack_max=${pow2(max * 2)}`, persist],
    });
  else if (max < x.expectConnections)
    out.push({
      code: 'conntrack-small',
      severity: 'warning',
      title: `the conntrack table holds ${max} connections, fewer than the ${x.expectConnections} expected: beyond it new connections are dropped ("nf_conntrack: table full")`,
      evidence: [`net.netfilter.nf_conntrack_max = ${max}`, `expected concurrent connections: ${x.expectConnections} (--expect-connections)`],
      fix: [`sysctl -w net.netfilter.nf_conntrack_max=${size}`, persist],
    });
}

const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && a.every((v) => b.includes(v));

function vrrpFindings(x: DoctorInput, out: Finding[]): void {
  const d = x.director;
  const local = localAddresses(x.facts);
  for (const o of x.vrrp) {
    const where = `${o.iface}, ${f1(o.windowMs / 1000)} s`;
    if (o.listenError) {
      out.push({ code: 'vrrp-listen-failed', severity: 'warning', title: `cannot listen for VRRP on ${o.iface}: ${o.listenError}`, evidence: [o.listenError], fix: ['run haldir doctor as root'] });
      continue;
    }
    const heard = o.adverts.filter((a) => !local.has(a.src));
    const ours = (d?.instances ?? []).filter((i) => i.iface === o.iface && !i.unicast);
    const ourVrids = new Set(ours.map((i) => i.vrid));
    // Our VRIDs: a peer master's adverts, or someone else's router on the same VRID.
    for (const i of ours) {
      const same = heard.filter((a) => !a.probe && a.vrid === i.vrid);
      const wrong = same.filter((a) => !sameSet(a.addresses, i.vips));
      for (const a of wrong)
        out.push({
          code: 'vrrp-vrid-conflict',
          severity: 'error',
          title: `VRID ${i.vrid} on ${o.iface} is also used by ${a.src}, advertising ${a.addresses.join(', ') || 'no address'} instead of ${i.vips.join(', ')}: two clusters fight over one virtual MAC (00:00:5e:00:01:${i.vrid.toString(16).padStart(2, '0')})`,
          evidence: [`${a.count} advert(s) from ${a.src}: VRRPv${a.version} VRID ${a.vrid} priority ${a.priority}`, `instance ${i.name}: ${i.vips.join(', ')}`],
          fix: [`choose a VRID nobody uses on ${o.iface} for ${i.name} (seen in use: ${[...new Set(heard.filter((h) => !h.probe).map((h) => h.vrid))].sort((p, q) => p - q).join(', ')})`],
        });
      const peers = same.filter((a) => !wrong.includes(a));
      const master = i.vips.some((v) => local.has(v));
      if (peers.length > 0)
        out.push({
          code: 'vrrp-master-heard',
          severity: 'info',
          title: `VRID ${i.vrid} (${i.name}): adverts heard from ${peers.map((p) => `${p.src} (priority ${p.priority})`).join(', ')}`,
          evidence: peers.map((p) => `${p.count} advert(s) from ${p.src} in ${where}`),
        });
      else if (!master)
        out.push({
          code: 'vrrp-no-master',
          severity: 'error',
          title: `no VRRP advert for VRID ${i.vrid} (${i.name}) heard on ${o.iface} in ${f1(o.windowMs / 1000)} s and this node does not hold its VIPs: no master, or multicast 224.0.0.18 (IP protocol 112) does not reach this node — a backup here would take over (split brain)`,
          evidence: [
            `listened on ${where}`,
            `adverts heard: ${heard.length === 0 ? 'none' : heard.map((h) => `${h.src} VRID ${h.vrid}`).join(', ')}`,
            'where the network carries no multicast at all (some clouds), use unicast_peer instead',
          ],
          fix: [`nft insert rule inet filter input ip daddr 224.0.0.18 ip protocol vrrp accept   # on every node, if a firewall drops VRRP`],
        });
    }
    // Other doctors' probes: multicast proven both ways when their probe lists our address.
    const probes = new Map<string, HeardAdvert>();
    for (const a of heard.filter((h) => h.probe)) {
      const p = probes.get(a.src);
      probes.set(a.src, p ? { ...p, listsUs: p.listsUs || a.listsUs, count: p.count + a.count } : a);
    }
    const two = [...probes.values()].filter((p) => p.listsUs);
    const one = [...probes.values()].filter((p) => !p.listsUs);
    if (two.length > 0)
      out.push({
        code: 'vrrp-multicast-ok',
        severity: 'info',
        title: `VRRP multicast works both ways on ${o.iface} with ${two.map((p) => p.src).join(', ')} (its doctor heard our probe, ours heard its)`,
        evidence: [`${o.probesSent} probe(s) sent (VRID ${o.probeVrid}, priority 1) to 224.0.0.18`, ...two.map((p) => `${p.count} probe(s) from ${p.src} naming us`)],
      });
    for (const p of one)
      out.push({
        code: 'vrrp-multicast-one-way',
        severity: 'warning',
        title: `${p.src}'s VRRP probes reach this node on ${o.iface}, but none of them shows ours arriving there: multicast from here to ${p.src} is lost (or its doctor stopped before ours started)`,
        evidence: [`${p.count} probe(s) from ${p.src}, none naming our address`, `${o.probesSent} probe(s) sent by us`],
        fix: [`on ${p.src}: nft insert rule inet filter input ip daddr 224.0.0.18 ip protocol vrrp accept   # if a firewall drops VRRP; then run both doctors at the same time again`],
      });
    if (o.sendError)
      out.push({ code: 'vrrp-probe-failed', severity: 'warning', title: `could not send the VRRP probe on ${o.iface}: ${o.sendError}`, evidence: [o.sendError] });
    const expected = ours.flatMap((i) => d?.peersByVrid[i.vrid] ?? []);
    if (probes.size === 0 && expected.length > 0 && !out.some((z) => z.code === 'vrrp-no-master'))
      out.push({
        code: 'vrrp-probe-unanswered',
        severity: 'info',
        title: `no peer doctor answered our VRRP probe on ${o.iface}: to prove multicast both ways, run haldir doctor with the same file on ${[...new Set(expected)].join(', ')} at the same time`,
        evidence: [`${o.probesSent} probe(s) sent (VRID ${o.probeVrid}) to 224.0.0.18`],
      });
    // VRIDs of other clusters.
    const foreign = new Map<number, HeardAdvert[]>();
    for (const a of heard.filter((h) => !h.probe && !ourVrids.has(h.vrid))) foreign.set(a.vrid, [...(foreign.get(a.vrid) ?? []), a]);
    for (const [vrid, as] of foreign)
      out.push({
        code: 'vrrp-foreign-vrid',
        severity: 'warning',
        title: `foreign VRID ${vrid} on ${o.iface} from ${as.map((a) => a.src).join(', ')}: another VRRP cluster shares this network; its VRIDs must never match ours${ourVrids.size ? ` (${[...ourVrids].join(', ')})` : ''}`,
        evidence: as.map((a) => `${a.count} advert(s) from ${a.src}: VRRPv${a.version} priority ${a.priority}, addresses ${a.addresses.join(', ') || 'none'}`),
        fix: [`keep ${vrid} out of this cluster's virtual_router_id values`],
      });
  }
}

function targetFindings(x: DoctorInput, out: Finding[]): void {
  for (const t of x.targets) {
    if (t.ok) continue;
    out.push({
      code: 'target-unreachable',
      severity: 'error',
      title: `real server ${t.address}:${t.port} of ${t.service} does not accept TCP connections: ${t.error ?? 'failed'}`,
      evidence: [`TCP connect from this node: ${t.error ?? 'failed'} after ${Math.round(t.ms)} ms`],
      fix: [`on ${t.address}: ss -ltn 'sport = :${t.port}'   # the service must listen there (and on the VIP for DR/TUN)`],
    });
  }
  const ok = x.targets.filter((t) => t.ok);
  if (ok.length > 0)
    out.push({
      code: 'targets-reachable',
      severity: 'info',
      title: `${ok.length} of ${x.targets.length} real server(s) accept TCP connections`,
      evidence: ok.map((t) => `${t.address}:${t.port} in ${f1(t.ms)} ms`),
    });
}

function lagFindings(x: DoctorInput, out: Finding[]): void {
  const l = x.lag;
  if (!l) return;
  const ev = [`over ${f1(l.windowMs / 1000)} s: p50 ${f1(l.p50)} ms, p99 ${f1(l.p99)} ms, max ${f1(l.max)} ms late`, `threshold ${f1(x.lagThresholdMs)} ms`];
  if (l.max > x.lagThresholdMs)
    out.push({
      code: 'timer-lateness',
      severity: 'warning',
      title: `timers fire up to ${f1(l.max)} ms late on this host: VRRP adverts sent that late can make a backup declare a live master dead`,
      evidence: ev,
      fix: ['find what starves the CPU (top -d 1); give haldir priority: systemctl edit haldir → [Service] Nice=-10 CPUSchedulingPolicy=rr'],
    });
  else out.push({ code: 'timer-lateness-ok', severity: 'info', title: `timers run on time (max ${f1(l.max)} ms late)`, evidence: ev });
}

/** Every finding, errors first. */
export function diagnose(x: DoctorInput): Finding[] {
  const out: Finding[] = [];
  realServerFindings(x, out);
  directorFindings(x, out);
  conntrackFindings(x, out);
  vrrpFindings(x, out);
  targetFindings(x, out);
  lagFindings(x, out);
  const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  return out.map((f, i) => ({ f, i })).sort((a, b) => rank[a.f.severity] - rank[b.f.severity] || a.i - b.i).map((z) => z.f);
}

/** Per interface: the configured and effective ARP/rp_filter values (what `doctor` prints as a table). */
export interface InterfaceRow {
  name: string;
  kind: string;
  up: boolean;
  addresses: string[];
  values: Record<'arp_ignore' | 'arp_announce' | 'rp_filter', { all?: number; own?: number; effective?: number }>;
}

export function interfaceRows(f: HostFacts): InterfaceRow[] {
  return f.links.map((l) => {
    const values = {} as InterfaceRow['values'];
    for (const p of ['arp_ignore', 'arp_announce', 'rp_filter'] as const) {
      const v: { all?: number; own?: number; effective?: number } = {};
      const a = conf(f, 'all', p);
      const o = conf(f, l.name, p);
      const e = effective(f, l.name, p);
      if (a !== undefined) v.all = a;
      if (o !== undefined) v.own = o;
      if (e !== undefined) v.effective = e;
      values[p] = v;
    }
    return { name: l.name, kind: describeKind(l), up: l.up, addresses: addressesOn(f, l.name).map((a) => `${a.address}/${a.prefix}`), values };
  });
}

export function renderDoctor(findings: Finding[], rows: InterfaceRow[], roles: string[]): string {
  const n = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const lines: string[] = [];
  lines.push(`haldir doctor: ${n('error')} error(s), ${n('warning')} warning(s), ${n('info')} note(s)`);
  for (const r of roles) lines.push(`  role: ${r}`);
  lines.push('');
  for (const f of findings) {
    lines.push(`${f.severity.toUpperCase().padEnd(7)} ${f.code}: ${f.title}`);
    for (const e of f.evidence) lines.push(`        evidence: ${e}`);
    for (const c of f.fix ?? []) lines.push(`        fix: ${c}`);
  }
  lines.push('');
  lines.push('interfaces (effective = what the kernel uses: max of all and the interface):');
  const cell = (v: { all?: number; own?: number; effective?: number }) => `${v.effective ?? '?'} (all ${v.all ?? '?'}, own ${v.own ?? '?'})`;
  lines.push(`  ${'name'.padEnd(12)} ${'arp_ignore'.padEnd(20)} ${'arp_announce'.padEnd(20)} ${'rp_filter'.padEnd(20)} kind`);
  for (const r of rows)
    lines.push(`  ${r.name.padEnd(12)} ${cell(r.values.arp_ignore).padEnd(20)} ${cell(r.values.arp_announce).padEnd(20)} ${cell(r.values.rp_filter).padEnd(20)} ${r.kind}${r.up ? '' : ', down'}${r.addresses.length ? ` ${r.addresses.join(' ')}` : ''}`);
  return lines.join('\n') + '\n';
}
