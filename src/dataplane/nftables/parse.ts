// `nft -j list table …` output → NftTable (pure). Reads only what the diff and
// `dataplane show` need: chains (hook, device, comment), rule comments (tags) and the
// first counter of each chain, map types and elements.
import { newTable, type BaseChainSpec, type NftChain, type NftFamily, type NftTable } from './objects.js';

export interface Counter {
  packets: number;
  bytes: number;
}

export interface ParsedTable {
  table: NftTable;
  /** Chain name → its first rule's counter. */
  counters: Map<string, Counter>;
  /** Set name → element key → the element's counter (sets declared with `counter`). */
  elemCounters: Map<string, Map<string, Counter>>;
}

type J = Record<string, unknown>;

function elemText(v: unknown): string {
  if (v !== null && typeof v === 'object') {
    const o = v as J;
    if (Array.isArray(o.concat)) return (o.concat as unknown[]).map(elemText).join(' . ');
    if (o.goto && typeof o.goto === 'object') return `goto ${String((o.goto as J).target)}`;
    if (o.jump && typeof o.jump === 'object') return `jump ${String((o.jump as J).target)}`;
    if (o.elem && typeof o.elem === 'object') return elemText((o.elem as J).val);
    if ('prefix' in o) return JSON.stringify(o);
    return JSON.stringify(o);
  }
  return String(v);
}

const HOOKS = new Set(['prerouting', 'output', 'postrouting', 'ingress']);

/** Parses one table's JSON listing; throws on JSON that is not nft's. */
export function parseNftJson(text: string, family: NftFamily, name: string): ParsedTable {
  const doc = JSON.parse(text) as { nftables?: J[] };
  if (!Array.isArray(doc.nftables)) throw new Error('nft -j output has no "nftables" array');
  const table = newTable(family, name);
  const counters = new Map<string, Counter>();
  const elemCounters = new Map<string, Map<string, Counter>>();
  for (const item of doc.nftables) {
    if (item.chain) {
      const c = item.chain as J;
      if (c.table !== name || c.family !== family) continue;
      const chain: NftChain = { name: String(c.name), rules: [], tags: [] };
      if (typeof c.hook === 'string' && HOOKS.has(c.hook)) {
        const base: BaseChainSpec = { type: c.type === 'nat' ? 'nat' : 'filter', hook: c.hook as BaseChainSpec['hook'], prio: Number(c.prio) };
        if (typeof c.dev === 'string') base.device = c.dev;
        else if (Array.isArray(c.dev) && c.dev.length === 1) base.device = String(c.dev[0]);
        // nft 1.0.6's JSON leaves the device of a netdev chain out on newer kernels (its text
        // output has it): haldir names the chain after its device, so take it from there.
        else if (c.hook === 'ingress' && String(c.name).startsWith('ingress/')) base.device = String(c.name).slice('ingress/'.length);
        chain.base = base;
      }
      if (typeof c.comment === 'string') chain.comment = c.comment;
      table.chains.set(chain.name, chain);
    } else if (item.map || item.set) {
      const m = (item.map ?? item.set) as J;
      if (m.table !== name || m.family !== family) continue;
      const keyTypes = Array.isArray(m.type) ? (m.type as unknown[]).map(String) : [String(m.type)];
      const elements = new Map<string, string>();
      const ec = new Map<string, Counter>();
      for (const e of (m.elem as unknown[] | undefined) ?? []) {
        if (Array.isArray(e)) elements.set(elemText(e[0]), elemText(e[1]));
        else {
          elements.set(elemText(e), '');
          const c = (e as { elem?: { counter?: Counter } }).elem?.counter;
          if (c) ec.set(elemText(e), { packets: Number(c.packets), bytes: Number(c.bytes) });
        }
      }
      const flags = Array.isArray(m.flags) ? (m.flags as unknown[]).map(String) : typeof m.flags === 'string' ? [m.flags] : [];
      table.maps.set(String(m.name), { name: String(m.name), keyTypes, dataType: item.map ? String(m.map) : '', elements, ...(flags.includes('dynamic') ? { dynamic: true } : {}) });
      if (ec.size) elemCounters.set(String(m.name), ec);
    } else if (item.rule) {
      const r = item.rule as J;
      if (r.table !== name || r.family !== family) continue;
      const chain = table.chains.get(String(r.chain));
      if (!chain) continue;
      chain.tags.push(typeof r.comment === 'string' ? r.comment : '');
      chain.rules.push('');
      if (!counters.has(chain.name) && Array.isArray(r.expr)) {
        for (const x of r.expr as J[]) {
          if (x.counter && typeof x.counter === 'object') {
            const k = x.counter as J;
            counters.set(chain.name, { packets: Number(k.packets ?? 0), bytes: Number(k.bytes ?? 0) });
            break;
          }
        }
      }
    }
  }
  return { table, counters, elemCounters };
}

/** `nft -j list tables` → the `family name` pairs present. */
export function parseTableList(text: string): { family: string; name: string }[] {
  const doc = JSON.parse(text) as { nftables?: J[] };
  const out: { family: string; name: string }[] = [];
  for (const item of doc.nftables ?? []) {
    const t = item.table as J | undefined;
    if (t) out.push({ family: String(t.family), name: String(t.name) });
  }
  return out;
}
