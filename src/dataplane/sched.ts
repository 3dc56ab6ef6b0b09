// Scheduler slot tables shared by the nftables and userspace data planes:
// IPVS-compatible wrr order, sh buckets, Maglev (IPVS mh) lookup tables, and
// the kernel's jhash / nft jhash so userspace can predict what nft picks.
// Everything here is pure and integer-exact: two directors with the same
// config must compute identical tables, so no I/O, no randomness, no
// locale or platform dependent arithmetic.

const U32 = 0x1_0000_0000;

export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return Math.abs(a);
}

/** gcd of the non-zero weights; 0 when all are 0. */
export function gcdOf(weights: readonly number[]): number {
  return weights.reduce((g, w) => (w > 0 ? gcd(g, w) : g), 0);
}

function checkWeights(weights: readonly number[]): void {
  for (const w of weights) {
    if (!Number.isSafeInteger(w) || w < 0) throw new RangeError(`weight must be a non-negative integer, got ${w}`);
  }
}

/**
 * Backend indexes in the order IPVS wrr (ip_vs_wrr.c) hands them out over one
 * full cycle: the current weight cw starts at the max weight and drops by the
 * gcd after each pass; a pass picks, in array order, every backend whose
 * weight is >= cw. Length is sum(w)/gcd(w); weight-0 backends never appear.
 *
 * If that cycle is longer than maxLen, the weights are first scaled down
 * proportionally (floored, each non-zero weight kept >= 1) so it fits: the
 * ratio between backends is then only approximate (off by < 1 unit of the
 * scaled weight, i.e. about n/maxLen of the traffic).
 */
export function wrrSequence(weights: readonly number[], maxLen = 4096): number[] {
  checkWeights(weights);
  let w = weights;
  let g = gcdOf(w);
  if (g === 0) return [];
  const sum = w.reduce((s, x) => s + x, 0);
  if (sum / g > maxLen) {
    const nz = w.filter((x) => x > 0).length;
    if (nz > maxLen) throw new RangeError(`${nz} backends cannot fit a wrr cycle of ${maxLen}`);
    // Floor to maxLen first; bumping tiny weights to 1 can overshoot, in
    // which case reserve one slot per backend up front (then sum <= maxLen).
    const scale = (target: number) => w.map((x) => (x > 0 ? Math.max(1, Math.floor((x * target) / sum)) : 0));
    let s = scale(maxLen);
    if (s.reduce((a, x) => a + x, 0) > maxLen) s = scale(maxLen - nz);
    w = s;
    g = gcdOf(w);
  }
  const out: number[] = [];
  const max = Math.max(...w);
  for (let cw = max; cw > 0; cw -= g) {
    w.forEach((x, i) => {
      if (x >= cw) out.push(i);
    });
  }
  return out;
}

/**
 * IPVS sh (ip_vs_sh.c) bucket table: buckets are filled in order while
 * walking the backends round robin, a backend of weight w taking w
 * consecutive buckets before the walk moves on. Unlike the kernel (which
 * still gives a weight-0 server one bucket and skips it at lookup time),
 * weight-0 backends are left out here. All -1 when no backend has weight.
 */
export function shTable(weights: readonly number[], size = 256): number[] {
  checkWeights(weights);
  const live = weights.flatMap((w, i) => (w > 0 ? [i] : []));
  const table = new Array<number>(size).fill(-1);
  if (live.length === 0) return table;
  let p = 0;
  let taken = 0;
  for (let b = 0; b < size; b++) {
    const i = live[p] as number;
    table[b] = i;
    if (++taken >= (weights[i] as number)) {
      taken = 0;
      p = (p + 1) % live.length;
    }
  }
  return table;
}

// --- Maglev ---------------------------------------------------------------

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Smallest prime >= max(100*n, 251). M >= 100*N bounds the slot-count
 * imbalance between equal-weight backends to 1/(M/N) <= 1%. Derive it from
 * the configured backend count and keep it fixed while members go up and
 * down: a different M reshuffles every slot.
 */
export function maglevSize(n: number): number {
  let m = Math.max(100 * n, 251);
  while (!isPrime(m)) m++;
  return m;
}

const utf8 = new TextEncoder();

// murmur3's 32-bit finaliser: full avalanche, so keys that differ in one
// character (10.0.0.1 vs 10.0.0.2) still get unrelated offsets and skips.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** h1: FNV-1a 32 over the UTF-8 key, then fmix32. */
export function maglevH1(key: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8.encode(key)) h = Math.imul(h ^ b, 0x01000193);
  return fmix32(h);
}

/** h2: an independent multiply-xorshift (murmur2 constant, other seed) over the UTF-8 key, then fmix32. */
export function maglevH2(key: string): number {
  let h = 0x9747b28c;
  for (const b of utf8.encode(key)) {
    h = Math.imul(h ^ b, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return fmix32(h);
}

/** A backend's preference list in a table of size M: slot_j = (offset + j*skip) mod M. Depends on the key only. */
export function maglevPermutation(key: string, size: number): { offset: number; skip: number } {
  return { offset: maglevH1(key) % size, skip: (maglevH2(key) % (size - 1)) + 1 };
}

/**
 * Maglev lookup table as IPVS mh builds it: each round, every backend (array
 * order) gets weight/gcd turns, each turn claiming its next preferred empty
 * slot; weight-0 backends get none. Stops when all slots are claimed.
 * Returns the backend index per slot, -1 everywhere if nobody has weight.
 * `size` must be prime (see maglevSize).
 */
export function maglevTable(backends: readonly { key: string; weight: number }[], size: number): Int32Array {
  checkWeights(backends.map((b) => b.weight));
  const table = new Int32Array(size).fill(-1);
  // A prime size makes every skip generate all slots; otherwise a
  // preference walk could cycle forever without finding an empty slot.
  if (!isPrime(size)) throw new RangeError(`maglev table size must be prime, got ${size}`);
  const g = gcdOf(backends.map((b) => b.weight));
  if (g === 0) return table;
  const turns = backends.map((b) => b.weight / g);
  const perm = backends.map((b) => maglevPermutation(b.key, size));
  const next = perm.map((p) => p.offset); // current position in each preference list
  let filled = 0;
  while (true) {
    for (let i = 0; i < backends.length; i++) {
      const p = perm[i] as { skip: number };
      for (let t = 0; t < (turns[i] as number); t++) {
        let c = next[i] as number;
        while ((table[c] as number) !== -1) c = (c + p.skip) % size;
        table[c] = i;
        next[i] = c;
        if (++filled === size) return table;
      }
    }
  }
}

export function pickIndex(table: ArrayLike<number>, hash: number): number {
  return table.length === 0 ? -1 : (table[(hash >>> 0) % table.length] as number);
}

// --- Linux jhash (lookup3) --------------------------------------------------

const JHASH_INITVAL = 0xdeadbeef;

const rol32 = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

// State is kept as uint32 numbers; `| 0` / `>>> 0` stand in for C's u32 wrap.
function mix(s: Uint32Array): void {
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  a = (a - c) ^ rol32(c, 4);  c = (c + b) | 0;
  b = (b - a) ^ rol32(a, 6);  a = (a + c) | 0;
  c = (c - b) ^ rol32(b, 8);  b = (b + a) | 0;
  a = (a - c) ^ rol32(c, 16); c = (c + b) | 0;
  b = (b - a) ^ rol32(a, 19); a = (a + c) | 0;
  c = (c - b) ^ rol32(b, 4);  b = (b + a) | 0;
  s[0] = a; s[1] = b; s[2] = c;
}

function final(s: Uint32Array): number {
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}

/**
 * Linux jhash() (include/linux/jhash.h, = lookup3 hashlittle): hashes a byte
 * buffer, reading little-endian 32-bit words as x86 does, the last 1..12
 * bytes folded in by the fall-through switch; length 0 returns the init state.
 */
export function jhash(bytes: Uint8Array, initval: number): number {
  let len = bytes.length;
  const s = new Uint32Array(3).fill((JHASH_INITVAL + len + initval) >>> 0);
  const le = (o: number) => ((bytes[o] as number) | ((bytes[o + 1] as number) << 8) | ((bytes[o + 2] as number) << 16) | ((bytes[o + 3] as number) << 24)) >>> 0;
  let k = 0;
  while (len > 12) {
    s[0] = (s[0] as number) + le(k);
    s[1] = (s[1] as number) + le(k + 4);
    s[2] = (s[2] as number) + le(k + 8);
    mix(s);
    len -= 12;
    k += 12;
  }
  if (len === 0) return s[2] as number;
  // Tail: byte i of the remaining block lands in word i>>2 at bit 8*(i&3),
  // which is exactly what the kernel's case 12..1 ladder adds.
  for (let i = 0; i < len; i++) s[i >> 2] = (s[i >> 2] as number) + (((bytes[k + i] as number) << (8 * (i & 3))) >>> 0);
  return final(s);
}

/** Linux jhash2() (= lookup3 hashword): the same hash over 32-bit words. */
export function jhash2(words: Uint32Array | readonly number[], initval: number): number {
  let len = words.length;
  const s = new Uint32Array(3).fill((JHASH_INITVAL + (len << 2) + initval) >>> 0);
  let k = 0;
  while (len > 3) {
    for (let i = 0; i < 3; i++) s[i] = (s[i] as number) + (words[k + i] as number);
    mix(s);
    len -= 3;
    k += 3;
  }
  if (len === 0) return s[2] as number;
  for (let i = 0; i < len; i++) s[i] = (s[i] as number) + (words[k + i] as number);
  return final(s);
}

/** Kernel reciprocal_scale(): (v * n) >> 32 over exact 64-bit products, i.e. maps a u32 onto [0, n). */
export function reciprocalScale(v: number, n: number): number {
  v >>>= 0;
  n >>>= 0;
  // Split v into 16-bit halves so every partial product stays below 2^53.
  const hi = (v >>> 16) * n; // < 2^48
  const lo = (v & 0xffff) * n; // < 2^48
  const q = Math.floor(hi / 0x10000);
  const r = hi % 0x10000;
  return (q + Math.floor((r * 0x10000 + lo) / U32)) >>> 0;
}

/**
 * What nft's `jhash <expr> mod <mod> seed <seed> [offset <offset>]` yields:
 * reciprocal_scale(jhash(key, len, seed), mod) + offset (nft_hash.c).
 * `key` is the expression's register contents as nft lays them out: each
 * field in network byte order; in a concatenation every field is padded to
 * 4 bytes, a lone field is not. So `ip saddr . tcp sport` is 4 address bytes
 * + 2 port bytes + 2 zero bytes (len 8) while `tcp sport` alone is len 2.
 * nftConcat() builds such keys.
 */
export function nftJhash(key: Uint8Array, seed: number, mod: number, offset = 0): number {
  return (reciprocalScale(jhash(key, seed >>> 0), mod) + offset) >>> 0;
}

/** Register layout of an nft concatenation `a . b . c`: each field zero-padded to a multiple of 4 bytes. */
export function nftConcat(...fields: Uint8Array[]): Uint8Array {
  const pad = (n: number) => (n + 3) & ~3;
  const out = new Uint8Array(fields.reduce((s, f) => s + pad(f.length), 0));
  let o = 0;
  for (const f of fields) {
    out.set(f, o);
    o += pad(f.length);
  }
  return out;
}

/**
 * Seed for a virtual service's flow hash, derived from its key so every
 * director agrees without configuration: jhash of the UTF-8 key (initval 0),
 * 0 mapped to 1. Changing this remaps every flow on upgrade: keep it stable.
 */
export function flowSeed(vsKey: string): number {
  return jhash(utf8.encode(vsKey), 0) || 1;
}
