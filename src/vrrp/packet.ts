// VRRP advertisement codec: VRRPv2 (RFC 3768 §5.3) and VRRPv3 (RFC 5798 §5.2),
// checksums included. Pure: bytes in, bytes out. The IP header is not part of
// it — the caller passes the IP payload and, for v3 checksums, the source and
// destination addresses of the datagram. decode() never throws, whatever the
// input; encode() throws RangeError on values the wire format cannot carry
// (it only ever sees our own configuration).
import type { Family } from '../model/types.js';
import { formatIp, parseIp } from './addr.js';

/** IP protocol number of VRRP (RFC 5798 §5.1.1.4, RFC 3768 §5.2.4). */
export const IPPROTO_VRRP = 112;
/** TTL / hop limit of every advertisement (RFC 5798 §5.1.1.3, RFC 3768 §5.2.3). */
export const VRRP_TTL = 255;
/** The only packet type (RFC 5798 §5.2.2). */
export const VRRP_TYPE_ADVERTISEMENT = 1;
/** RFC 3768 §5.3.6. */
export const AUTH_NONE = 0;
export const AUTH_PASS = 1;
export const AUTH_AH = 2;
/** RFC 3768 §5.3.10: the authentication data field is 8 octets. */
export const AUTH_DATA_LEN = 8;
const HEADER_LEN = 8;

export interface VrrpV2Packet {
  version: 2;
  /** 1 = ADVERTISEMENT; anything else is kept so the receiver can count it. */
  type: number;
  vrid: number;
  priority: number;
  /** RFC 3768 §5.3.6: 0 none, 1 simple text password, 2 IP AH (decoded, not supported). */
  authType: number;
  /** RFC 3768 §5.3.7: whole seconds. */
  advertIntSec: number;
  /** IPv4 addresses in canonical dotted-quad text. */
  addresses: string[];
  /** The 8 octets of authentication data (RFC 3768 §5.3.10). */
  authData: Uint8Array;
}

export interface VrrpV3Packet {
  version: 3;
  type: number;
  vrid: number;
  priority: number;
  family: Family;
  /** RFC 5798 §5.2.6: must be sent as 0, ignored on receipt; kept for byte-exact round trips. */
  reserved: number;
  /** RFC 5798 §5.2.7: Max Advertise Interval, 12 bits, centiseconds. */
  maxAdvertIntCs: number;
  /** Canonical address text (RFC 5952 for IPv6). */
  addresses: string[];
}

export type VrrpPacket = VrrpV2Packet | VrrpV3Packet;

/** The fixed first bytes of any VRRP message, enough to dispatch on the VRID. */
export interface VrrpHeader {
  version: number;
  type: number;
  vrid: number;
  priority: number;
  count: number;
}

export type DecodeFailure = 'short' | 'version' | 'length';

export type DecodeResult =
  | { ok: true; packet: VrrpPacket; checksum: number }
  | { ok: false; reason: DecodeFailure; detail: string; header?: VrrpHeader };

/** Options for the checksum of VRRPv3 (RFC 5798 §5.2.8). */
export interface ChecksumOpts {
  /** Source and destination of the IP datagram (needed by the v3 pseudo-header). */
  src?: string;
  dst?: string;
  /** keepalived's `vrrp_v3_checksum_as_v2`: no pseudo-header, for old keepalived peers. */
  checksumAsV2?: boolean;
}

/** The VRRP header, or undefined when fewer than 8 bytes arrived. Never throws. */
export function peekHeader(raw: Uint8Array): VrrpHeader | undefined {
  if (!(raw instanceof Uint8Array) || raw.length < HEADER_LEN) return undefined;
  return {
    version: (raw[0] as number) >> 4,
    type: (raw[0] as number) & 0x0f,
    vrid: raw[1] as number,
    priority: raw[2] as number,
    count: raw[3] as number,
  };
}

/** Length a message with this header must have: RFC 3768 §5.1 / RFC 5798 §5.1. */
export function expectedLength(version: 2 | 3, family: Family, count: number): number {
  return HEADER_LEN + count * (family === 4 ? 4 : 16) + (version === 2 ? AUTH_DATA_LEN : 0);
}

/**
 * Decodes one VRRP message (the IP payload) received over `family`. Checks
 * structure only: version 2 or 3 (v2 exists only over IPv4), and a length
 * matching Count IPvX Addr exactly (the kernel already trimmed link padding
 * to the IP total length). Checksum, VRID, type etc. are the receiver's job.
 */
export function decode(raw: Uint8Array, family: Family): DecodeResult {
  try {
    return decodeUnsafe(raw, family);
  } catch (e) {
    // Defensive: nothing below should throw, but decode's contract is "never".
    return { ok: false, reason: 'short', detail: `undecodable: ${String(e)}` };
  }
}

function decodeUnsafe(raw: Uint8Array, family: Family): DecodeResult {
  const header = peekHeader(raw);
  if (!header) return { ok: false, reason: 'short', detail: `${raw instanceof Uint8Array ? raw.length : 0} bytes, the header alone is ${HEADER_LEN}` };
  const { version } = header;
  if (version !== 2 && version !== 3) return { ok: false, reason: 'version', detail: `version ${version}`, header };
  if (version === 2 && family !== 4) return { ok: false, reason: 'version', detail: 'VRRPv2 exists only over IPv4', header };
  const want = expectedLength(version, family, header.count);
  if (raw.length !== want) {
    return { ok: false, reason: 'length', detail: `${raw.length} bytes, ${header.count} address(es) need ${want}`, header };
  }
  const addrLen = family === 4 ? 4 : 16;
  const addresses: string[] = [];
  for (let i = 0; i < header.count; i++) addresses.push(formatIp(raw, family, HEADER_LEN + i * addrLen));
  const checksum = ((raw[6] as number) << 8) | (raw[7] as number);
  if (version === 2) {
    const authData = new Uint8Array(AUTH_DATA_LEN);
    authData.set(raw.subarray(want - AUTH_DATA_LEN, want));
    return {
      ok: true,
      checksum,
      packet: {
        version: 2,
        type: header.type,
        vrid: header.vrid,
        priority: header.priority,
        authType: raw[4] as number,
        advertIntSec: raw[5] as number,
        addresses,
        authData,
      },
    };
  }
  const w = ((raw[4] as number) << 8) | (raw[5] as number);
  return {
    ok: true,
    checksum,
    packet: {
      version: 3,
      type: header.type,
      vrid: header.vrid,
      priority: header.priority,
      family,
      reserved: w >> 12,
      maxAdvertIntCs: w & 0x0fff,
      addresses,
    },
  };
}

function checkByte(name: string, v: number, max = 255): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`VRRP ${name} ${v} out of range 0–${max}`);
}

/** Encodes a packet and fills in its checksum. v3 needs `src`/`dst` unless `checksumAsV2`. */
export function encode(p: VrrpPacket, opts: ChecksumOpts = {}): Uint8Array {
  checkByte('type', p.type, 15);
  checkByte('vrid', p.vrid);
  checkByte('priority', p.priority);
  if (p.addresses.length > 255) throw new RangeError('VRRP carries at most 255 addresses');
  const family: Family = p.version === 2 ? 4 : p.family;
  const buf = new Uint8Array(expectedLength(p.version, family, p.addresses.length));
  buf[0] = (p.version << 4) | p.type;
  buf[1] = p.vrid;
  buf[2] = p.priority;
  buf[3] = p.addresses.length;
  if (p.version === 2) {
    checkByte('auth type', p.authType);
    checkByte('advert interval', p.advertIntSec);
    if (p.authData.length !== AUTH_DATA_LEN) throw new RangeError('VRRPv2 auth data must be 8 bytes');
    buf[4] = p.authType;
    buf[5] = p.advertIntSec;
    buf.set(p.authData, buf.length - AUTH_DATA_LEN);
  } else {
    checkByte('reserved', p.reserved, 15);
    checkByte('max advert interval', p.maxAdvertIntCs, 0x0fff);
    buf[4] = (p.reserved << 4) | (p.maxAdvertIntCs >> 8);
    buf[5] = p.maxAdvertIntCs & 0xff;
  }
  const addrLen = family === 4 ? 4 : 16;
  p.addresses.forEach((a, i) => {
    const b = parseIp(a, family);
    if (!b) throw new RangeError(`not an IPv${family} address: ${a}`);
    buf.set(b, HEADER_LEN + i * addrLen);
  });
  const sum = computeChecksum(buf, p.version, family, opts);
  if (sum === undefined) throw new RangeError('VRRPv3 checksum needs the source and destination addresses');
  buf[6] = sum >> 8;
  buf[7] = sum & 0xff;
  return buf;
}

/** One's-complement sum of 16-bit words (RFC 1071), folded, not complemented. */
function sum16(data: Uint8Array, acc = 0): number {
  let s = acc;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) s += ((data[i] as number) << 8) | (data[i + 1] as number);
  if (data.length & 1) s += (data[data.length - 1] as number) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** RFC 5798 §5.2.8 pseudo-header (RFC 2460 §8.1 for IPv6, RFC 768-style for IPv4). */
function pseudoHeader(family: Family, src: Uint8Array, dst: Uint8Array, len: number): Uint8Array {
  if (family === 4) {
    const ph = new Uint8Array(12);
    ph.set(src, 0);
    ph.set(dst, 4);
    ph[9] = IPPROTO_VRRP;
    ph[10] = len >> 8;
    ph[11] = len & 0xff;
    return ph;
  }
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  ph[34] = (len >> 8) & 0xff;
  ph[35] = len & 0xff;
  ph[39] = IPPROTO_VRRP;
  return ph;
}

/**
 * The checksum `msg` should carry, computed with its checksum field taken as
 * zero. v2 (RFC 3768 §5.3.8): the VRRP message alone. v3 (RFC 5798 §5.2.8):
 * with the pseudo-header, unless `checksumAsV2`. undefined when v3 lacks
 * addresses that parse.
 */
export function computeChecksum(msg: Uint8Array, version: 2 | 3, family: Family, opts: ChecksumOpts = {}): number | undefined {
  let acc = 0;
  if (version === 3 && !opts.checksumAsV2) {
    const src = opts.src === undefined ? undefined : parseIp(opts.src, family);
    const dst = opts.dst === undefined ? undefined : parseIp(opts.dst, family);
    if (!src || !dst) return undefined;
    acc = sum16(pseudoHeader(family, src, dst, msg.length));
  }
  const zeroed = new Uint8Array(msg);
  if (zeroed.length >= HEADER_LEN) zeroed[6] = zeroed[7] = 0;
  return ~sum16(zeroed, acc) & 0xffff;
}

/** True when the checksum carried by `msg` is right (see computeChecksum). Never throws. */
export function verifyChecksum(msg: Uint8Array, version: 2 | 3, family: Family, opts: ChecksumOpts = {}): boolean {
  if (!(msg instanceof Uint8Array) || msg.length < HEADER_LEN) return false;
  const want = computeChecksum(msg, version, family, opts);
  return want !== undefined && want === (((msg[6] as number) << 8) | (msg[7] as number));
}

/**
 * The 8 octets keepalived puts in the PASS authentication field: the first 8
 * bytes of the password's UTF-8 encoding, zero-padded (vrrp_parser.c
 * auth_pass handler truncates by bytes, and so does this).
 */
export function passAuthData(password: string): Uint8Array {
  const out = new Uint8Array(AUTH_DATA_LEN);
  out.set(new TextEncoder().encode(password).subarray(0, AUTH_DATA_LEN));
  return out;
}
