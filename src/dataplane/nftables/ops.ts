// One nftables transaction as data: the operations diff.ts decides, in the order they must
// run. Both backends write exactly these — `nft -f` through opText (one command per op,
// element lists cut into commands of 1000) and nf_tables netlink through nfnetlink.ts — so
// there is one source of what is written. Pure.
import { baseSpecText, type NftChain, type NftFamily, type NftMap } from './objects.js';
import type { Rule } from './rules.js';

interface Where {
  family: NftFamily;
  table: string;
}

/** A map's identity and type (what encoding its elements needs). */
export type MapRef = Pick<NftMap, 'name' | 'keyTypes' | 'dataType'>;

/** Element key texts and, in the same order, data texts ('' for a set; a delete needs the keys only). */
export type ElementOp = { op: 'add element' | 'delete element'; map: MapRef; keys: string[]; values: string[] } & Where;

export type NftOp =
  | ({ op: 'add table' } & Where)
  | ({ op: 'delete table' } & Where)
  | ({ op: 'add chain'; chain: NftChain } & Where)
  | ({ op: 'flush chain'; chain: string } & Where)
  | ({ op: 'delete chain'; chain: string } & Where)
  | ({ op: 'add map'; map: NftMap } & Where)
  | ({ op: 'delete map'; map: string; kind: 'map' | 'set' } & Where)
  /** `rule` is the structured form (rules.ts); `text` its nft syntax; `comment` the `h=` tag. */
  | ({ op: 'add rule'; chain: string; rule: Rule | undefined; text: string; comment: string } & Where)
  | ElementOp;

const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

export const kindOf = (m: Pick<NftMap, 'dataType'>): 'map' | 'set' => (m.dataType ? 'map' : 'set');

function chainDecl(o: Where, c: NftChain): string {
  const parts: string[] = [];
  if (c.base) parts.push(baseSpecText(c.base));
  if (c.comment) parts.push(`comment ${q(c.comment)};`);
  return `add chain ${o.family} ${o.table} ${c.name}${parts.length ? ` { ${parts.join(' ')} }` : ''}`;
}

function mapDecl(o: Where, m: NftMap): string {
  if (!m.dataType) {
    // A set; a dynamic one counts per element what the packet path adds (per-destination connections).
    const extra = m.dynamic ? ' flags dynamic; counter; size 1048576;' : '';
    return `add set ${o.family} ${o.table} ${m.name} { type ${m.keyTypes.join(' . ')};${extra} }`;
  }
  return `add map ${o.family} ${o.table} ${m.name} { type ${m.keyTypes.join(' . ')} : ${m.dataType}; }`;
}

/** Elements per `nft -f` command: nft parses a 37k-command file far slower than 37 commands with the same elements. */
const ELEMENTS_PER_COMMAND = 1000;

/** The op as `nft -f` commands (one, or several for a long element list). */
export function opText(o: NftOp): string[] {
  const w = `${o.family} ${o.table}`;
  switch (o.op) {
    case 'add table':
    case 'delete table':
      return [`${o.op} ${w}`];
    case 'add chain':
      return [chainDecl(o, o.chain)];
    case 'flush chain':
    case 'delete chain':
      return [`${o.op} ${w} ${o.chain}`];
    case 'add map':
      return [mapDecl(o, o.map)];
    case 'delete map':
      return [`delete ${o.kind} ${w} ${o.map}`];
    case 'add rule':
      return [`add rule ${w} ${o.chain} ${o.text} comment ${q(o.comment)}`];
    case 'add element':
    case 'delete element': {
      const out: string[] = [];
      for (let i = 0; i < o.keys.length; i += ELEMENTS_PER_COMMAND) {
        const part: string[] = [];
        for (let j = i; j < Math.min(o.keys.length, i + ELEMENTS_PER_COMMAND); j++) part.push(elementText(o, j));
        out.push(`${o.op} ${w} ${o.map.name} { ${part.join(', ')} }`);
      }
      return out;
    }
  }
}

/** Element j of an element op as nft writes it: `key : value` (add to a map) or `key`. */
export function elementText(o: ElementOp, j: number): string {
  const v = o.values[j];
  return v && o.op === 'add element' ? `${o.keys[j]!} : ${v}` : o.keys[j]!;
}

/** The whole transaction as an `nft -f` file's lines. */
export function opsText(ops: readonly NftOp[]): string[] {
  return ops.flatMap(opText);
}

/** A short name of what an op writes, for errors: the nft command, cut to `max` characters. */
export function opSummary(o: NftOp, max = 300): string {
  const t = opText(o)[0] ?? o.op;
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
