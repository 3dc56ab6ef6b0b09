// VIPs in keepalived's one-line form, "ADDR[/PREFIX] [dev D] [label L] [scope S]
// [brd B] [peer P] [noprefixroute] [home] [-nodad] [preferred_lft N]": parsed on
// load and written back on export whenever the form can carry the whole VIP.
import { familyOf, newVip } from '../../model/construct.js';
import type { VipAddress } from '../../model/types.js';

const VALUE_WORDS: Record<string, 'dev' | 'label' | 'scope' | 'broadcast' | 'peer' | 'preferredLft'> = {
  dev: 'dev',
  label: 'label',
  scope: 'scope',
  brd: 'broadcast',
  broadcast: 'broadcast',
  peer: 'peer',
  preferred_lft: 'preferredLft',
};
const FLAG_WORDS: Record<string, 'noPrefixRoute' | 'homeAddress' | 'noDad'> = {
  noprefixroute: 'noPrefixRoute',
  home: 'homeAddress',
  '-nodad': 'noDad',
  nodad: 'noDad',
};

/** A VIP from the one-line form, or a message saying what is wrong with it. */
export function parseVipLine(line: string): VipAddress | string {
  const words = line.trim().split(/\s+/);
  const first = words[0] ?? '';
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(first);
  if (!m) return `"${first}" is not ADDR or ADDR/PREFIX`;
  const vip = newVip(first);
  if (vip.prefix > (vip.family === 4 ? 32 : 128)) return `prefix /${vip.prefix} is too long for ${vip.address}`;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const field = VALUE_WORDS[w];
    if (field) {
      const v = words[++i];
      if (v === undefined) return `"${w}" needs a value`;
      if (field === 'preferredLft') {
        if (!/^\d+$/.test(v)) return `preferred_lft "${v}" is not a number of seconds`;
        vip.preferredLft = Number(v);
      } else vip[field] = v;
      continue;
    }
    const flag = FLAG_WORDS[w];
    if (flag) {
      vip[flag] = true;
      continue;
    }
    return `unknown word "${w}" (expected dev, label, scope, brd, peer, noprefixroute, home, -nodad, preferred_lft)`;
  }
  return vip;
}

/** The one-line form, or undefined when it cannot express this VIP exactly. */
export function formatVipLine(v: VipAddress): string | undefined {
  if (v.family !== familyOf(v.address)) return undefined;
  const words = [`${v.address}/${v.prefix}`];
  const values: [string, string | number | undefined][] = [
    ['dev', v.dev], ['label', v.label], ['scope', v.scope], ['brd', v.broadcast], ['peer', v.peer],
    ['preferred_lft', v.preferredLft],
  ];
  for (const [w, val] of values) {
    if (val === undefined) continue;
    const s = String(val);
    if (s === '' || /\s/.test(s)) return undefined;
    if (w === 'preferred_lft' && !/^\d+$/.test(s)) return undefined;
    words.push(w, s);
  }
  const flags: [string, boolean | undefined][] = [['noprefixroute', v.noPrefixRoute], ['home', v.homeAddress], ['-nodad', v.noDad]];
  for (const [w, val] of flags) {
    if (val === true) words.push(w);
    else if (val === false) return undefined; // an explicit false needs the object form to survive
  }
  // The address itself must not contain anything the parser would split on.
  return /[\s/]/.test(v.address) ? undefined : words.join(' ');
}
