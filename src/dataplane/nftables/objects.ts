// The nftables objects haldir owns, as plain data: desired state is rendered into this
// shape and the kernel's state (`nft -j list table`) is parsed into it, so the diff is a
// pure function of two values. Rules are compared by a tag (`h=<hash of the rule text>`)
// kept in each rule's comment: nft prints rules in its own normal form, the tag survives.
// Desired rules also keep their structured form (rules.ts), from which both the text and
// the netlink messages are made.
import { createHash } from 'node:crypto';
import { ruleText, type Rule } from './rules.js';

export type NftFamily = 'ip' | 'ip6' | 'netdev';

export interface BaseChainSpec {
  type: 'nat' | 'filter';
  hook: 'prerouting' | 'output' | 'postrouting' | 'ingress';
  prio: number;
  device?: string;
}

export interface NftChain {
  name: string;
  base?: BaseChainSpec;
  /** Chain comment: what the chain is for, in the operator's terms (read back by `dataplane show`). */
  comment?: string;
  /** Rule texts without their tag comment (desired), or '' per rule (actual: the kernel's are read by tag). */
  rules: string[];
  /** Desired rules as data (rules.ts), the source of `rules`; absent for state read from the kernel. */
  specs?: Rule[];
  /** One tag per rule: `h=<12 hex>[ note]`; for actual state, the rule comments as the kernel has them. */
  tags: string[];
}

export interface NftMap {
  name: string;
  /** Key types (e.g. ['ipv4_addr','inet_proto','inet_service']) and data type ('verdict'; '' for a set). */
  keyTypes: string[];
  dataType: string;
  /** Filled by the packet path (`update @set`): its elements are the kernel's, never diffed. */
  dynamic?: boolean;
  /** Element key text → data text, both in nft's printed form (`10.0.0.1 . tcp . 80` → `goto vs/…`). */
  elements: Map<string, string>;
}

export interface NftTable {
  family: NftFamily;
  name: string;
  chains: Map<string, NftChain>;
  maps: Map<string, NftMap>;
}

/** All of haldir's tables, keyed `family name`. */
export type NftState = Map<string, NftTable>;

export const tableKey = (family: NftFamily, name: string): string => `${family} ${name}`;

/** The comment a rule carries: `h=<hash of its text>`, then an optional note read back by `dataplane show`. */
export function ruleTag(text: string, note?: string): string {
  const h = `h=${tagHash(text)}`;
  return note ? `${h} ${note}` : h;
}

// The static rules (dispatch, postrouting, ingress) are tagged again for every service
// rendered: their hashes are remembered (short texts only; a service's own rule is unique).
const hashes = new Map<string, string>();
function tagHash(text: string): string {
  const short = text.length <= 160;
  let h = short ? hashes.get(text) : undefined;
  if (h === undefined) {
    h = createHash('sha1').update(text).digest('hex').slice(0, 12);
    if (short && hashes.size < 1000) hashes.set(text, h);
  }
  return h;
}

export function newTable(family: NftFamily, name: string): NftTable {
  return { family, name, chains: new Map(), maps: new Map() };
}

/** Adds a chain whose rules are tagged from their text; `notes[i]` goes into rule i's comment. */
export function addChain(t: NftTable, name: string, specs: Rule[], opts: { base?: BaseChainSpec; comment?: string; notes?: (string | undefined)[] } = {}): NftChain {
  const { notes, ...rest } = opts;
  const rules = specs.map(ruleText);
  const c: NftChain = { name, rules, specs, tags: rules.map((r, i) => ruleTag(r, notes?.[i])), ...rest };
  t.chains.set(name, c);
  return c;
}

export function baseSpecText(b: BaseChainSpec): string {
  const dev = b.device !== undefined ? ` device "${b.device}"` : '';
  return `type ${b.type} hook ${b.hook}${dev} priority ${b.prio}; policy accept;`;
}

export function sameBase(a: BaseChainSpec | undefined, b: BaseChainSpec | undefined): boolean {
  if (!a || !b) return a === b;
  return a.type === b.type && a.hook === b.hook && a.prio === b.prio && (a.device ?? '') === (b.device ?? '');
}

export function sameMapType(a: NftMap, b: NftMap): boolean {
  return a.dataType === b.dataType && a.keyTypes.join(' . ') === b.keyTypes.join(' . ');
}

export function sameRules(a: NftChain, b: NftChain): boolean {
  if (a.tags.length !== b.tags.length) return false;
  for (let i = 0; i < a.tags.length; i++) if (a.tags[i] !== b.tags[i]) return false;
  return true;
}

/** Deep copy (the driver keeps what it last wrote; callers must not share maps). */
export function cloneState(s: NftState): NftState {
  const out: NftState = new Map();
  for (const [k, t] of s) {
    const c = newTable(t.family, t.name);
    for (const [n, ch] of t.chains) c.chains.set(n, { ...ch, rules: [...ch.rules], tags: [...ch.tags], ...(ch.specs ? { specs: [...ch.specs] } : {}) });
    for (const [n, m] of t.maps) c.maps.set(n, { ...m, keyTypes: [...m.keyTypes], elements: new Map(m.elements) });
    out.set(k, c);
  }
  return out;
}
