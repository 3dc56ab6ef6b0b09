// Receive validation of one VRRP packet against one instance: RFC 5798 §7.1
// and RFC 3768 §7.1, in keepalived 2.2's order (vrrp.c vrrp_check_packet),
// with the counters of RFC 6527 (VRRPv3-MIB) and RFC 2787 (VRRP-MIB, v2
// authentication). Pure: returns the verdict and the counters to bump; the
// caller owns the totals (addStats).
import type { Family, VrrpInstance } from '../model/types.js';
import { canonicalIp, isMulticast } from './addr.js';
import { advertIntCsOf } from './fsm.js';
import {
  AUTH_AH,
  AUTH_DATA_LEN,
  AUTH_NONE,
  AUTH_PASS,
  VRRP_TTL,
  VRRP_TYPE_ADVERTISEMENT,
  decode,
  passAuthData,
  peekHeader,
  verifyChecksum,
  type VrrpPacket,
} from './packet.js';

/** Per-instance counters. RFC 6527 names; RFC 2787 names for v2 authentication; then haldir's own. */
export interface VrrpStats {
  /** RFC 6527 vrrpv3StatisticsEntry. */
  vrrpv3StatisticsMasterTransitions: number;
  vrrpv3StatisticsRcvdAdvertisements: number;
  vrrpv3StatisticsAdvIntervalErrors: number;
  vrrpv3StatisticsIpTtlErrors: number;
  vrrpv3StatisticsRcvdPriZeroPackets: number;
  vrrpv3StatisticsSentPriZeroPackets: number;
  vrrpv3StatisticsRcvdInvalidTypePackets: number;
  vrrpv3StatisticsAddressListErrors: number;
  vrrpv3StatisticsPacketLengthErrors: number;
  /** RFC 6527 router-wide counters, kept per instance here (sum them for the router). */
  vrrpv3RouterChecksumErrors: number;
  vrrpv3RouterVersionErrors: number;
  /** Bumped by the dispatcher when no instance has the VRID (RFC 6527: "not valid for any virtual router on this router"). */
  vrrpv3RouterVrIdErrors: number;
  /** RFC 2787 vrrpRouterStatsEntry (VRRPv2 authentication). */
  vrrpStatsAuthFailures: number;
  vrrpStatsInvalidAuthType: number;
  vrrpStatsAuthTypeMismatch: number;
  /** haldir: packets for another VRID seen by this instance (not an error). */
  otherVridPackets: number;
  /** haldir: unicast adverts from an address that is not a configured peer (check_unicast_src). */
  unknownUnicastSource: number;
  /** haldir: adverts sent. */
  advertsSent: number;
}

export type StatsDelta = Partial<Record<keyof VrrpStats, number>>;

export function zeroStats(): VrrpStats {
  return {
    vrrpv3StatisticsMasterTransitions: 0,
    vrrpv3StatisticsRcvdAdvertisements: 0,
    vrrpv3StatisticsAdvIntervalErrors: 0,
    vrrpv3StatisticsIpTtlErrors: 0,
    vrrpv3StatisticsRcvdPriZeroPackets: 0,
    vrrpv3StatisticsSentPriZeroPackets: 0,
    vrrpv3StatisticsRcvdInvalidTypePackets: 0,
    vrrpv3StatisticsAddressListErrors: 0,
    vrrpv3StatisticsPacketLengthErrors: 0,
    vrrpv3RouterChecksumErrors: 0,
    vrrpv3RouterVersionErrors: 0,
    vrrpv3RouterVrIdErrors: 0,
    vrrpStatsAuthFailures: 0,
    vrrpStatsInvalidAuthType: 0,
    vrrpStatsAuthTypeMismatch: 0,
    otherVridPackets: 0,
    unknownUnicastSource: 0,
    advertsSent: 0,
  };
}

/** A new totals object with `delta` added. */
export function addStats(total: VrrpStats, delta: StatsDelta): VrrpStats {
  const out = { ...total };
  for (const [k, v] of Object.entries(delta) as [keyof VrrpStats, number][]) out[k] += v;
  return out;
}

/** What validation needs of an instance; build it with rxContextFromInstance(). */
export interface VrrpRxContext {
  version: 2 | 3;
  family: Family;
  vrid: number;
  /** Our advert interval, centiseconds (v2: seconds × 100). */
  advertIntCs: number;
  /** v2 only: RFC 3768 §5.3.6 type and the 8 octets expected for PASS. */
  authType: number;
  authData: Uint8Array;
  /** Canonical text of the addresses we advertise (VIPs of the instance's family). */
  vips: string[];
  /** Unicast peers (canonical); empty = multicast. TTL range from min_ttl/max_ttl. */
  unicastPeers: { address: string; minTtl: number; maxTtl: number }[];
  checkUnicastSrc: boolean;
  /** keepalived skip_check_adv_addr: do not compare the address list of the current master's adverts. */
  skipCheckAdvAddr: boolean;
  /** vrrp_strict: drop adverts whose address list differs (RFC 3768 §7.1) instead of counting them. */
  strict: boolean;
  v3ChecksumAsV2: boolean;
  /** Multicast group: keepalived ≤ 1.3.6 used it in unicast v3 pseudo-headers (checksum fallback). */
  mcastGroup: string;
}

/** The datagram's IP header fields the socket layer reports (the IP header is not passed in). */
export interface RxMeta {
  src: string;
  dst: string;
  /** IPv4 TTL / IPv6 hop limit; undefined when the socket could not report it. */
  ttl?: number;
}

export type RxReason =
  | 'short'
  | 'otherVrid'
  | 'length'
  | 'ttl'
  | 'version'
  | 'invalidAuthType'
  | 'authTypeMismatch'
  | 'authFailure'
  | 'advertInterval'
  | 'type'
  | 'checksum'
  | 'castMismatch'
  | 'addressList'
  | 'unicastSource'
  | 'badMeta'
  | 'notListening';

export interface RxResult {
  accept: boolean;
  /** Why it was rejected, or (accepted) a mismatch that was only counted: 'addressList', 'advertInterval'. */
  reason?: RxReason;
  detail?: string;
  /** The decoded packet when it decoded. */
  packet?: VrrpPacket;
  /** Counters to bump. */
  counters: StatsDelta;
}

/**
 * Validation context from the model. v3 carries no authentication and
 * keepalived ignores it there (and under vrrp_strict); AH is refused by the
 * config front ends, and a context with AH rejects every packet's
 * authentication, since haldir cannot verify it.
 */
export function rxContextFromInstance(inst: VrrpInstance, mcastGroup = inst.family === 4 ? '224.0.0.18' : 'ff02::12'): VrrpRxContext {
  const useAuth = inst.version === 2 && !inst.strictMode && inst.auth !== undefined && inst.auth.pass !== '';
  const authType = !useAuth ? AUTH_NONE : inst.auth?.type === 'AH' ? AUTH_AH : AUTH_PASS;
  const canon = (a: string): string => canonicalIp(a, inst.family) ?? a;
  return {
    version: inst.version,
    family: inst.family,
    vrid: inst.vrid,
    advertIntCs: advertIntCsOf(inst.version, inst.advertInt),
    authType,
    authData: authType === AUTH_PASS ? passAuthData(inst.auth?.pass ?? '') : new Uint8Array(AUTH_DATA_LEN),
    vips: inst.vips.filter((v) => v.family === inst.family).map((v) => canon(v.address)),
    unicastPeers: inst.unicastPeers.map((p) => ({ address: canon(p.address), minTtl: p.minTtl ?? 0, maxTtl: p.maxTtl ?? 255 })),
    checkUnicastSrc: inst.checkUnicastSrc,
    skipCheckAdvAddr: inst.skipCheckAdvAddr,
    strict: inst.strictMode,
    v3ChecksumAsV2: inst.v3ChecksumAsV2,
    mcastGroup: inst.mcastDstIp ?? mcastGroup,
  };
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/**
 * Validates one received VRRP message for this instance. `currentMaster` is
 * the source of the adverts we follow (fsm state.masterAddr), for
 * skip_check_adv_addr. Never throws.
 */
export function validateAdvert(ctx: VrrpRxContext, raw: Uint8Array, meta: RxMeta, currentMaster?: string): RxResult {
  try {
    return validate(ctx, raw, meta, currentMaster);
  } catch (e) {
    return { accept: false, reason: 'badMeta', detail: `validation failed: ${String(e)}`, counters: {} };
  }
}

function reject(reason: RxReason, detail: string, counters: StatsDelta = {}, packet?: VrrpPacket): RxResult {
  const r: RxResult = { accept: false, reason, detail, counters };
  if (packet) r.packet = packet;
  return r;
}

function validate(ctx: VrrpRxContext, raw: Uint8Array, meta: RxMeta, currentMaster?: string): RxResult {
  const hdr = peekHeader(raw);
  if (!hdr) return reject('short', 'shorter than the VRRP header', { vrrpv3StatisticsPacketLengthErrors: 1 });
  // keepalived dispatches on the VRID before any check: another VRID is not our error.
  if (hdr.vrid !== ctx.vrid) return reject('otherVrid', `VRID ${hdr.vrid}`, { otherVridPackets: 1 });

  const src = canonicalIp(meta.src, ctx.family);
  const dst = canonicalIp(meta.dst, ctx.family);
  if (src === undefined || dst === undefined) return reject('badMeta', `unusable addresses ${meta.src} -> ${meta.dst}`);
  const unicast = ctx.unicastPeers.length > 0;

  // RFC 5798 §7.1: the complete packet, fixed fields and addresses (length from Count IPvX Addr).
  // A version we do not speak cannot be measured, so that is counted as a version error.
  const d = decode(raw, ctx.family);
  if (!d.ok) {
    if (d.reason === 'version') return reject('version', d.detail, { vrrpv3RouterVersionErrors: 1 });
    return reject('length', d.detail, { vrrpv3StatisticsPacketLengthErrors: 1 });
  }
  const p = d.packet;

  // RFC 5798 §7.1 / RFC 3768 §7.1: TTL / hop limit must be 255. keepalived applies it to multicast only
  // (unicast adverts may be routed; their TTL is checked against the peer's min_ttl/max_ttl below).
  if (!unicast && meta.ttl !== undefined && meta.ttl !== VRRP_TTL) {
    return reject('ttl', `TTL ${meta.ttl}`, { vrrpv3StatisticsIpTtlErrors: 1 }, p);
  }
  // RFC 5798 §7.1: the version must match ours.
  if (p.version !== ctx.version) return reject('version', `version ${p.version}, ours ${ctx.version}`, { vrrpv3RouterVersionErrors: 1 }, p);

  let intervalCs: number;
  const counted: StatsDelta = {};
  let note: { reason: RxReason; detail: string } | undefined;
  if (p.version === 2) {
    // RFC 3768 §7.1: authentication per Auth Type (keepalived order: known type, same type, password).
    if (p.authType !== AUTH_NONE && p.authType !== AUTH_PASS && p.authType !== AUTH_AH) {
      return reject('invalidAuthType', `auth type ${p.authType}`, { vrrpStatsInvalidAuthType: 1 }, p);
    }
    if (p.authType !== ctx.authType) {
      return reject('authTypeMismatch', `auth type ${p.authType}, ours ${ctx.authType}`, { vrrpStatsAuthTypeMismatch: 1 }, p);
    }
    if (ctx.authType === AUTH_AH) return reject('authFailure', 'IP AH authentication is not supported', { vrrpStatsAuthFailures: 1 }, p);
    if (ctx.authType === AUTH_PASS && !constantTimeEqual(p.authData, ctx.authData)) {
      return reject('authFailure', 'wrong password', { vrrpStatsAuthFailures: 1 }, p);
    }
    // RFC 3768 §7.1: the Adver Interval MUST equal ours, else discard (keepalived: "prevents two masters").
    intervalCs = p.advertIntSec * 100;
    if (intervalCs !== ctx.advertIntCs) {
      return reject('advertInterval', `${p.advertIntSec}s, ours ${ctx.advertIntCs / 100}s`, { vrrpv3StatisticsAdvIntervalErrors: 1 }, p);
    }
  } else {
    intervalCs = p.maxAdvertIntCs;
  }

  // keepalived: the type is checked after version/auth (RFC 5798 §5.2.2: only ADVERTISEMENT exists).
  if (p.type !== VRRP_TYPE_ADVERTISEMENT) return reject('type', `type ${p.type}`, { vrrpv3StatisticsRcvdInvalidTypePackets: 1 }, p);

  if (p.version === 3) {
    // A zero interval would make Master_Down_Interval equal to the skew alone: refuse it.
    if (intervalCs === 0) return reject('advertInterval', 'advert interval 0', { vrrpv3StatisticsAdvIntervalErrors: 1 }, p);
    // RFC 5798 §6.4.2: v3 backups adopt the master's interval; a difference is counted (RFC 6527), not fatal.
    if (intervalCs !== ctx.advertIntCs) {
      counted.vrrpv3StatisticsAdvIntervalErrors = 1;
      note = { reason: 'advertInterval', detail: `${intervalCs} cs, ours ${ctx.advertIntCs} cs` };
    }
  }

  // RFC 3768 §7.1 / RFC 5798 §7.1: the checksum.
  if (!checksumOk(ctx, raw, src, dst, unicast)) return reject('checksum', 'bad checksum', { vrrpv3RouterChecksumErrors: 1 }, p);

  // keepalived: multicast instances take multicast adverts only, unicast instances unicast only.
  if (isMulticast(dst, ctx.family) === unicast) {
    return reject('castMismatch', `${unicast ? 'multicast' : 'unicast'} advert to ${dst} on a ${unicast ? 'unicast' : 'multicast'} instance`, { vrrpv3StatisticsAddressListErrors: 1 }, p);
  }

  // From here on it is a well-formed advertisement for us (keepalived counts it here).
  counted.vrrpv3StatisticsRcvdAdvertisements = 1;

  // RFC 5798 §7.1 / RFC 3768 §7.1: MAY verify the address list. Counted; dropped only under vrrp_strict
  // (RFC 3768 §7.1: unless the sender is the address owner). skip_check_adv_addr: not re-checked for the master we follow.
  if (!(ctx.skipCheckAdvAddr && currentMaster !== undefined && currentMaster === src)) {
    const theirs = new Set(p.addresses);
    const mismatch = p.addresses.length !== ctx.vips.length || ctx.vips.some((v) => !theirs.has(v));
    if (mismatch) {
      counted.vrrpv3StatisticsAddressListErrors = 1;
      const detail = `address list [${p.addresses.join(' ')}], ours [${ctx.vips.join(' ')}]`;
      if (ctx.strict && p.priority !== 255) return reject('addressList', detail, counted, p);
      note = { reason: 'addressList', detail };
    }
  }

  // keepalived check_unicast_src: the source must be a configured peer, and its TTL within min/max_ttl.
  if (unicast && ctx.checkUnicastSrc) {
    const peer = ctx.unicastPeers.find((u) => u.address === src);
    if (!peer) return reject('unicastSource', `${src} is not a unicast peer`, { ...counted, unknownUnicastSource: 1 }, p);
    if (meta.ttl !== undefined && (meta.ttl < peer.minTtl || meta.ttl > peer.maxTtl)) {
      return reject('ttl', `TTL ${meta.ttl} outside ${peer.minTtl}-${peer.maxTtl}`, { ...counted, vrrpv3StatisticsIpTtlErrors: 1 }, p);
    }
  }

  if (p.priority === 0) counted.vrrpv3StatisticsRcvdPriZeroPackets = 1;
  const ok: RxResult = { accept: true, packet: p, counters: counted };
  if (note) [ok.reason, ok.detail] = [note.reason, note.detail];
  return ok;
}

/**
 * v2: the message alone. v3: with the pseudo-header; under v3_checksum_as_v2
 * either form is accepted (keepalived then skips the check altogether); for
 * unicast, keepalived ≤ 1.3.6's pseudo-header with the multicast group as
 * destination is accepted too (keepalived's automatic compatibility mode).
 */
function checksumOk(ctx: VrrpRxContext, raw: Uint8Array, src: string, dst: string, unicast: boolean): boolean {
  if (ctx.version === 2) return verifyChecksum(raw, 2, ctx.family);
  if (verifyChecksum(raw, 3, ctx.family, { src, dst })) return true;
  if (ctx.v3ChecksumAsV2 && ctx.family === 4 && verifyChecksum(raw, 3, ctx.family, { checksumAsV2: true })) return true;
  return unicast && ctx.family === 4 && verifyChecksum(raw, 3, ctx.family, { src, dst: ctx.mcastGroup });
}
