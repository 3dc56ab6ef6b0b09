// Value syntax shared by the front ends: addresses, prefixes, integers with
// ranges, timers in seconds, booleans. Pure functions returning a value or an
// error message; the caller attaches the location.
import { isIP } from 'node:net';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

export function parseIntRange(s: string, min: number, max: number, what: string): Parsed<number> {
  if (!/^[+-]?\d+$/.test(s)) return fail(`${what} must be a whole number, got "${s}"`);
  const n = Number(s);
  if (n < min || n > max) return fail(`${what} must be between ${min} and ${max}, got ${n}`);
  return ok(n);
}

/** keepalived <TIMER>: seconds, fractions allowed (resolution µs). */
export function parseSeconds(s: string, min: number, max: number, what: string): Parsed<number> {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(s)) return fail(`${what} must be a number of seconds, got "${s}"`);
  const n = Number(s);
  if (n < min || n > max) return fail(`${what} must be between ${min} and ${max} seconds, got ${s}`);
  return ok(Math.round(n * 1e6) / 1e6);
}

const TRUE = new Set(['on', 'true', 'yes']);
const FALSE = new Set(['off', 'false', 'no']);

/** keepalived <BOOL>; a bare flag keyword means true. */
export function parseBool(s: string | undefined, what: string): Parsed<boolean> {
  if (s === undefined) return ok(true);
  const l = s.toLowerCase();
  if (TRUE.has(l)) return ok(true);
  if (FALSE.has(l)) return ok(false);
  return fail(`${what} takes on|off|true|false|yes|no, got "${s}"`);
}

export function parseIp(s: string, what: string): Parsed<{ address: string; family: 4 | 6 }> {
  const v = isIP(s);
  if (v === 0) return fail(`${what}: "${s}" is not an IPv4 or IPv6 address`);
  return ok({ address: s.toLowerCase(), family: v as 4 | 6 });
}

export function parsePort(s: string, what = 'port'): Parsed<number> {
  return parseIntRange(s, 0, 65535, what);
}

/** "ADDR[/PREFIX]" with the prefix checked against the family. */
export function parseCidr(s: string, what: string): Parsed<{ address: string; family: 4 | 6; prefix?: number }> {
  const [addr, pre, extra] = s.split('/');
  if (extra !== undefined) return fail(`${what}: "${s}" has more than one '/'`);
  const ip = parseIp(addr ?? '', what);
  if (!ip.ok) return ip;
  if (pre === undefined) return ok(ip.value);
  const max = ip.value.family === 4 ? 32 : 128;
  const p = parseIntRange(pre, 0, max, `${what} prefix length`);
  if (!p.ok) return p;
  return ok({ ...ip.value, prefix: p.value });
}

/** IPv4 address → 32-bit number. */
export function ipv4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** Expands an IPv6 address to 8 hextets. */
export function ipv6Hextets(a: string): number[] {
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = ipv4ToInt(v4[1]!);
    s = s.slice(0, -v4[1]!.length) + ((n >>> 16) & 0xffff).toString(16) + ':' + (n & 0xffff).toString(16);
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  return [...h, ...Array<string>(fill).fill('0'), ...t].map((x) => parseInt(x, 16));
}

/** Does `addr` fall inside `net/prefix` (same family)? */
export function inSubnet(addr: string, net: string, prefix: number): boolean {
  const fa = isIP(addr);
  if (fa !== isIP(net) || fa === 0) return false;
  if (fa === 4) {
    if (prefix === 0) return true;
    const mask = prefix === 32 ? 0xffffffff : (~(0xffffffff >>> prefix)) >>> 0;
    return ((ipv4ToInt(addr) & mask) >>> 0) === ((ipv4ToInt(net) & mask) >>> 0);
  }
  const a = ipv6Hextets(addr);
  const b = ipv6Hextets(net);
  let bits = prefix;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const m = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((a[i]! & m) !== (b[i]! & m)) return false;
  }
  return true;
}
