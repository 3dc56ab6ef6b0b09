// The rules haldir writes, as data: one value per rule, rendered to nft syntax here (the
// `nft -f` backend, and the text each rule's `h=` tag hashes) and compiled to nf_tables
// expressions by nfnetlink.ts — so both backends write the same thing from one source.
// Only the statements haldir uses exist; each renders exactly as render.ts spelled it
// before (the tags of rules already in the kernel stay valid).

/** A packet or conntrack field as nft names it. */
export type Field =
  | 'ip saddr'
  | 'ip daddr'
  | 'ip6 saddr'
  | 'ip6 daddr'
  | 'th sport'
  | 'th dport'
  | 'meta l4proto'
  | 'meta mark'
  | 'ether saddr'
  | 'ct original ip daddr'
  | 'ct original ip6 daddr';

/** What a map is looked up with: fields (a concatenation), a per-connection counter, or a flow hash. */
export type Selector = { fields: Field[] } | { numgen: number } | { jhash: Field[]; mod: number; seed: number };

/** A slot's value: a chain to go to (DR), or a NAT destination (canonical address, optional port). */
export type SlotTarget = { goto: string } | { addr: string; port?: number };

/** An inline map `{ 0 : t[slots[0]], 1 : t[slots[1]], … }`: slot i → targets[slots[i]]. */
export interface Slots {
  slots: ArrayLike<number>;
  targets: SlotTarget[];
}

export type Stmt =
  | { s: 'counter' }
  | { s: 'meta'; key: 'l4proto' | 'pkttype'; value: 'tcp' | 'udp' | 'sctp' | 'host' }
  | { s: 'ct status'; value: 'dnat' }
  | { s: 'in'; key: Field[]; set: string }
  | { s: 'vmap'; key: Selector; map: string | Slots }
  | { s: 'dnat'; family: 'ip' | 'ip6'; key: Selector; map: Slots }
  | { s: 'update'; set: string; key: Field[] }
  | { s: 'masquerade' }
  | { s: 'accept' }
  | { s: 'drop' }
  | { s: 'ether set'; field: 'saddr' | 'daddr'; mac: string }
  | { s: 'fwd'; dev: string };

export type Rule = Stmt[];

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function selectorText(k: Selector): string {
  if ('fields' in k) return k.fields.join(' . ');
  if ('numgen' in k) return `numgen inc mod ${k.numgen}`;
  return `jhash ${k.jhash.join(' . ')} mod ${k.mod} seed ${hex(k.seed)}`;
}

export function targetText(t: SlotTarget): string {
  if ('goto' in t) return `goto ${t.goto}`;
  return t.port !== undefined ? `${t.addr} . ${t.port}` : t.addr;
}

function slotsText(m: Slots): string {
  const texts = m.targets.map(targetText);
  const parts: string[] = new Array<string>(m.slots.length);
  for (let i = 0; i < m.slots.length; i++) parts[i] = `${i} : ${texts[m.slots[i]!]!}`;
  return `{ ${parts.join(', ')} }`;
}

function stmtText(x: Stmt): string {
  switch (x.s) {
    case 'counter':
    case 'masquerade':
    case 'accept':
    case 'drop':
      return x.s;
    case 'meta':
      return `meta ${x.key} ${x.value}`;
    case 'ct status':
      return `ct status ${x.value}`;
    case 'in':
      return `${x.key.join(' . ')} @${x.set}`;
    case 'vmap':
      return `${selectorText(x.key)} vmap ${typeof x.map === 'string' ? `@${x.map}` : slotsText(x.map)}`;
    case 'dnat':
      return `dnat ${x.family} to ${selectorText(x.key)} map ${slotsText(x.map)}`;
    case 'update':
      return `update @${x.set} { ${x.key.join(' . ')} }`;
    case 'ether set':
      return `ether ${x.field} set ${x.mac}`;
    case 'fwd':
      return `fwd to "${x.dev}"`;
  }
}

/** The rule in nft syntax (without its comment). */
export function ruleText(r: Rule): string {
  return r.map(stmtText).join(' ');
}
