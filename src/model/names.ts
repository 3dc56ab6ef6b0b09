// How messages name model objects: one spelling for validate, the cluster consistency
// rules and keepalived's-reading warnings, so the same service reads the same everywhere.
import type { RealServer, VirtualServer } from './types.js';

/** "10.0.0.1:80", "[2001:db8::1]:80", or the bare address without a port. */
export function hostPort(address: string, port: number | undefined): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/** "192.168.2.100:80/TCP", "fwmark 1/TCP", "group WEB/TCP". */
export function vsName(vs: VirtualServer): string {
  const a = vs.address;
  const where = a.kind === 'ip' ? hostPort(a.address, a.port) : a.kind === 'fwmark' ? `fwmark ${a.fwmark}` : `group ${a.group}`;
  return `${where}/${vs.protocol}`;
}

/** The keepalived.conf block line: "virtual_server 192.168.2.100 80". */
export function vsBlock(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `virtual_server ${a.address} ${a.port}`;
  return a.kind === 'fwmark' ? `virtual_server fwmark ${a.fwmark}` : `virtual_server group ${a.group}`;
}

/** "real_server 192.168.2.11 80". */
export function rsBlock(rs: RealServer): string {
  return `real_server ${rs.address}${rs.port === undefined ? '' : ` ${rs.port}`}`;
}
