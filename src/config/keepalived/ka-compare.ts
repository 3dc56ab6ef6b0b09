// haldir's reading of a keepalived.conf against keepalived's own (ka-reading.ts):
// the two models are compared object by object (VRRP instances by name,
// virtual servers by address, real servers by address and port, checkers in
// order), and every difference becomes a diagnostic at the place haldir read
// it, saying what keepalived 2.2 runs instead and why: the first thing
// keepalived reads differently on that line ("it sees `auth_type PASS` and
// ignores `auth_pass ********`"), keepalived's own log line where it writes one,
// and, as notes, keepalived's reading of every line involved. Passwords never
// appear: the word after auth_pass is masked, and so is every password found.
import type { Diagnostic } from '../diagnostics.js';
import type { Checker, HttpUrl, Loc, Located, NodeModel, RealServer, VirtualServer, VrrpInstance } from '../../model/types.js';
import { hostPort, rsBlock, vsBlock, vsName } from '../../model/names.js';
import { passAuthData } from '../../vrrp/packet.js';
import { divergent, narrateLine, showWords, type KaAction, type KaReading } from './ka-reading.js';
import type { Stmt } from './parser.js';

/** Every code this comparison reports; with --strict-keepalived they are errors. */
export const KA_CODES = [
  'keepalived-auth',
  'keepalived-instance',
  'keepalived-instance-dropped',
  'keepalived-virtual-server',
  'keepalived-virtual-server-dropped',
  'keepalived-real-server',
  'keepalived-real-server-dropped',
  'keepalived-real-server-added',
  'keepalived-check',
  'keepalived-check-dropped',
  'keepalived-reads-differently',
] as const;

const KA_CODE_SET = new Set<string>(KA_CODES);

/** A diagnostic about keepalived reading the file differently (not an error in haldir's own reading). */
export function isKeepalivedReadingCode(code: string): boolean {
  return KA_CODE_SET.has(code);
}

const HINT = 'write one keyword per line, each block\'s "{" at the end of its keyword\'s line and every "}" on a line of its own (haldir export keepalived writes it so); haldir validate --strict-keepalived shows the cluster keepalived would run';

interface Found {
  code: (typeof KA_CODES)[number];
  loc: Loc | undefined;
  /** Lines whose keepalived reading explains it (the first divergent one gives the cause). */
  lines: (Loc | undefined)[];
  effect: string;
  block?: string;
  /** The effect already says why: no cause from the lines is put in front of it. */
  explained?: boolean;
  /** Further lines it accounts for (not shown as notes). */
  covers?: (Loc | undefined)[];
}

function src(o: Located | undefined, ...fields: string[]): Loc | undefined {
  for (const f of fields) if (o?.src?.[f]) return o.src[f];
  return o?.src?.[''];
}

const lineKey = (l: { file: string; line: number }) => `${l.file}\0${l.line}`;

const vsKey = vsName;

const rsKey = (rs: RealServer) => hostPort(rs.address, rs.port);

function statusText(u: HttpUrl): string {
  return u.statusCodes.length === 0 ? '200-299 (the default)' : u.statusCodes.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(' ');
}

/** A value for a message; objects by their visible parts, never with `src`. */
function show(v: unknown): string {
  if (v === undefined) return 'unset';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return 'none';
    return v.map((x) => (x && typeof x === 'object' && 'address' in x ? String((x as { address: string }).address) : x && typeof x === 'object' && 'name' in x ? String((x as { name: string }).name) : show(x))).join(', ');
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['cmd'] === 'string') return String(o['cmd']);
    if (typeof o['kind'] === 'string') return String(o['kind']);
  }
  return JSON.stringify(v, (k, x: unknown) => (k === 'src' ? undefined : x));
}

const noSrc = (k: string, x: unknown) => (k === 'src' ? undefined : x);
/** Equal values, objects compared without their `src` maps. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a, noSrc) === JSON.stringify(b, noSrc);
}

/** Fields compared generically, with the name keepalived.conf uses for them. */
const INSTANCE_FIELDS: [keyof VrrpInstance, string][] = [
  ['state', 'state'],
  ['interface', 'interface'],
  ['vrid', 'virtual_router_id'],
  ['priority', 'priority'],
  ['advertInt', 'advert_int'],
  ['version', 'version'],
  ['vips', 'virtual_ipaddress'],
  ['excludedVips', 'virtual_ipaddress_excluded'],
  ['unicastSrcIp', 'unicast_src_ip'],
  ['unicastPeers', 'unicast_peer'],
  ['unicastTtl', 'unicast_ttl'],
  ['mcastSrcIp', 'mcast_src_ip'],
  ['mcastDstIp', 'mcast_dst_ip'],
  ['trackInterfaces', 'track_interface'],
  ['trackScripts', 'track_script'],
  ['trackFiles', 'track_file'],
  ['nopreempt', 'nopreempt'],
  ['preemptDelay', 'preempt_delay'],
  ['accept', 'accept'],
  ['strictMode', 'strict_mode'],
  ['dontTrackPrimary', 'dont_track_primary'],
  ['promoteSecondaries', 'promote_secondaries'],
  ['garpMasterDelay', 'garp_master_delay'],
  ['garpMasterRepeat', 'garp_master_repeat'],
  ['garpMasterRefresh', 'garp_master_refresh'],
  ['downTimerAdverts', 'down_timer_adverts'],
  ['notify', 'notify scripts'],
];

const VS_FIELDS: [keyof VirtualServer, string][] = [
  ['scheduler', 'lb_algo'],
  ['forwarding', 'lb_kind'],
  ['protocol', 'protocol'],
  ['delayLoop', 'delay_loop'],
  ['persistenceTimeout', 'persistence_timeout'],
  ['persistenceGranularity', 'persistence_granularity'],
  ['quorum', 'quorum'],
  ['hysteresis', 'hysteresis'],
  ['sorryServer', 'sorry_server'],
  ['virtualhost', 'virtualhost'],
  ['alpha', 'alpha'],
  ['omega', 'omega'],
  ['haSuspend', 'ha_suspend'],
  ['inhibitOnFailure', 'inhibit_on_failure'],
];

const RS_FIELDS: [keyof RealServer, string][] = [
  ['weight', 'weight'],
  ['forwarding', 'lvs_method'],
  ['inhibitOnFailure', 'inhibit_on_failure'],
  ['upperThreshold', 'uthreshold'],
  ['lowerThreshold', 'lthreshold'],
  ['notifyUp', 'notify_up'],
  ['notifyDown', 'notify_down'],
];

const CHECK_FIELDS: [string, string][] = [
  ['connectIp', 'connect_ip'],
  ['connectPort', 'connect_port'],
  ['bindTo', 'bindto'],
  ['bindPort', 'bind_port'],
  ['bindIf', 'bind_if'],
  ['fwmark', 'fwmark'],
  ['connectTimeout', 'connect_timeout'],
  ['retry', 'retry'],
  ['delayBeforeRetry', 'delay_before_retry'],
  ['delayLoop', 'delay_loop'],
  ['warmup', 'warmup'],
  ['alpha', 'alpha'],
  ['virtualhost', 'virtualhost'],
  ['httpProtocol', 'http_protocol'],
  // MISC_CHECK, DNS_CHECK, UDP_CHECK, SMTP_CHECK, FILE_CHECK
  ['script', 'misc_path'],
  ['timeout', 'misc_timeout'],
  ['dynamic', 'misc_dynamic'],
  ['queryType', 'type'],
  ['name', 'name'],
  ['payload', 'payload'],
  ['requireReply', 'require_reply'],
  ['minReplyLength', 'min_reply_length'],
  ['maxReplyLength', 'max_reply_length'],
  ['heloName', 'helo_name'],
  ['hosts', 'host'],
  ['trackFile', 'track_file'],
  ['weight', 'weight'],
];

const SCRIPT_FIELDS: [string, string][] = [
  ['script', 'script'],
  ['interval', 'interval'],
  ['timeout', 'timeout'],
  ['weight', 'weight'],
  ['weightReverse', 'weight reverse'],
  ['rise', 'rise'],
  ['fall', 'fall'],
  ['initFail', 'init_fail'],
];

/** Value-block fields: keepalived takes one entry per line of the block. */
const VALUE_BLOCKS = new Set(['vips', 'excludedVips', 'unicastPeers', 'trackInterfaces', 'trackScripts', 'trackFiles']);

/** The RFC 3768 §5.3.6 authentication an instance puts on the wire: type and the 8 octets. */
function wireAuth(i: VrrpInstance): string {
  if (!i.auth || i.version === 3 || i.strictMode) return 'none';
  return `${i.auth.type}|${Buffer.from(passAuthData(i.auth.pass)).toString('hex')}`;
}

class Comparison {
  readonly found: Found[] = [];
  /** The '}' keepalived ended each block with, by the block keyword's token position. */
  private readonly ends = new Map<string, Loc>();

  constructor(
    private readonly h: NodeModel,
    private readonly k: NodeModel,
    reading: KaReading,
    private readonly notes: string[],
  ) {
    const walk = (ss: Stmt[]) => {
      for (const s of ss) {
        if (s.end) this.ends.set(lineKey(s.kw) + `\0${s.kw.col}`, s.end);
        if (s.block) walk(s.block);
      }
    };
    walk(reading.stmts);
  }

  private add(f: Found): void {
    this.found.push(f);
  }

  run(): void {
    this.scripts();
    this.instances();
    this.virtualServers();
  }

  /** The lines of `o`'s block as keepalived read it (keyword to '}'), at most 40. */
  private blockLines(o: Located | undefined): Loc[] {
    const start = src(o);
    if (!start) return [];
    const end = this.ends.get(lineKey(start) + `\0${start.col}`);
    const last = end && end.file === start.file ? Math.min(end.line, start.line + 40) : start.line;
    const out: Loc[] = [];
    for (let l = start.line; l <= last; l++) out.push({ file: start.file, line: l, col: 1 });
    return out;
  }

  /** Field differences of two objects, located where haldir read the field (else the object). */
  private fields(code: Found['code'], h: Located, k: Located, list: [string, string][], name: string, block: string): void {
    const hr = h as unknown as Record<string, unknown>;
    const kr = k as unknown as Record<string, unknown>;
    for (const [f, kw] of list) {
      if (same(hr[f], kr[f])) continue;
      const oneLine = VALUE_BLOCKS.has(f) ? 'keepalived reads one entry per line of a value block (the first word of the line; the rest are options to it) → ' : '';
      this.add({
        code,
        loc: src(h, f) ?? src(h),
        lines: [src(h, f), src(k, f), src(h), ...this.blockLines(k)],
        effect: `${oneLine}${name} runs with ${kw} ${show(kr[f])} instead of ${show(hr[f])}`,
        block,
        ...(oneLine ? { explained: true } : {}),
      });
    }
  }

  private scripts(): void {
    const kByName = new Map(this.k.vrrpScripts.map((x) => [x.name, x]));
    for (const hs of this.h.vrrpScripts) {
      const ks = kByName.get(hs.name);
      const block = `vrrp_script ${hs.name}`;
      if (!ks) this.add({ code: 'keepalived-instance', loc: src(hs), lines: [src(hs)], effect: `keepalived has no vrrp_script ${hs.name}`, block });
      else this.fields('keepalived-instance', hs, ks, SCRIPT_FIELDS, `vrrp_script ${hs.name}`, block);
    }
  }

  private instances(): void {
    const kByName = new Map(this.k.vrrpInstances.map((i) => [i.name, i]));
    for (const hi of this.h.vrrpInstances) {
      const block = `vrrp_instance ${hi.name}`;
      const ki = kByName.get(hi.name);
      if (!ki) {
        const stop = this.notes.find((n) => /virtual router id|Unknown interface/.test(n));
        this.add({
          code: 'keepalived-instance-dropped',
          loc: src(hi),
          lines: [src(hi)],
          effect: stop
            ? `keepalived's VRRP process refuses its configuration ("${stop}") and runs no vrrp_instance, ${hi.name} included`
            : `keepalived runs no vrrp_instance ${hi.name}`,
          block,
        });
        continue;
      }
      const ha = wireAuth(hi);
      const ka = wireAuth(ki);
      if (ha !== ka) {
        const kType = ka === 'none' ? 'no authentication' : ka.startsWith('AH') ? 'AH authentication' : ha.startsWith('PASS') ? 'another password' : 'PASS authentication';
        const hType = ha === 'none' ? 'no authentication' : ha.startsWith('AH') ? 'AH' : 'PASS';
        const why =
          ka === 'none' && ki.src?.['auth.type'] && !ki.src?.['auth.pass']
            ? ` (keepalived logs "(${hi.name}) Authentication specified but no password given. Ignoring")`
            : '';
        this.add({
          code: 'keepalived-auth',
          loc: src(hi, 'auth', 'auth.type', 'auth.pass'),
          lines: [src(hi, 'auth'), src(hi, 'auth.type'), src(hi, 'auth.pass')],
          effect:
            `${hi.name} runs with ${kType}${why} instead of ${hType}: nodes that read this block as written ` +
            `drop its adverts and it drops theirs (RFC 3768 §7.1), so each of them becomes MASTER`,
          block,
        });
      }
      this.fields('keepalived-instance', hi, ki, INSTANCE_FIELDS, hi.name, block);
    }
  }

  private virtualServers(): void {
    // The same service: by address, port and protocol, else (keepalived read another protocol) by address and port.
    const kByKey = new Map(this.k.virtualServers.map((v) => [vsKey(v), v]));
    const pair = new Map<VirtualServer, VirtualServer>();
    const taken = new Set<VirtualServer>();
    for (const hv of this.h.virtualServers) {
      const kv = kByKey.get(vsKey(hv));
      if (kv && !taken.has(kv)) {
        pair.set(hv, kv);
        taken.add(kv);
      }
    }
    for (const hv of this.h.virtualServers) {
      if (pair.has(hv)) continue;
      const kv = this.k.virtualServers.find((v) => !taken.has(v) && vsBlock(v) === vsBlock(hv));
      if (kv) {
        pair.set(hv, kv);
        taken.add(kv);
      }
    }
    for (const hv of this.h.virtualServers) {
      const key = vsKey(hv);
      const kv = pair.get(hv);
      const block = vsBlock(hv);
      if (!kv) {
        // keepalived drops a virtual server that ends up without real servers (check_data.c).
        this.add({
          code: 'keepalived-virtual-server-dropped',
          loc: src(hv),
          lines: [src(hv), ...hv.realServers.map((r) => src(r))],
          effect: `keepalived runs no ${key}: none of its ${hv.realServers.length} real servers is left (keepalived logs "Virtual server [${hv.address.kind === 'ip' ? hv.address.address : key}]:${hv.protocol.toLowerCase()}:${hv.address.kind === 'ip' ? hv.address.port : 0} has no real servers - ignoring")`,
          block,
        });
        continue;
      }
      this.fields('keepalived-virtual-server', hv, kv, VS_FIELDS, key, block);
      const kRs = new Map(kv.realServers.map((r) => [rsKey(r), r]));
      const hKeys = new Set(hv.realServers.map(rsKey));
      const kept = kv.realServers.filter((r) => hKeys.has(rsKey(r))).map(rsKey);
      const keeps = `${key} keeps ${kept.length} of its ${hv.realServers.length} real servers${kept.length ? ` (${kept.join(', ')})` : ''}`;
      const vsEnd = this.ends.get(lineKey(src(kv)!) + `\0${src(kv)!.col}`);
      for (const hr of hv.realServers) {
        const kr = kRs.get(rsKey(hr));
        const rBlock = `${block} > ${rsBlock(hr)}`;
        if (!kr) {
          const early = vsEnd && src(hr) && vsEnd.file === src(hr)!.file && vsEnd.line < src(hr)!.line;
          // The same words for every real server of the service, so that a report folds them into one.
          this.add(
            early
              ? {
                  code: 'keepalived-real-server-dropped',
                  loc: src(hr),
                  lines: [vsEnd],
                  effect: `keepalived reads this real_server after a '}' on line ${vsEnd.line} has already ended ${block} for it ("Unknown keyword 'real_server'"), and drops it → ${keeps}`,
                  block: rBlock,
                  explained: true,
                  covers: [src(hr)],
                }
              : { code: 'keepalived-real-server-dropped', loc: src(hr), lines: [src(hr)], effect: `keepalived drops ${rsBlock(hr)}: ${keeps}`, block: rBlock },
          );
          continue;
        }
        this.realServer(hr, kr, rBlock);
      }
      for (const kr of kv.realServers) {
        if (hKeys.has(rsKey(kr))) continue;
        this.add({ code: 'keepalived-real-server-added', loc: src(kr), lines: [src(kr)], effect: `keepalived adds ${rsBlock(kr)} to ${key}`, block });
      }
    }
    for (const kv of this.k.virtualServers) {
      if (!taken.has(kv)) this.add({ code: 'keepalived-virtual-server', loc: src(kv), lines: [src(kv)], effect: `keepalived runs ${vsKey(kv)}, which haldir does not read here`, block: vsBlock(kv) });
    }
  }

  private realServer(hr: RealServer, kr: RealServer, block: string): void {
    const name = `${rsBlock(hr)}`;
    this.fields('keepalived-real-server', hr, kr, RS_FIELDS, name, block);
    const n = Math.max(hr.checkers.length, kr.checkers.length);
    for (let c = 0; c < n; c++) {
      const hc = hr.checkers[c];
      const kc = kr.checkers[c];
      if (hc && (!kc || kc.type !== hc.type)) {
        const none = kr.checkers.length === 0;
        this.add({
          code: 'keepalived-check-dropped',
          loc: src(hc),
          lines: [src(hc), src(hr)],
          effect: none
            ? `${name} runs without a health check: keepalived keeps it in the pool even while it is down`
            : `${name} runs without this ${hc.type}${kc ? ` (keepalived has a ${kc.type} in its place)` : ''}`,
          block,
        });
        break;
      }
      if (!hc && kc) {
        this.add({ code: 'keepalived-check', loc: src(kc), lines: [src(kc)], effect: `keepalived adds a ${kc.type} to ${name}`, block });
        continue;
      }
      if (hc && kc) this.checker(hc, kc, name, block);
    }
  }

  private checker(hc: Checker, kc: Checker, rs: string, block: string): void {
    const what = `the ${hc.type} of ${rs}`;
    this.fields('keepalived-check', hc, kc, CHECK_FIELDS, what, block);
    if ((hc.type === 'HTTP_GET' || hc.type === 'SSL_GET') && (kc.type === 'HTTP_GET' || kc.type === 'SSL_GET')) {
      const n = Math.max(hc.urls.length, kc.urls.length);
      for (let u = 0; u < n; u++) {
        const hu = hc.urls[u];
        const ku = kc.urls[u];
        if (hu && !ku) {
          this.add({ code: 'keepalived-check', loc: src(hu), lines: [src(hu)], effect: `${what} has no url ${hu.path}`, block });
          continue;
        }
        if (!hu || !ku) continue;
        if (hu.path !== ku.path) this.add({ code: 'keepalived-check', loc: src(hu, 'path'), lines: [src(hu, 'path'), src(hu)], effect: `${what} requests ${ku.path} instead of ${hu.path}`, block });
        if (!same(hu.statusCodes, ku.statusCodes)) {
          this.add({
            code: 'keepalived-check',
            loc: src(hu, 'statusCodes', 'status_code') ?? src(hu),
            lines: [src(hu, 'statusCodes'), src(hu)],
            effect: `${what} accepts status ${statusText(ku)} for ${hu.path} instead of ${statusText(hu)}`,
            block,
          });
        }
        if (hu.digest !== ku.digest) this.add({ code: 'keepalived-check', loc: src(hu, 'digest') ?? src(hu), lines: [src(hu, 'digest'), src(hu)], effect: `${what} checks ${ku.digest ? 'a digest' : 'no digest'} for ${hu.path}`, block });
      }
    }
  }
}

/** The first thing keepalived reads differently on a line, as the cause of a finding. */
function cause(a: KaAction): string {
  switch (a.kind) {
    case 'keyword':
      return `keepalived reads one keyword per line: here it sees \`${showWords(a.words!)}\` and ignores \`${showWords(a.ignored!)}\``;
    case 'unknown-keyword':
      if (a.at.text === '}') return `keepalived reads this '}' after the block it closes has already ended for it ("${a.log}")`;
      return `keepalived does not take \`${a.at.text}\` where it reads it ("${a.log}")`;
    case 'unexpected-open':
      return `keepalived reads one keyword per line and ignores this '{' ("${a.log}")`;
    case 'missing-open':
      return `keepalived wants the block's '{' on the keyword's line or the next ("${a.log}")`;
    default:
      return `keepalived logs "${a.log}" here`;
  }
}

/** Replaces every password of the model by asterisks: reports never show secrets. */
function redactor(models: NodeModel[]): (s: string) => string {
  const secrets = [...new Set(models.flatMap((m) => m.vrrpInstances.flatMap((i) => (i.auth?.pass ? [i.auth.pass] : []))))].filter((p) => p.length >= 3).sort((a, b) => b.length - a.length);
  return (s) => secrets.reduce((acc, p) => acc.split(p).join('********'), s);
}

/**
 * Findings for everything keepalived runs differently from haldir's model `h`
 * (keepalived's model `k`, built from `reading`), as warnings; keepalived's
 * reading of the lines involved is attached as notes.
 */
export function compareReadings(h: NodeModel, k: NodeModel, reading: KaReading, notes: string[] = []): Diagnostic[] {
  const cmp = new Comparison(h, k, reading, notes);
  cmp.run();
  // Actions by line; only lines keepalived reads differently matter, and only files with one are kept.
  const byLine = new Map<string, KaAction[]>();
  let cur: KaAction[] = [];
  let curLine = -1;
  let curFile = '';
  let odd = false;
  const flush = () => {
    if (!odd) return;
    const key = lineKey({ file: curFile, line: curLine });
    const had = byLine.get(key);
    byLine.set(key, had ? [...had, ...cur] : cur);
  };
  for (const a of reading.actions) {
    if (a.at.line !== curLine || a.at.file !== curFile) {
      flush();
      cur = [];
      curLine = a.at.line;
      curFile = a.at.file;
      odd = false;
    }
    cur.push(a);
    odd ||= divergent(a);
  }
  flush();
  const redact = redactor([h, k]);
  const narrate = (l: Loc) => {
    const acts = byLine.get(lineKey(l));
    return acts && acts.some(divergent) ? { loc: { file: l.file, line: l.line, col: acts[0]!.at.col }, message: redact(`keepalived reads line ${l.line} as: ${narrateLine(acts)}`) } : undefined;
  };
  const covered = new Set<string>();
  const out: Diagnostic[] = [];
  for (const f of cmp.found) {
    for (const l of f.covers ?? []) if (l) covered.add(lineKey(l));
    const lines = f.lines.filter((l): l is Loc => l !== undefined);
    const seen = new Set<string>();
    const related: { loc: Loc; message: string }[] = [];
    let first: KaAction | undefined;
    for (const l of lines) {
      const key = lineKey(l);
      if (seen.has(key)) continue;
      seen.add(key);
      covered.add(key);
      if (!f.explained) first ??= byLine.get(key)?.find(divergent);
      const n = narrate(l);
      if (n && related.length < 3) related.push(n);
    }
    const message = redact(first ? `${cause(first)} → ${f.effect}` : f.effect);
    out.push({
      severity: 'warning',
      code: f.code,
      message,
      ...(f.loc ? { loc: { file: f.loc.file, line: f.loc.line, col: f.loc.col } } : {}),
      ...(f.block ? { block: f.block } : {}),
      hint: HINT,
      ...(related.length ? { related } : {}),
    });
  }
  // Lines keepalived reads differently without changing what it runs: keepalived -t still fails on them.
  for (const [key, acts] of byLine) {
    if (covered.has(key)) continue;
    const d = acts.find(divergent);
    if (!d) continue;
    const n = narrate(d.at)!;
    out.push({
      severity: 'warning',
      code: 'keepalived-reads-differently',
      message: redact(
        d.configError
          ? `${cause(d)}; keepalived -t reports this file as invalid`
          : `${cause(d)}`,
      ),
      loc: { file: d.at.file, line: d.at.line, col: d.at.col },
      hint: HINT,
      related: [n],
    });
  }
  return out;
}
