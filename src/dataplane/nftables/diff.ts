// Desired vs actual nftables state → one nft transaction (a list of commands for
// `nft -f`) and the changes in the operator's words. Pure. Only objects inside haldir's
// own tables are ever touched. Command order makes the batch valid in one transaction:
// new tables, maps and chains first (so rules can jump to them), then rules, then map
// elements, and last the chains nothing references any more.
import type { Change } from '../types.js';
import { baseSpecText, sameBase, sameMapType, sameRules, type NftChain, type NftMap, type NftState, type NftTable } from './objects.js';

export interface NftDiff {
  commands: string[];
  changes: Change[];
}

const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

function chainDecl(t: NftTable, c: NftChain): string {
  const parts: string[] = [];
  if (c.base) parts.push(baseSpecText(c.base));
  if (c.comment) parts.push(`comment ${q(c.comment)};`);
  return `add chain ${t.family} ${t.name} ${c.name}${parts.length ? ` { ${parts.join(' ')} }` : ''}`;
}

function mapDecl(t: NftTable, m: NftMap): string {
  if (!m.dataType) {
    // A set; a dynamic one counts per element what the packet path adds (per-destination connections).
    const extra = m.dynamic ? ' flags dynamic; counter; size 1048576;' : '';
    return `add set ${t.family} ${t.name} ${m.name} { type ${m.keyTypes.join(' . ')};${extra} }`;
  }
  return `add map ${t.family} ${t.name} ${m.name} { type ${m.keyTypes.join(' . ')} : ${m.dataType}; }`;
}

const kindOf = (m: NftMap): string => (m.dataType ? 'map' : 'set');
const elemText = (k: string, v: string): string => (v ? `${k} : ${v}` : k);

function ruleCmds(t: NftTable, c: NftChain): string[] {
  return c.rules.map((r, i) => `add rule ${t.family} ${t.name} ${c.name} ${r} comment ${q(c.tags[i]!)}`);
}

/** What a chain is, for change messages: its comment (service or destination) or its name. */
function what(t: NftTable, c: NftChain): string {
  if (c.comment) return c.comment.includes(' -> ') ? `dest ${c.comment}` : `service ${c.comment}`;
  return `chain ${t.family} ${t.name} ${c.name}`;
}

function elementObject(t: NftTable, m: NftMap, key: string): string {
  return `element ${t.family} ${t.name} ${m.name} { ${key} }`;
}

/**
 * `expected` is what haldir last wrote (when known): a difference between actual and
 * desired where expected equals desired was made behind haldir's back, and is flagged
 * as drift.
 */
export function diffState(desired: NftState, actual: NftState, expected?: NftState): NftDiff {
  const early: string[] = [];
  const rules: string[] = [];
  // Element changes per map, batched into few commands (one per 1000 elements: nft parses
  // a 37k-command file far slower than 37 commands with the same elements).
  const delElems = new Map<string, string[]>();
  const addElems = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, target: string, e: string): void => {
    const l = m.get(target);
    if (l) l.push(e);
    else m.set(target, [e]);
  };
  const late: string[] = [];
  const changes: Change[] = [];

  // Drift: haldir last wrote exactly the desired chain, yet the kernel has something else.
  // Without a record (a fresh process) the kernel still tells: haldir never leaves one of
  // its chains empty or a rule without its tag.
  const driftChain = (tk: string, name: string, d: NftChain): boolean => {
    if (!expected) {
      const a = actual.get(tk)?.chains.get(name);
      return !!a && (a.tags.length === 0 || a.tags.some((t) => !t.startsWith('h=')));
    }
    const e = expected.get(tk)?.chains.get(name);
    return !!e && sameBase(e.base, d.base) && sameRules(e, d);
  };

  for (const [tk, dt] of desired) {
    const at = actual.get(tk);
    const et = expected?.get(tk);
    if (!at) {
      early.push(`add table ${dt.family} ${dt.name}`);
      changes.push({ op: 'add', object: `table ${dt.family} ${dt.name}`, ...(et ? { drift: true, detail: 'table missing (removed behind haldir\'s back)' } : {}) });
    }
    // Maps: declared first; a map whose type differs (not haldir's doing) is recreated.
    for (const [mn, dm] of dt.maps) {
      const am = at?.maps.get(mn);
      let actualElems = am?.elements ?? new Map<string, string>();
      if (am && !sameMapType(am, dm)) {
        early.push(`delete ${kindOf(am)} ${dt.family} ${dt.name} ${mn}`);
        changes.push({ op: 'update', object: `${kindOf(dm)} ${dt.family} ${dt.name} ${mn}`, detail: `type ${am.keyTypes.join(' . ')} : ${am.dataType} replaced`, drift: true });
        actualElems = new Map();
      }
      if (!am || !sameMapType(am, dm)) early.push(mapDecl(dt, dm));
      if (dm.dynamic) continue;
      const em = et?.maps.get(mn);
      for (const [k, v] of actualElems) {
        const dv = dm.elements.get(k);
        if (dv === v) continue;
        push(delElems, `${dt.family} ${dt.name} ${mn}`, k);
        if (dv === undefined) {
          const drift = em !== undefined && !em.elements.has(k);
          changes.push({ op: 'delete', object: elementObject(dt, dm, k), detail: `was ${v}`, ...(drift ? { drift } : {}) });
        }
      }
      for (const [k, v] of dm.elements) {
        const av = actualElems.get(k);
        if (av === v) continue;
        push(addElems, `${dt.family} ${dt.name} ${mn}`, elemText(k, v));
        // Without a record: a dispatch element missing while the chain it leads to exists
        // (haldir writes both in one transaction) was removed behind its back.
        const target = /^goto (\S+)$/.exec(v)?.[1];
        const drift = em !== undefined ? em.elements.get(k) === v : !expected && av === undefined && !!target && !!at?.chains.has(target);
        changes.push({ op: av === undefined ? 'add' : 'update', object: elementObject(dt, dm, k), detail: av === undefined ? v : `${av} -> ${v}`, ...(drift ? { drift } : {}) });
      }
    }
    for (const [cn, dc] of dt.chains) {
      const ac = at?.chains.get(cn);
      const drift = driftChain(tk, cn, dc);
      if (!ac) {
        early.push(chainDecl(dt, dc));
        rules.push(...ruleCmds(dt, dc));
        changes.push({ op: 'add', object: what(dt, dc), ...(drift ? { drift, detail: 'chain missing' } : {}) });
        continue;
      }
      if (!sameBase(ac.base, dc.base)) {
        // A hook or device change: base chains are not jump targets, so delete and re-add.
        late.push(`flush chain ${dt.family} ${dt.name} ${cn}`);
        early.push(`delete chain ${dt.family} ${dt.name} ${cn}`, chainDecl(dt, dc));
        rules.push(...ruleCmds(dt, dc));
        changes.push({ op: 'update', object: what(dt, dc), detail: 'hook changed', ...(drift ? { drift } : {}) });
        continue;
      }
      if (!sameRules(ac, dc)) {
        rules.push(`flush chain ${dt.family} ${dt.name} ${cn}`, ...ruleCmds(dt, dc));
        changes.push({ op: 'update', object: what(dt, dc), detail: drift ? 'rules changed behind haldir\'s back' : describeRuleChange(ac, dc), ...(drift ? { drift } : {}) });
      }
    }
    for (const [cn, ac] of at?.chains ?? []) {
      if (dt.chains.has(cn)) continue;
      late.push(`flush chain ${dt.family} ${dt.name} ${cn}`);
      late.push(`delete chain ${dt.family} ${dt.name} ${cn}`);
      changes.push({ op: 'delete', object: what(dt, ac) });
    }
    for (const [mn, am] of at?.maps ?? []) {
      if (dt.maps.has(mn)) continue;
      late.push(`delete ${kindOf(am)} ${dt.family} ${dt.name} ${mn}`);
      changes.push({ op: 'delete', object: `${kindOf(am)} ${dt.family} ${dt.name} ${mn}` });
    }
  }
  // Tables haldir no longer needs (e.g. the last IPv6 service went away).
  for (const [tk, at] of actual) {
    if (desired.has(tk)) continue;
    late.push(`delete table ${at.family} ${at.name}`);
    changes.push({ op: 'delete', object: `table ${at.family} ${at.name}` });
  }
  // Flushes of base chains whose hook changed go before their delete (kept in `early`).
  const flushFirst = late.filter((c) => c.startsWith('flush chain') && early.includes(c.replace('flush', 'delete')));
  const lateRest = late.filter((c) => !flushFirst.includes(c));
  // Every flush before any delete: a chain can be deleted only once no rule jumps to it.
  const rank = (c: string): number => (c.startsWith('flush') ? 0 : c.startsWith('delete chain') ? 1 : c.startsWith('delete map') || c.startsWith('delete set') ? 2 : 3);
  lateRest.sort((a, b) => rank(a) - rank(b));
  const elems: string[] = [];
  for (const [op, m] of [['delete', delElems], ['add', addElems]] as const)
    for (const [target, list] of m) for (let i = 0; i < list.length; i += 1000) elems.push(`${op} element ${target} { ${list.slice(i, i + 1000).join(', ')} }`);
  return { commands: [...flushFirst, ...early, ...rules, ...elems, ...lateRest], changes };
}

function describeRuleChange(a: NftChain, d: NftChain): string {
  const notes = (c: NftChain): string => c.tags.map((t) => t.split(' ').slice(1).join(' ')).filter(Boolean).join('; ');
  const an = notes(a);
  const dn = notes(d);
  if (an && dn && an !== dn) return `${an} -> ${dn}`;
  return 'slots or targets changed';
}
