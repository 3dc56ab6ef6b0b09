// Host facts written by hand for the pure planners: a real server with eth0
// (and optionally Docker's bridge with a veth port, a macvlan, a second NIC,
// tunl0), every sysctl at its kernel default unless overridden.
import type { HostFacts, HostLink } from '../../src/host/facts.js';

export interface FactsSpec {
  docker?: boolean;
  macvlan?: boolean;
  eth1?: boolean;
  tunl0?: 'up' | 'down';
  /** Overrides: 'all.arp_ignore': 1, 'eth0.rp_filter': 1 … */
  conf?: Record<string, number>;
  sysctl?: Record<string, number>;
  /** Extra addresses "ifname address/prefix". */
  addrs?: string[];
  defaultVia?: { gateway?: string; oif: string };
}

export function facts(s: FactsSpec = {}): HostFacts {
  const links: HostLink[] = [
    { name: 'lo', ifindex: 1, kind: '', up: true, mtu: 65536, loopback: true, noarp: true },
    { name: 'eth0', ifindex: 2, kind: '', up: true, mtu: 1500, loopback: false, noarp: false },
  ];
  const addresses: HostFacts['addresses'] = [
    { ifname: 'lo', family: 4, address: '127.0.0.1', prefix: 8 },
    { ifname: 'eth0', family: 4, address: '10.0.0.21', prefix: 24 },
  ];
  let i = 3;
  if (s.docker) {
    links.push({ name: 'docker0', ifindex: i++, kind: 'bridge', up: true, mtu: 1500, loopback: false, noarp: false });
    links.push({ name: 'veth9a1b2c3', ifindex: i++, kind: 'veth', master: 'docker0', up: true, mtu: 1500, loopback: false, noarp: false });
    addresses.push({ ifname: 'docker0', family: 4, address: '172.17.0.1', prefix: 16 });
  }
  if (s.macvlan) {
    links.push({ name: 'mv0', ifindex: i++, kind: 'macvlan', lower: 'eth0', up: true, mtu: 1500, loopback: false, noarp: false });
    addresses.push({ ifname: 'mv0', family: 4, address: '10.0.0.50', prefix: 24 });
  }
  if (s.eth1) {
    links.push({ name: 'eth1', ifindex: i++, kind: '', up: true, mtu: 1500, loopback: false, noarp: false });
    addresses.push({ ifname: 'eth1', family: 4, address: '192.168.50.21', prefix: 24 });
  }
  if (s.tunl0) links.push({ name: 'tunl0', ifindex: i++, kind: 'ipip', up: s.tunl0 === 'up', mtu: 1480, loopback: false, noarp: true });
  for (const a of s.addrs ?? []) {
    const [ifname, cidr] = a.split(' ');
    const [address, prefix] = cidr!.split('/');
    addresses.push({ ifname: ifname!, family: address!.includes(':') ? 6 : 4, address: address!, prefix: Number(prefix) });
  }
  const conf: HostFacts['conf'] = {};
  for (const n of ['all', 'default', ...links.map((l) => l.name)]) conf[n] = { arp_ignore: 0, arp_announce: 0, rp_filter: 0, send_redirects: 1 };
  for (const [k, v] of Object.entries(s.conf ?? {})) {
    const [n, p] = k.split('.') as [string, 'arp_ignore'];
    conf[n] = { ...conf[n], [p]: v };
  }
  const routes: HostFacts['routes'] = [{ dst: '10.0.0.0', prefix: 24, oif: 'eth0' }];
  if (s.eth1) routes.push({ dst: '192.168.50.0', prefix: 24, oif: 'eth1' });
  const d = s.defaultVia ?? { gateway: '10.0.0.1', oif: 'eth0' };
  routes.push({ dst: '0.0.0.0', prefix: 0, oif: d.oif, ...(d.gateway ? { gateway: d.gateway } : {}) });
  return { links, addresses, routes, conf, sysctl: { 'net.ipv4.ip_forward': 0, 'net.netfilter.nf_conntrack_max': 262144, 'net.netfilter.nf_conntrack_count': 10, ...s.sysctl } };
}
