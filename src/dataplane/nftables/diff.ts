// Desired vs actual nftables state → one transaction (ops.ts: the operations both
// backends write) and the changes in the operator's words. Pure. Only objects inside
// haldir's own tables are ever touched. Op order makes the batch valid in one transaction:
// new tables, maps and chains first (so rules can jump to them), then rules, then map
// elements, and last the chains nothing references any more.
import type { Change } from '../types.js';
import { sameBase, sameMapType, sameRules, type NftChain, type NftMap, type NftState, type NftTable } from './objects.js';
import { kindOf, opsText, type ElementOp, type MapRef, type NftOp } from './ops.js';

export interface NftDiff {
  ops: NftOp[];
  /** The ops as `nft -f` commands (made when first asked for). */
  readonly commands: string[];
  changes: Change[];
}

const where = (t: NftTable): { family: NftTable['family']; table: string } => ({ family: t.family, table: t.name });

function ruleOps(t: NftTable, c: NftChain): NftOp[] {
  return c.rules.map((text, i) => ({ op: 'add rule', ...where(t), chain: c.name, rule: c.specs?.[i], text, comment: c.tags[i]! }));
}

const mapRef = (m: NftMap): MapRef => ({ name: m.name, keyTypes: m.keyTypes, dataType: m.dataType });

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
  const flushFirst: NftOp[] = [];
  const early: NftOp[] = [];
  const rules: NftOp[] = [];
  // Element changes, one op per map (the backends cut them into commands or messages).
  const delElems: ElementOp[] = [];
  const addElems: ElementOp[] = [];
  const elementOp = (list: ElementOp[], op: ElementOp['op'], t: NftTable, map: NftMap): ElementOp => {
    const o: ElementOp = { op, ...where(t), map: mapRef(map), keys: [], values: [] };
    list.push(o);
    return o;
  };
  const late: NftOp[] = [];
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
      early.push({ op: 'add table', ...where(dt) });
      changes.push({ op: 'add', object: `table ${dt.family} ${dt.name}`, ...(et ? { drift: true, detail: 'table missing (removed behind haldir\'s back)' } : {}) });
    }
    // Maps: declared first; a map whose type differs (not haldir's doing) is recreated.
    for (const [mn, dm] of dt.maps) {
      const am = at?.maps.get(mn);
      let actualElems = am?.elements ?? new Map<string, string>();
      if (am && !sameMapType(am, dm)) {
        early.push({ op: 'delete map', ...where(dt), map: mn, kind: kindOf(am) });
        changes.push({ op: 'update', object: `${kindOf(dm)} ${dt.family} ${dt.name} ${mn}`, detail: `type ${am.keyTypes.join(' . ')} : ${am.dataType} replaced`, drift: true });
        actualElems = new Map();
      }
      if (!am || !sameMapType(am, dm)) early.push({ op: 'add map', ...where(dt), map: dm });
      if (dm.dynamic) continue;
      const em = et?.maps.get(mn);
      let del: ElementOp | undefined;
      for (const [k, v] of actualElems) {
        const dv = dm.elements.get(k);
        if (dv === v) continue;
        del ??= elementOp(delElems, 'delete element', dt, dm);
        del.keys.push(k);
        del.values.push('');
        if (dv === undefined) {
          const c: Change = { op: 'delete', object: elementObject(dt, dm, k), detail: `was ${v}` };
          if (em !== undefined && !em.elements.has(k)) c.drift = true;
          changes.push(c);
        }
      }
      let add: ElementOp | undefined;
      for (const [k, v] of dm.elements) {
        const av = actualElems.get(k);
        if (av === v) continue;
        add ??= elementOp(addElems, 'add element', dt, dm);
        add.keys.push(k);
        add.values.push(v);
        const c: Change = { op: av === undefined ? 'add' : 'update', object: elementObject(dt, dm, k), detail: av === undefined ? v : `${av} -> ${v}` };
        // Without a record: a dispatch element missing while the chain it leads to exists
        // (haldir writes both in one transaction) was removed behind its back.
        if (em !== undefined ? em.elements.get(k) === v : !expected && av === undefined && v.startsWith('goto ') && !!at?.chains.has(v.slice(5))) c.drift = true;
        changes.push(c);
      }
    }
    for (const [cn, dc] of dt.chains) {
      const ac = at?.chains.get(cn);
      const drift = driftChain(tk, cn, dc);
      if (!ac) {
        early.push({ op: 'add chain', ...where(dt), chain: dc });
        rules.push(...ruleOps(dt, dc));
        changes.push({ op: 'add', object: what(dt, dc), ...(drift ? { drift, detail: 'chain missing' } : {}) });
        continue;
      }
      if (!sameBase(ac.base, dc.base)) {
        // A hook or device change: base chains are not jump targets, so delete and re-add.
        flushFirst.push({ op: 'flush chain', ...where(dt), chain: cn });
        early.push({ op: 'delete chain', ...where(dt), chain: cn }, { op: 'add chain', ...where(dt), chain: dc });
        rules.push(...ruleOps(dt, dc));
        changes.push({ op: 'update', object: what(dt, dc), detail: 'hook changed', ...(drift ? { drift } : {}) });
        continue;
      }
      if (!sameRules(ac, dc)) {
        rules.push({ op: 'flush chain', ...where(dt), chain: cn }, ...ruleOps(dt, dc));
        changes.push({ op: 'update', object: what(dt, dc), detail: drift ? 'rules changed behind haldir\'s back' : describeRuleChange(ac, dc), ...(drift ? { drift } : {}) });
      }
    }
    for (const [cn, ac] of at?.chains ?? []) {
      if (dt.chains.has(cn)) continue;
      late.push({ op: 'flush chain', ...where(dt), chain: cn }, { op: 'delete chain', ...where(dt), chain: cn });
      changes.push({ op: 'delete', object: what(dt, ac) });
    }
    for (const [mn, am] of at?.maps ?? []) {
      if (dt.maps.has(mn)) continue;
      late.push({ op: 'delete map', ...where(dt), map: mn, kind: kindOf(am) });
      changes.push({ op: 'delete', object: `${kindOf(am)} ${dt.family} ${dt.name} ${mn}` });
    }
  }
  // Tables haldir no longer needs (e.g. the last IPv6 service went away).
  for (const [tk, at] of actual) {
    if (desired.has(tk)) continue;
    late.push({ op: 'delete table', family: at.family, table: at.name });
    changes.push({ op: 'delete', object: `table ${at.family} ${at.name}` });
  }
  // Every flush before any delete: a chain can be deleted only once no rule jumps to it.
  // (Flushes of base chains whose hook changed already went first, before their delete.)
  const rank = (o: NftOp): number => (o.op === 'flush chain' ? 0 : o.op === 'delete chain' ? 1 : o.op === 'delete map' ? 2 : 3);
  late.sort((a, b) => rank(a) - rank(b));
  const ops = [...flushFirst, ...early, ...rules, ...delElems, ...addElems, ...late];
  let text: string[] | undefined;
  return {
    ops,
    changes,
    get commands() {
      return (text ??= opsText(ops));
    },
  };
}

function describeRuleChange(a: NftChain, d: NftChain): string {
  const notes = (c: NftChain): string => c.tags.map((t) => t.split(' ').slice(1).join(' ')).filter(Boolean).join('; ');
  const an = notes(a);
  const dn = notes(d);
  if (an && dn && an !== dn) return `${an} -> ${dn}`;
  return 'slots or targets changed';
}
