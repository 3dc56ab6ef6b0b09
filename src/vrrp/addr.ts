// IPv4/IPv6 address <-> bytes for the VRRP codec: pure, never throws. VRRP
// carries addresses as raw 4- or 16-byte fields (RFC 3768 §5.3.9, RFC 5798
// §5.2.9) and compares them as unsigned integers (RFC 5798 §6.4.3), so the
// core works on bytes and prints canonical text (RFC 5952 for IPv6) so that
// equal addresses always compare equal as strings.
import type { Family } from '../model/types.js';

/** Parses dotted-quad IPv4; undefined when malformed. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses IPv6 text (with `::`, an embedded IPv4 tail, or a `%zone` suffix, which is dropped). */
export function parseIpv6(s: string): Uint8Array | undefined {
  const pct = s.indexOf('%');
  const text = pct >= 0 ? s.slice(0, pct) : s;
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return undefined;
  const all = [...head, ...new Array<number>(8 - n).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function parseIp(s: string, family: Family): Uint8Array | undefined {
  return family === 4 ? parseIpv4(s) : parseIpv6(s);
}

export function formatIpv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lower case, longest run (≥ 2) of zero groups compressed, first one on ties. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] as number) << 8) | (b[off + 2 * i + 1] as number));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function formatIp(b: Uint8Array, family: Family, off = 0): string {
  return family === 4 ? formatIpv4(b, off) : formatIpv6(b, off);
}

/** Canonical text of an address, or undefined when it does not parse in that family. */
export function canonicalIp(s: string, family: Family): string | undefined {
  const b = parseIp(s, family);
  return b ? formatIp(b, family) : undefined;
}

/** Compares two addresses as unsigned integers (RFC 5798 §6.4.3); unparsable sorts lowest. */
export function compareIp(a: string, b: string, family: Family): number {
  const x = parseIp(a, family);
  const y = parseIp(b, family);
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function isMulticast(s: string, family: Family): boolean {
  const b = parseIp(s, family);
  if (!b) return false;
  return family === 4 ? ((b[0] as number) & 0xf0) === 0xe0 : b[0] === 0xff;
}
