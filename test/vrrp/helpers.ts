// Shared fixtures for the VRRP core tests: instances built with keepalived's
// defaults (the seed's VI_1: VRID 51, VIP 192.168.2.100), a fake clock in
// microseconds, and an internet checksum written independently of the codec.
import { newVip, newVrrpInstance } from '../../src/model/construct.js';
import type { VrrpInstance } from '../../src/model/types.js';

export const S = 1_000_000;
export const MS = 1_000;
export const VIP = '192.168.2.100';
export const LOCAL = '192.168.2.11';
export const PEER = '192.168.2.12';
export const MCAST4 = '224.0.0.18';

/** The seed's VI_1 with overrides (v2, priority 100, advert_int 1, VIP 192.168.2.100). */
export function instance(over: Partial<VrrpInstance> = {}): VrrpInstance {
  const inst = newVrrpInstance('VI_1', 'eth0', 51);
  inst.vips = [newVip(`${VIP}/24`)];
  return Object.assign(inst, over);
}

/** RFC 1071 checksum, written without looking at the codec: complement of the folded sum of big-endian words. */
export function inetChecksum(bytes: number[]): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] ?? 0) * 256 + (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

/** Bytes of an IPv4 dotted quad. */
export function v4(a: string): number[] {
  return a.split('.').map(Number);
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
