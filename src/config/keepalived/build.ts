// keepalived.conf syntax tree → the model. Applies keepalived's defaults and its
// inheritance (global_defs → vrrp_instance; virtual_server → real_server →
// checker), checks every value's syntax and range, and records where each
// object and field was written so later checks can point at it.
import { hostname } from 'node:os';
import {
  newChecker,
  newNodeModel,
  newRealServer,
  newSyncGroup,
  newVirtualServer,
  newVrrpInstance,
  type CheckerInherit,
} from '../../model/construct.js';
import { defaultGlobals, IPVS_SCHEDULERS, LVS_DEFAULTS, NOTIFY_KEYWORDS } from '../../model/defaults.js';
import { makeScript } from '../../model/script.js';
import type {
  CheckTls,
  Checker,
  Forwarding,
  GlobalDefs,
  HttpUrl,
  Loc,
  Located,
  NodeModel,
  RealServer,
  Script,
  SmtpHost,
  StatusRange,
  SyncGroup,
  TrackFile,
  TrackRef,
  VipAddress,
  VirtualServer,
  VirtualServerGroup,
  VrrpInstance,
  VrrpNotify,
  VrrpScript,
  VsgEntry,
} from '../../model/types.js';
import { lazy, type BlockName, type Diagnostics } from '../diagnostics.js';
import { parseBool, parseCidr, parseIntRange, parseIp, parsePort, parseSeconds, type Parsed } from '../values.js';
import type { Token } from './lexer.js';
import type { Stmt } from './parser.js';

export interface BuildOptions {
  /** Node name; default: router_id, else the first label of the hostname. */
  node?: string;
  /**
   * Build what keepalived 2.2 runs rather than what the author meant, for
   * keepalived's reading (ka-reading.ts): values it does not accept are left
   * at its default instead of refused (priority 100, state BACKUP, no
   * authentication, NAT), and what it drops is dropped (an HTTP_GET without
   * url, a url without path, a virtual_server without real_server).
   */
  keepalived?: boolean;
}

const DAY = 86400;

const NOTIFY_BY_KEYWORD = new Map(Object.entries(NOTIFY_KEYWORDS).map(([k, kw]) => [kw, k as keyof VrrpNotify]));

/** GARP settings: the same keywords in vrrp_instance and, prefixed vrrp_, in global_defs. */
const GARP_SETTINGS: { kw: string; field: 'garpMasterDelay' | 'garpMasterRepeat' | 'garpMasterRefresh' | 'garpMasterRefreshRepeat' | 'garpLowerPrioDelay' | 'garpLowerPrioRepeat'; min: number; max: number }[] = [
  { kw: 'garp_master_delay', field: 'garpMasterDelay', min: 0, max: 1000 },
  { kw: 'garp_master_repeat', field: 'garpMasterRepeat', min: 1, max: 255 },
  { kw: 'garp_master_refresh', field: 'garpMasterRefresh', min: 0, max: DAY },
  { kw: 'garp_master_refresh_repeat', field: 'garpMasterRefreshRepeat', min: 1, max: 255 },
  { kw: 'garp_lower_prio_delay', field: 'garpLowerPrioDelay', min: 0, max: 1000 },
  { kw: 'garp_lower_prio_repeat', field: 'garpLowerPrioRepeat', min: 1, max: 255 },
];

/**
 * Records where a field was written. A Token is a Loc (file, line, col), so the
 * token itself is stored: no new object for each of the many fields.
 */
function setSrc(obj: Located, field: string, loc: Loc): void {
  (obj.src ??= {})[field] = loc;
}

/** Inheritable checker settings collected at virtual_server and real_server level. */
interface Inherit {
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  connectTimeout?: number;
  delayLoop?: number;
  alpha?: boolean;
  virtualhost?: string;
  inhibitOnFailure?: boolean;
}

export class ModelBuilder {
  private ka = false;
  /** keepalived mode: what keepalived refuses as a whole (its log line), for reports. */
  readonly kaNotes: string[] = [];

  constructor(private readonly diags: Diagnostics) {}

  /**
   * Builds the model from top-level statements, which may stream in: virtual
   * servers (the bulk) are built and dropped as they come; the few VRRP blocks
   * wait for the end, because global_defs anywhere in the file sets their defaults.
   */
  build(stmts: Iterable<Stmt>, opts: BuildOptions = {}): NodeModel {
    this.ka = opts.keepalived === true;
    const global = defaultGlobals();
    const virtualServers: VirtualServer[] = [];
    const groups: VirtualServerGroup[] = [];
    const later: Stmt[] = [];
    let tls: CheckTls | undefined;
    for (const s of stmts) {
      switch (s.kw.text) {
        case 'global_defs':
          this.globalDefs(s, global);
          break;
        case 'SSL':
          tls = this.sslBlock(s);
          break;
        case 'virtual_server_group':
          groups.push(this.vsGroup(s));
          break;
        case 'virtual_server': {
          const vs = this.virtualServer(s);
          // keepalived: "Virtual server … has no real servers - ignoring" (check_data.c), sorry_server or not.
          if (vs && !(this.ka && vs.realServers.length === 0)) virtualServers.push(vs);
          break;
        }
        default:
          later.push(s);
      }
    }
    const name = opts.node ?? global.routerId ?? hostname().split('.')[0] ?? 'localhost';
    const m = newNodeModel(name, global);
    m.virtualServers = virtualServers;
    m.virtualServerGroups = groups;
    for (const s of later) {
      switch (s.kw.text) {
        case 'vrrp_script':
          m.vrrpScripts.push(this.vrrpScript(s));
          break;
        case 'vrrp_track_file':
        case 'track_file':
          m.trackFiles.push(this.trackFile(s));
          break;
        case 'vrrp_sync_group':
          m.syncGroups.push(this.syncGroup(s));
          break;
        case 'vrrp_instance':
          m.vrrpInstances.push(this.vrrpInstance(s, global));
          break;
      }
    }
    // keepalived's SSL block (anywhere in the file) is the TLS context of every SSL_GET.
    if (tls) for (const vs of virtualServers) for (const rs of vs.realServers) for (const c of rs.checkers) if (c.type === 'SSL_GET') c.tls = { ...tls };
    // global_defs checker_log_all_failures is every checker's default.
    if (global.checkerLogAllFailures) {
      for (const vs of virtualServers) for (const rs of vs.realServers) for (const c of rs.checkers) if (!c.src?.['logAllFailures']) c.logAllFailures = true;
    }
    // keepalived (vrrp.c chk_min_cfg): one instance without VRID or interface stops its whole VRRP process.
    const bad = this.ka ? m.vrrpInstances.find((i) => !i.vrid || (!i.interface && i.unicastPeers.length === 0)) : undefined;
    if (bad) {
      this.kaNotes.push(`(${bad.name}) ${!bad.vrid ? 'the virtual router id must be set' : 'Unknown interface!'}`);
      m.vrrpInstances = [];
      m.syncGroups = [];
    }
    return m;
  }

  // ---- value helpers: report at the token, return undefined on error ----

  private val<T>(p: Parsed<T>, at: Token | undefined, fallback: Loc, block?: BlockName): T | undefined {
    if (p.ok) return p.value;
    this.diags.error('bad-value', p.error, at?.loc ?? fallback, block ? { block } : {});
    return undefined;
  }

  private int(s: Stmt, idx: number, min: number, max: number, block?: BlockName): number | undefined {
    const t = s.args[idx];
    if (!t) return undefined;
    return this.val(parseIntRange(t.text, min, max, s.kw.text), t, s.kw.loc, block);
  }

  private secs(s: Stmt, idx: number, min: number, max: number, block?: BlockName): number | undefined {
    const t = s.args[idx];
    if (!t) return undefined;
    return this.val(parseSeconds(t.text, min, max, s.kw.text), t, s.kw.loc, block);
  }

  private bool(s: Stmt, block?: BlockName): boolean {
    return this.val(parseBool(s.args[0]?.text, s.kw.text), s.args[0], s.kw.loc, block) ?? true;
  }

  private ip(t: Token | undefined, what: string, block?: BlockName): { address: string; family: 4 | 6 } | undefined {
    if (!t) return undefined;
    return this.val(parseIp(t.text, what), t, t.loc, block);
  }

  private script(s: Stmt): Script {
    return makeScript(s.args[0]?.text ?? '', s.args[1]?.text, s.args[2]?.text);
  }

  private oneOf<T extends string>(s: Stmt, allowed: readonly T[], block?: BlockName, upper = true, kaExact = false): T | undefined {
    const t = s.args[0];
    if (!t) return undefined;
    const v = (upper ? t.text.toUpperCase() : t.text) as T;
    if (allowed.includes(v)) {
      if (kaExact && v !== t.text) {
        // keepalived compares these with strcmp: another spelling is an unknown value to it.
        if (this.ka) return undefined;
        this.spelling(s, t, v, block);
      }
      return v;
    }
    this.diags.error('bad-value', `${s.kw.text} must be one of ${allowed.join(', ')}, got "${t.text}"`, t.loc, { block });
    return undefined;
  }

  /** What keepalived 2.2 does with a value haldir reads in another spelling (vrrp_parser.c, check_parser.c: strcmp). */
  private spelling(s: Stmt, t: Token, canonical: string, block?: BlockName): void {
    const name = String(block ?? '').replace(/^vrrp_instance /, '');
    const instead: Record<string, string> = {
      state: `"(${name}) unknown state '${t.text}', defaulting to BACKUP"`,
      auth_type: `"(${name}) unknown authentication type '${t.text}'" and runs without authentication`,
      lb_kind: `"PARSER : unknown [${t.text}] routing method for virtual server." and uses NAT`,
      lvs_method: `"PARSER : unknown [${t.text}] routing method" and uses NAT (or the virtual server's method)`,
      sorry_server_lvs_method: `"PARSER : unknown [${t.text}] routing method for sorry server." and uses the virtual server's method`,
    };
    this.diags.warn(
      'keepalived-spelling',
      `keepalived 2.2 reads only "${canonical}" here (exact spelling); for "${t.text}" it logs ${instead[s.kw.text] ?? 'an error and ignores it'}`,
      t.loc,
      { ...(block !== undefined ? { block } : {}), hint: `write ${s.kw.text} ${canonical}` },
    );
  }

  // ---- SSL ----

  private sslBlock(s: Stmt): CheckTls {
    const t: CheckTls = {};
    for (const k of s.block ?? []) {
      const v = k.args[0]!.text;
      if (k.kw.text === 'certificate') t.certificate = v;
      else if (k.kw.text === 'ca' || k.kw.text === 'key' || k.kw.text === 'password') t[k.kw.text] = v;
    }
    if (t.ca === undefined) {
      this.diags.warn('ssl-no-verify', 'SSL_GET checks do not verify server certificates without a ca (keepalived never verifies them, even with one)', s.kw.loc, {
        block: 'SSL',
        hint: 'add `ca FILE` to have haldir verify the chain (and the SNI name, when one is sent)',
      });
    }
    return t;
  }

  // ---- global_defs ----

  private globalDefs(s: Stmt, g: GlobalDefs): void {
    const v = g.vrrp;
    const B = 'global_defs';
    setSrc(g, '', s.kw);
    for (const k of s.block ?? []) {
      const w = k.kw.text;
      setSrc(g, w, k.kw);
      if (w.startsWith('vrrp_garp_') && this.garp(k, w.slice(5), v, B)) continue;
      switch (w) {
        case 'router_id':
          g.routerId = k.args[0]!.text;
          break;
        case 'notification_email':
          for (const l of k.block ?? []) for (const t of [l.kw, ...l.args]) g.notificationEmail.push(t.text);
          this.diags.warn('no-email', 'haldir does not send e-mail: notification_email is kept for export only', k.kw.loc, {
            block: B,
            hint: 'follow state changes on haldir\'s event stream or /metrics',
          });
          break;
        case 'notification_email_from':
          g.notificationEmailFrom = k.args[0]!.text;
          break;
        case 'smtp_server': {
          const port = k.args[1] ? this.val(parsePort(k.args[1].text, 'smtp_server port'), k.args[1], k.kw.loc, B) : 25;
          g.smtpServer = { host: k.args[0]!.text, port: port ?? 25 };
          break;
        }
        case 'smtp_helo_name':
          g.smtpHeloName = k.args[0]!.text;
          break;
        case 'smtp_connect_timeout':
          g.smtpConnectTimeout = this.secs(k, 0, 0, DAY, B);
          break;
        case 'smtp_alert':
          g.smtpAlert = this.bool(k, B);
          break;
        case 'smtp_alert_vrrp':
          g.smtpAlertVrrp = this.bool(k, B);
          break;
        case 'smtp_alert_checker':
          g.smtpAlertChecker = this.bool(k, B);
          break;
        case 'checker_log_all_failures':
          g.checkerLogAllFailures = this.bool(k, B);
          break;
        case 'no_email_faults':
          g.noEmailFaults = true;
          break;
        case 'default_interface':
          g.defaultInterface = k.args[0]!.text;
          break;
        case 'script_user':
          g.scriptUser = { user: k.args[0]!.text, ...(k.args[1] ? { group: k.args[1].text } : {}) };
          break;
        case 'enable_script_security':
          g.enableScriptSecurity = true;
          break;
        case 'startup_script':
          g.startupScript = { ...this.script(k), ...(g.startupScript?.timeout !== undefined ? { timeout: g.startupScript.timeout } : {}) };
          break;
        case 'shutdown_script':
          g.shutdownScript = { ...this.script(k), ...(g.shutdownScript?.timeout !== undefined ? { timeout: g.shutdownScript.timeout } : {}) };
          break;
        case 'startup_script_timeout':
        case 'shutdown_script_timeout': {
          const t = this.int(k, 0, 1, 1000, B);
          const key = w === 'startup_script_timeout' ? 'startupScript' : 'shutdownScript';
          if (t !== undefined) g[key] = { ...(g[key] ?? { cmd: '', argv: [] }), timeout: t };
          break;
        }
        case 'max_auto_priority':
          g.maxAutoPriority = k.args[0] ? this.int(k, 0, -1, 99, B) : 99;
          break;
        case 'dynamic_interfaces':
          g.dynamicInterfaces = true;
          break;
        case 'notify_fifo':
        case 'vrrp_notify_fifo':
        case 'lvs_notify_fifo': {
          const key = w === 'notify_fifo' ? 'notifyFifo' : w === 'vrrp_notify_fifo' ? 'vrrpNotifyFifo' : 'lvsNotifyFifo';
          g[key] = { ...g[key], path: k.args[0]!.text };
          break;
        }
        case 'notify_fifo_script':
        case 'vrrp_notify_fifo_script':
        case 'lvs_notify_fifo_script': {
          const key = w === 'notify_fifo_script' ? 'notifyFifo' : w === 'vrrp_notify_fifo_script' ? 'vrrpNotifyFifo' : 'lvsNotifyFifo';
          g[key] = { path: g[key]?.path ?? '', script: this.script(k) };
          break;
        }
        case 'vrrp_mcast_group4': {
          const ip = this.ip(k.args[0], w, B);
          if (ip && ip.family !== 4) this.diags.error('bad-value', `${w} needs an IPv4 address`, k.args[0]!.loc, { block: B });
          else if (ip) v.mcastGroup4 = ip.address;
          break;
        }
        case 'vrrp_mcast_group6': {
          const ip = this.ip(k.args[0], w, B);
          if (ip && ip.family !== 6) this.diags.error('bad-value', `${w} needs an IPv6 address`, k.args[0]!.loc, { block: B });
          else if (ip) v.mcastGroup6 = ip.address;
          break;
        }
        case 'vrrp_garp_interval':
          v.garpInterval = this.secs(k, 0, 0, 1, B) ?? 0;
          break;
        case 'vrrp_gna_interval':
          v.gnaInterval = this.secs(k, 0, 0, 1, B) ?? 0;
          break;
        case 'vrrp_min_garp':
          v.minGarp = this.bool(k, B);
          if (v.minGarp) {
            v.garpMasterRepeat = 1;
            v.garpMasterDelay = 0;
          }
          break;
        case 'vrrp_down_timer_adverts':
          v.downTimerAdverts = this.int(k, 0, 1, 100, B) ?? v.downTimerAdverts;
          break;
        case 'vrrp_version':
          v.version = (this.int(k, 0, 2, 3, B) as 2 | 3 | undefined) ?? v.version;
          break;
        case 'vrrp_check_unicast_src':
          v.checkUnicastSrc = true;
          break;
        case 'vrrp_skip_check_adv_addr':
          v.skipCheckAdvAddr = this.bool(k, B);
          break;
        case 'vrrp_strict':
          v.strict = true;
          break;
        case 'vrrp_lower_prio_no_advert':
          v.lowerPrioNoAdvert = this.bool(k, B);
          break;
        case 'vrrp_higher_prio_send_advert':
          v.higherPrioSendAdvert = this.bool(k, B);
          break;
        case 'v3_checksum_as_v2':
          v.v3ChecksumAsV2 = this.bool(k, B);
          break;
        case 'vrrp_startup_delay':
          v.startupDelay = this.secs(k, 0, 0, 3600, B);
          break;
        case 'log_unknown_vrids':
          v.logUnknownVrids = this.bool(k, B);
          break;
        case 'lvs_flush':
          g.lvs.flush = true;
          break;
        case 'lvs_flush_on_stop':
        case 'lvs_flush_onstop': {
          const a = k.args[0]?.text;
          if (a !== undefined && a.toUpperCase() !== 'VS') this.diags.error('bad-value', `${w} takes nothing or VS, got "${a}"`, k.args[0]!.loc, { block: B });
          g.lvs.flushOnStop = a ? 'vs' : 'all';
          break;
        }
        case 'lvs_timeouts':
          g.lvs.timeouts = this.lvsTimeouts(k);
          break;
        case 'lvs_sync_daemon':
          g.lvs.syncDaemon = this.lvsSyncDaemon(k);
          break;
      }
    }
  }

  private lvsTimeouts(k: Stmt): { tcp?: number; tcpfin?: number; udp?: number } {
    const out: { tcp?: number; tcpfin?: number; udp?: number } = {};
    for (let i = 0; i < k.args.length; i += 2) {
      const key = k.args[i]!.text;
      if (key !== 'tcp' && key !== 'tcpfin' && key !== 'udp') {
        this.diags.error('bad-value', `lvs_timeouts takes tcp, tcpfin and udp, got "${key}"`, k.args[i]!.loc);
        continue;
      }
      const n = this.int(k, i + 1, 1, 2 ** 31 - 1);
      if (n === undefined && !k.args[i + 1]) this.diags.error('missing-argument', `lvs_timeouts ${key} needs a number of seconds`, k.args[i]!.loc);
      if (n !== undefined) out[key] = n;
    }
    return out;
  }

  private lvsSyncDaemon(k: Stmt): NonNullable<GlobalDefs['lvs']['syncDaemon']> {
    const d: NonNullable<GlobalDefs['lvs']['syncDaemon']> = { interface: k.args[0]!.text, src: { '': k.kw } };
    let i = 1;
    const opts = new Set(['id', 'maxlen', 'port', 'ttl', 'group']);
    if (k.args[i] && !opts.has(k.args[i]!.text)) {
      if (k.args[i]!.text === 'inst') i++;
      if (k.args[i]) d.instance = k.args[i++]!.text;
    }
    for (; i < k.args.length; i += 2) {
      const key = k.args[i]!.text;
      const val = k.args[i + 1];
      if (!val) {
        this.diags.error('missing-argument', `lvs_sync_daemon ${key} needs a value`, k.args[i]!.loc);
        break;
      }
      switch (key) {
        case 'id':
          d.syncId = this.int(k, i + 1, 0, 255);
          break;
        case 'maxlen':
          d.maxLen = this.int(k, i + 1, 1, 65507);
          break;
        case 'port':
          d.port = this.int(k, i + 1, 1, 65535);
          break;
        case 'ttl':
          d.ttl = this.int(k, i + 1, 1, 255);
          break;
        case 'group': {
          const ip = this.ip(val, 'lvs_sync_daemon group');
          if (ip) d.group = ip.address;
          break;
        }
        default:
          this.diags.error('bad-value', `lvs_sync_daemon: unknown option "${key}"`, k.args[i]!.loc, { hint: 'options: inst, id, maxlen, port, ttl, group' });
      }
    }
    return d;
  }

  // ---- VRRP ----

  private vrrpScript(s: Stmt): VrrpScript {
    const name = s.args[0]!.text;
    const B = `vrrp_script ${name}`;
    const vs: VrrpScript = {
      name,
      script: { cmd: '', argv: [] },
      interval: 1,
      weight: 0,
      weightReverse: false,
      rise: 1,
      fall: 1,
      initFail: false,
      src: { '': s.kw },
    };
    let user: string[] | undefined;
    for (const k of s.block ?? []) {
      setSrc(vs, k.kw.text, k.kw);
      switch (k.kw.text) {
        case 'script':
          vs.script = makeScript(k.args[0]!.text);
          break;
        case 'interval':
          vs.interval = this.secs(k, 0, 0.000001, DAY, B) ?? vs.interval;
          break;
        case 'timeout':
          vs.timeout = this.secs(k, 0, 0.000001, DAY, B);
          break;
        case 'weight':
          vs.weight = this.int(k, 0, -253, 253, B) ?? 0;
          vs.weightReverse = this.reverse(k, 1, B);
          break;
        case 'rise':
          vs.rise = this.int(k, 0, 1, 2 ** 31 - 1, B) ?? 1;
          break;
        case 'fall':
          vs.fall = this.int(k, 0, 1, 2 ** 31 - 1, B) ?? 1;
          break;
        case 'user':
          user = k.args.map((t) => t.text);
          break;
        case 'init_fail':
          vs.initFail = true;
          break;
      }
    }
    if (!vs.script.cmd) this.diags.error('missing-script', `vrrp_script ${name} has no script`, s.kw.loc, { hint: 'add: script "/path/to/check arg…"' });
    if (user) vs.script = makeScript(vs.script.cmd, user[0], user[1]);
    return vs;
  }

  /** One garp_* setting into `target` (global VRRP defaults or an instance); false if `kw` is not one. */
  private garp(k: Stmt, kw: string, target: Pick<VrrpInstance, (typeof GARP_SETTINGS)[number]['field']>, block: BlockName): boolean {
    const g = GARP_SETTINGS.find((x) => x.kw === kw);
    if (!g) return false;
    const n = this.int(k, 0, g.min, g.max, block);
    if (n !== undefined) target[g.field] = n;
    return true;
  }

  private reverse(k: Stmt, idx: number, block: BlockName): boolean {
    const t = k.args[idx];
    if (!t) return false;
    if (t.text === 'reverse') return true;
    this.diags.error('bad-value', `${k.kw.text}: expected "reverse" after the weight, got "${t.text}"`, t.loc, { block });
    return false;
  }

  private trackFile(s: Stmt): TrackFile {
    const name = s.args[0]!.text;
    const B = `track_file ${name}`;
    const tf: TrackFile = { name, file: '', weight: 1, weightReverse: false, src: { '': s.kw } };
    for (const k of s.block ?? []) {
      setSrc(tf, k.kw.text, k.kw);
      switch (k.kw.text) {
        case 'file':
          tf.file = k.args[0]!.text;
          break;
        case 'weight':
          tf.weight = this.int(k, 0, -2147483647, 2147483647, B) ?? 1;
          tf.weightReverse = this.reverse(k, 1, B);
          break;
        case 'init_file': {
          const v = k.args[0] && k.args[0].text !== 'overwrite' ? this.int(k, 0, -(2 ** 31), 2 ** 31 - 1, B) ?? 0 : 0;
          tf.initFile = { value: v, overwrite: k.args.some((a) => a.text === 'overwrite') };
          break;
        }
      }
    }
    if (!tf.file) this.diags.error('missing-file', `track_file ${name} has no file`, s.kw.loc, { hint: 'add: file /path/to/file' });
    return tf;
  }

  /** track_interface / track_script / track_file lines: NAME [weight N [reverse]]. */
  private trackRefs(k: Stmt, block: BlockName, wmin: number, wmax: number): TrackRef[] {
    const out: TrackRef[] = [];
    for (const l of k.block ?? []) {
      const ref: TrackRef = { name: l.kw.text, src: { '': l.kw } };
      const a = l.args;
      let i = 0;
      if (a[i]?.text === 'weight') {
        const w = a[i + 1];
        if (!w) this.diags.error('missing-argument', `${k.kw.text} ${ref.name}: weight needs a number`, a[i]!.loc, { block });
        else {
          const n = this.val(parseIntRange(w.text, wmin, wmax, `${k.kw.text} weight`), w, w.loc, block);
          if (n !== undefined) ref.weight = n;
        }
        i += 2;
        if (a[i]?.text === 'reverse') {
          ref.weightReverse = true;
          i++;
        }
      }
      if (a[i]) {
        // keepalived rejects the whole line ("unknown track script option NAME - ignoring").
        if (this.ka) continue;
        // Compact form: several names on one line.
        if (a.slice(i).every((t) => !/^(weight|reverse)$/.test(t.text)) && i === 0) {
          out.push(ref);
          for (const t of a) out.push({ name: t.text, src: { '': t.loc } });
          continue;
        }
        this.diags.error('bad-value', `${k.kw.text}: unexpected "${a[i]!.text}" after ${ref.name}`, a[i]!.loc, {
          block,
          hint: `write: ${ref.name} [weight N [reverse]]`,
        });
      }
      out.push(ref);
    }
    return out;
  }

  private notify(n: VrrpNotify, k: Stmt, owner: Located): boolean {
    const key = NOTIFY_BY_KEYWORD.get(k.kw.text);
    if (!key) return false;
    n[key] = this.script(k);
    setSrc(owner, `notify.${key}`, k.kw);
    return true;
  }

  private syncGroup(s: Stmt): SyncGroup {
    const name = s.args[0]!.text;
    const B = `vrrp_sync_group ${name}`;
    const sg: SyncGroup = { ...newSyncGroup(name), src: { '': s.kw } };
    for (const k of s.block ?? []) {
      setSrc(sg, k.kw.text, k.kw);
      if (this.notify(sg.notify, k, sg)) continue;
      switch (k.kw.text) {
        case 'group':
          for (const l of k.block ?? []) for (const t of [l.kw, ...l.args]) sg.members.push(t.text);
          break;
        case 'track_interface':
          sg.trackInterfaces.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'track_script':
          sg.trackScripts.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'track_file':
          sg.trackFiles.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'smtp_alert':
          sg.smtpAlert = this.bool(k, B);
          break;
        case 'global_tracking':
          sg.globalTracking = true;
          break;
        case 'sync_group_tracking_weight':
          sg.trackingWeight = true;
          break;
        case 'notify_priority_changes':
          sg.notifyPriorityChanges = this.bool(k, B);
          break;
      }
    }
    if (sg.members.length === 0) this.diags.error('empty-sync-group', `vrrp_sync_group ${name} has no members`, s.kw.loc, { hint: 'add: group { VI_1 VI_2 }' });
    return sg;
  }

  private vrrpInstance(s: Stmt, g: GlobalDefs): VrrpInstance {
    const name = s.args[0]!.text;
    const B = `vrrp_instance ${name}`;
    const inst = newVrrpInstance(name, '', 0, g);
    inst.src = { '': s.kw };
    let sawPreempt: Loc | undefined;
    for (const k of s.block ?? []) {
      setSrc(inst, fieldFor(k.kw.text), k.kw);
      if (this.notify(inst.notify, k, inst)) continue;
      if (k.kw.text.startsWith('garp_') && this.garp(k, k.kw.text, inst, B)) continue;
      switch (k.kw.text) {
        case 'state': {
          const st = this.oneOf(k, ['MASTER', 'BACKUP'] as const, B, true, true);
          if (st) inst.state = st;
          else if (this.ka) inst.state = 'BACKUP';
          break;
        }
        case 'interface':
          inst.interface = k.args[0]!.text;
          break;
        case 'virtual_router_id':
          inst.vrid = this.int(k, 0, 1, 255, B) ?? 0;
          break;
        case 'priority': {
          const p = parseIntRange(k.args[0]!.text, 1, 255, 'priority');
          if (p.ok) inst.priority = p.value;
          // keepalived does not clamp: "(VI) Priority not valid! must be between 1 & 255. Using default 100".
          else if (this.ka) inst.priority = 100;
          else {
            this.diags.error('bad-value', p.error, k.args[0]!.loc, {
              block: B,
              hint: `use 1–254 (255 only on the address owner); keepalived would log "(${name}) Priority not valid! must be between 1 & 255. Using default 100" and run with priority 100`,
            });
          }
          break;
        }
        case 'advert_int':
          inst.advertInt = this.secs(k, 0, 0.01, 255, B) ?? inst.advertInt;
          break;
        case 'version':
          inst.version = (this.int(k, 0, 2, 3, B) as 2 | 3 | undefined) ?? inst.version;
          break;
        case 'authentication':
          this.auth(k, inst, B);
          break;
        case 'virtual_ipaddress':
          inst.vips.push(...this.vips(k, B));
          break;
        case 'virtual_ipaddress_excluded':
          inst.excludedVips.push(...this.vips(k, B));
          break;
        case 'unicast_src_ip': {
          const ip = this.ip(k.args[0], 'unicast_src_ip', B);
          if (ip) inst.unicastSrcIp = ip.address;
          break;
        }
        case 'unicast_peer':
          this.unicastPeers(k, inst, B);
          break;
        case 'unicast_ttl':
          inst.unicastTtl = this.int(k, 0, 1, 255, B);
          break;
        case 'unicast_fault_no_peer':
          inst.unicastFaultNoPeer = true;
          break;
        case 'check_unicast_src':
          inst.checkUnicastSrc = true;
          break;
        case 'mcast_src_ip': {
          const ip = this.ip(k.args[0], 'mcast_src_ip', B);
          if (ip) inst.mcastSrcIp = ip.address;
          break;
        }
        case 'mcast_dst_ip': {
          const ip = this.ip(k.args[0], 'mcast_dst_ip', B);
          if (ip) inst.mcastDstIp = ip.address;
          break;
        }
        case 'track_interface':
          inst.trackInterfaces.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'track_script':
          inst.trackScripts.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'track_file':
          inst.trackFiles.push(...this.trackRefs(k, B, -254, 254));
          break;
        case 'dont_track_primary':
          inst.dontTrackPrimary = true;
          break;
        case 'nopreempt':
          inst.nopreempt = true;
          break;
        case 'preempt':
          sawPreempt = k.kw.loc;
          inst.nopreempt = false;
          break;
        case 'preempt_delay':
          inst.preemptDelay = this.secs(k, 0, 0, 1000, B) ?? 0;
          break;
        case 'accept':
          inst.accept = true;
          break;
        case 'no_accept':
          inst.accept = false;
          break;
        case 'skip_check_adv_addr':
          inst.skipCheckAdvAddr = this.bool(k, B);
          break;
        case 'strict_mode':
          inst.strictMode = this.bool(k, B);
          break;
        case 'v3_checksum_as_v2':
          inst.v3ChecksumAsV2 = this.bool(k, B);
          break;
        case 'native_ipv6':
          inst.nativeIpv6 = true;
          break;
        case 'promote_secondaries':
          inst.promoteSecondaries = true;
          break;
        case 'down_timer_adverts':
          inst.downTimerAdverts = this.int(k, 0, 1, 100, B) ?? inst.downTimerAdverts;
          break;
        case 'lower_prio_no_advert':
          inst.lowerPrioNoAdvert = this.bool(k, B);
          break;
        case 'higher_prio_send_advert':
          inst.higherPrioSendAdvert = this.bool(k, B);
          break;
        case 'notify_priority_changes':
          inst.notifyPriorityChanges = this.bool(k, B);
          break;
        case 'smtp_alert':
          inst.smtpAlert = this.bool(k, B);
          break;
        case 'debug':
          inst.debug = k.args[0] ? this.int(k, 0, 0, 4, B) : 1;
          break;
        case 'lvs_sync_daemon_interface':
          inst.lvsSyncDaemonInterface = k.args[0]!.text;
          break;
      }
    }
    void sawPreempt;
    if (!inst.interface) this.diags.error('missing-interface', `${B} has no interface`, s.kw.loc, { hint: 'add: interface eth0' });
    if (!inst.vrid && !inst.src?.vrid) this.diags.error('missing-vrid', `${B} has no virtual_router_id`, s.kw.loc, { hint: 'add: virtual_router_id 1…255, the same on every node of this VRRP group' });
    if (inst.vips.length === 0) this.diags.error('missing-vip', `${B} has no virtual_ipaddress`, s.kw.loc, { hint: 'add: virtual_ipaddress { 192.0.2.10/24 }' });
    const first = inst.vips[0];
    if (first) inst.family = first.family;
    return inst;
  }

  private auth(k: Stmt, inst: VrrpInstance, B: BlockName): void {
    let type: 'PASS' | 'AH' | undefined;
    let pass: string | undefined;
    for (const a of k.block ?? []) {
      setSrc(inst, a.kw.text === 'auth_type' ? 'auth.type' : 'auth.pass', a.kw);
      if (a.kw.text === 'auth_type') {
        type = this.oneOf(a, ['PASS', 'AH'] as const, B, true, true);
        if (type === 'AH' && !this.ka) {
          // RFC 2338 §5.3.6.2 IPsec AH: obsolete since RFC 3768, not on haldir's wire.
          this.diags.error('unsupported-keyword', 'not supported: auth_type AH', a.args[0]!.loc, { block: B, hint: 'use auth_type PASS, or no authentication (RFC 3768 §10 recommends none)' });
          type = undefined;
          return;
        }
      }
      else if (a.kw.text === 'auth_pass') pass = a.args[0]!.text;
    }
    // keepalived (vrrp.c) runs an instance whose type or password is missing without authentication.
    if (this.ka && (!type || !pass)) return;
    if (type && pass === undefined) {
      this.diags.error('auth-no-pass', `${B}: authentication type ${type} without auth_pass`, k.kw.loc, {
        hint: 'add: auth_pass <password> (at most 8 characters are sent); keepalived would log "Authentication specified but no password given. Ignoring" and run without authentication',
      });
      return;
    }
    if (pass !== undefined && !type) {
      this.diags.error('auth-no-type', `${B}: auth_pass without auth_type`, k.kw.loc, { hint: 'add: auth_type PASS (keepalived would run without authentication)' });
      return;
    }
    if (type && pass !== undefined) inst.auth = { type, pass };
  }

  /** virtual_ipaddress lines: ADDR[/PREFIX] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] [noprefixroute] … */
  private vips(k: Stmt, B: BlockName): VipAddress[] {
    const out: VipAddress[] = [];
    for (const l of k.block ?? []) {
      const toks = [l.kw, ...l.args];
      let cur: VipAddress | undefined;
      for (let i = 0; i < toks.length; i++) {
        const t = toks[i]!;
        const opt = t.text;
        const needVal = ['brd', 'broadcast', 'dev', 'scope', 'label', 'peer', 'preferred_lft', 'track_group'].includes(opt);
        if (!needVal && !['home', '-nodad', 'nodad', 'noprefixroute', 'autojoin'].includes(opt)) {
          // keepalived: one address per line; another is "Unknown configuration entry '…' for ip address - ignoring".
          if (this.ka && i > 0) continue;
          const c = this.val(parseCidr(opt, 'virtual_ipaddress'), t, t.loc, B);
          if (!c) {
            cur = undefined;
            continue;
          }
          cur = { address: c.address, family: c.family, prefix: c.prefix ?? (c.family === 4 ? 32 : 128), src: { '': t.loc } };
          out.push(cur);
          continue;
        }
        if (!cur) {
          this.diags.error('bad-value', `virtual_ipaddress: "${opt}" must follow an address`, t.loc, { block: B });
          if (needVal) i++;
          continue;
        }
        const v = needVal ? toks[++i] : undefined;
        if (needVal && !v) {
          this.diags.error('missing-argument', `virtual_ipaddress: ${opt} needs a value`, t.loc, { block: B });
          continue;
        }
        switch (opt) {
          case 'brd':
          case 'broadcast': {
            const ip = this.ip(v, 'brd', B);
            if (ip) cur.broadcast = ip.address;
            break;
          }
          case 'dev':
            cur.dev = v!.text;
            break;
          case 'scope':
            if (!/^(site|link|host|nowhere|global|\d+)$/.test(v!.text)) this.diags.error('bad-value', `scope must be site, link, host, nowhere or global, got "${v!.text}"`, v!.loc, { block: B });
            cur.scope = v!.text;
            break;
          case 'label':
            cur.label = v!.text;
            break;
          case 'peer': {
            const ip = this.ip(v, 'peer', B);
            if (ip) cur.peer = ip.address;
            break;
          }
          case 'preferred_lft':
            cur.preferredLft = this.val(parseIntRange(v!.text, 0, 2 ** 32 - 1, 'preferred_lft'), v, t.loc, B);
            break;
          case 'track_group':
            this.diags.error('unsupported-keyword', 'not supported: track_group', t.loc, { block: B });
            break;
          case 'home':
            cur.homeAddress = true;
            break;
          case '-nodad':
          case 'nodad':
            cur.noDad = true;
            break;
          case 'noprefixroute':
            cur.noPrefixRoute = true;
            break;
          case 'autojoin':
            this.diags.error('unsupported-keyword', 'not supported: autojoin', t.loc, { block: B });
            break;
        }
      }
    }
    return out;
  }

  private unicastPeers(k: Stmt, inst: VrrpInstance, B: BlockName): void {
    for (const l of k.block ?? []) {
      const toks = [l.kw, ...l.args];
      let cur: VrrpInstance['unicastPeers'][number] | undefined;
      for (let i = 0; i < toks.length; i++) {
        const t = toks[i]!;
        if (t.text === 'min_ttl' || t.text === 'max_ttl') {
          const v = toks[++i];
          if (!cur || !v) {
            this.diags.error('bad-value', `unicast_peer: ${t.text} must follow an address and take a value`, t.loc, { block: B });
            continue;
          }
          const n = this.val(parseIntRange(v.text, 0, 255, t.text), v, v.loc, B);
          if (n !== undefined) cur[t.text === 'min_ttl' ? 'minTtl' : 'maxTtl'] = n;
          continue;
        }
        // keepalived: one peer per line; another address is "(VI) ADDR is missing a value".
        if (this.ka && i > 0) continue;
        const ip = this.ip(t, 'unicast_peer', B);
        if (!ip) continue;
        cur = { address: ip.address, src: { '': t.loc } };
        inst.unicastPeers.push(cur);
      }
    }
  }

  // ---- LVS ----

  private vsGroup(s: Stmt): VirtualServerGroup {
    const name = s.args[0]!.text;
    const B = `virtual_server_group ${name}`;
    const g: VirtualServerGroup = { name, entries: [], src: { '': s.kw } };
    for (const l of s.block ?? []) {
      const e = this.vsgEntry(l, B);
      if (e) g.entries.push(e);
    }
    return g;
  }

  private vsgEntry(l: Stmt, B: BlockName): VsgEntry | undefined {
    const at = l.kw.loc;
    if (l.kw.text === 'fwmark') {
      const n = l.args[0] ? this.val(parseIntRange(l.args[0].text, 1, 2 ** 32 - 1, 'fwmark'), l.args[0], at, B) : undefined;
      if (!l.args[0]) this.diags.error('missing-argument', 'fwmark needs a mark number', at, { block: B });
      return n === undefined ? undefined : { kind: 'fwmark', fwmark: n, src: { '': at } };
    }
    const m = /^(.+?)(?:-([0-9a-fA-F]+))?$/.exec(l.kw.text)!;
    const ip = this.val(parseIp(m[1]!, 'virtual_server_group address'), l.kw, at, B);
    if (!ip) return undefined;
    const port = l.args[0] ? this.val(parsePort(l.args[0].text), l.args[0], at, B) : undefined;
    if (!l.args[0]) this.diags.error('missing-argument', `${l.kw.text}: a port is required`, at, { block: B, hint: `write: ${l.kw.text} 80` });
    const e: VsgEntry = { kind: m[2] ? 'range' : 'ip', address: ip.address, family: ip.family, src: { '': at } };
    if (port !== undefined) e.port = port;
    if (m[2]) {
      const end = ip.family === 4 ? Number(m[2]) : parseInt(m[2], 16);
      const startLast = ip.family === 4 ? Number(ip.address.split('.')[3]) : parseInt(ip.address.split(':').pop() || '0', 16);
      if (!Number.isFinite(end) || end < startLast || end > (ip.family === 4 ? 255 : 0xffff)) {
        this.diags.error('bad-value', `address range ${l.kw.text}: the end must be ≥ the start's last ${ip.family === 4 ? 'octet' : 'hextet'}`, at, { block: B });
      } else e.rangeEnd = end;
    }
    return e;
  }

  private forwarding(k: Stmt, B: BlockName): Forwarding | undefined {
    const t = k.args[0];
    if (!t) return undefined;
    let kind = t.text.toUpperCase();
    if (kind === 'MASQ') kind = 'NAT';
    if (kind === 'ROUTE' || kind === 'GATE') kind = 'DR';
    if (kind === 'TUNNEL' || kind === 'IPIP') kind = 'TUN';
    if (kind !== 'NAT' && kind !== 'DR' && kind !== 'TUN') {
      this.diags.error('bad-value', `${k.kw.text} must be NAT, DR or TUN, got "${t.text}"`, t.loc, { block: B, hint: 'DR for direct routing (same L2 network), NAT to remap ports, TUN for IP-in-IP' });
      return undefined;
    }
    // keepalived 2.2 takes exactly NAT, DR or TUN (check_parser.c strcmp).
    if (kind !== t.text) {
      if (this.ka) return undefined;
      this.spelling(k, t, kind, B);
    }
    const f: Forwarding = { kind };
    for (let i = 1; i < k.args.length; i++) {
      const a = k.args[i]!;
      if (kind !== 'TUN') {
        this.diags.error('bad-value', `${k.kw.text} ${kind} takes no options, got "${a.text}"`, a.loc, { block: B });
        break;
      }
      if (a.text === 'type') {
        const ty = k.args[++i];
        if (!ty || !['ipip', 'gue', 'gre'].includes(ty.text)) {
          this.diags.error('bad-value', 'TUN type must be ipip, gue or gre', (ty ?? a).loc, { block: B });
          continue;
        }
        f.tunType = ty.text as Forwarding['tunType'];
        if (ty.text === 'gue') {
          if (k.args[i + 1]?.text !== 'port') this.diags.error('missing-argument', 'TUN type gue needs "port N"', ty.loc, { block: B });
          else {
            i += 2;
            f.tunPort = this.int(k, i, 1, 65535, B);
          }
        }
      } else if (['nocsum', 'csum', 'remcsum'].includes(a.text)) f.tunCsum = a.text as Forwarding['tunCsum'];
      else this.diags.error('bad-value', `unknown TUN option "${a.text}"`, a.loc, { block: B, hint: 'TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]' });
    }
    return f;
  }

  private virtualServer(s: Stmt): VirtualServer | undefined {
    const a0 = s.args[0]!;
    const a1 = s.args[1];
    let vs: VirtualServer;
    const label = lazy(() => `virtual_server ${s.args.map((t) => t.text).join(' ')}`);
    if (a0.text === 'fwmark' || a0.text === 'group') {
      if (!a1) {
        this.diags.error('missing-argument', `virtual_server ${a0.text} needs a ${a0.text === 'fwmark' ? 'mark number' : 'group name'}`, a0.loc);
        return undefined;
      }
      if (a0.text === 'fwmark') {
        const n = this.val(parseIntRange(a1.text, 1, 2 ** 32 - 1, 'fwmark'), a1, a1.loc, label);
        if (n === undefined) return undefined;
        vs = newVirtualServer({ kind: 'fwmark', fwmark: n });
      } else vs = newVirtualServer({ kind: 'group', group: a1.text });
    } else {
      const ip = this.ip(a0, 'virtual_server address', label);
      if (!ip) return undefined;
      if (!a1) {
        this.diags.error('missing-argument', `${label}: a port is required (or use "virtual_server fwmark N")`, a0.loc);
        return undefined;
      }
      const port = this.val(parsePort(a1.text), a1, a1.loc, label);
      if (port === undefined) return undefined;
      vs = newVirtualServer({ kind: 'ip', address: ip.address, family: ip.family, port });
    }
    vs.src = { '': s.kw };
    const inh: Inherit = {};
    const rsStmts: Stmt[] = [];
    for (const k of s.block ?? []) {
      const w = k.kw.text;
      setSrc(vs, fieldFor(w), k.kw);
      // delay_loop is the service's own setting here (below); the other timings are inherited.
      if (w !== 'delay_loop' && this.timing(k, inh, label)) continue;
      switch (w) {
        case 'delay_loop':
          vs.delayLoop = this.secs(k, 0, 0.001, DAY, label) ?? vs.delayLoop;
          break;
        case 'lb_algo':
        case 'lvs_sched': {
          const sched = k.args[0]!.text;
          if (!(IPVS_SCHEDULERS as readonly string[]).includes(sched)) {
            this.diags.error('unknown-scheduler', `unknown scheduler "${sched}"`, k.args[0]!.loc, {
              block: label,
              hint: `one of ${IPVS_SCHEDULERS.join(', ')}`,
            });
          } else vs.scheduler = sched;
          break;
        }
        case 'lb_kind':
        case 'lvs_method':
          vs.forwarding = this.forwarding(k, label) ?? vs.forwarding;
          break;
        case 'protocol': {
          const p = this.oneOf(k, ['TCP', 'UDP', 'SCTP'] as const, label);
          if (p) vs.protocol = p;
          break;
        }
        case 'persistence_timeout':
          vs.persistenceTimeout = k.args[0] ? this.int(k, 0, 1, 2 ** 31 - 1, label) : LVS_DEFAULTS.persistenceTimeout;
          break;
        case 'persistence_granularity':
          vs.persistenceGranularity = k.args[0]!.text;
          break;
        case 'persistence_engine':
          vs.persistenceEngine = k.args[0]!.text;
          break;
        case 'ha_suspend':
          vs.haSuspend = true;
          break;
        case 'virtualhost':
          vs.virtualhost = k.args[0]!.text;
          inh.virtualhost = vs.virtualhost;
          break;
        case 'alpha':
          vs.alpha = true;
          inh.alpha = true;
          break;
        case 'omega':
          vs.omega = true;
          break;
        case 'quorum':
          vs.quorum = this.int(k, 0, 1, 2 ** 31 - 1, label) ?? 1;
          break;
        case 'hysteresis':
          vs.hysteresis = this.int(k, 0, 0, 2 ** 31 - 1, label) ?? 0;
          break;
        case 'quorum_up':
          vs.quorumUp = this.script(k);
          break;
        case 'quorum_down':
          vs.quorumDown = this.script(k);
          break;
        case 'sorry_server': {
          const ip = this.ip(k.args[0], 'sorry_server', label);
          const port = k.args[1] ? this.val(parsePort(k.args[1].text), k.args[1], k.kw.loc, label) : undefined;
          if (ip) vs.sorryServer = { ...(vs.sorryServer ?? { inhibit: false }), address: ip.address, ...(port !== undefined ? { port } : {}) };
          break;
        }
        case 'sorry_server_inhibit':
          vs.sorryServer = { ...(vs.sorryServer ?? { address: '' }), inhibit: true };
          break;
        case 'sorry_server_lvs_method': {
          const f = this.forwarding(k, label);
          if (f) vs.sorryServer = { ...(vs.sorryServer ?? { address: '', inhibit: false }), forwarding: f };
          break;
        }
        case 'inhibit_on_failure':
          vs.inhibitOnFailure = this.bool(k, label);
          inh.inhibitOnFailure = vs.inhibitOnFailure;
          break;
        case 'hashed':
          vs.schedFlags.hashed = true;
          break;
        case 'flag-1':
          vs.schedFlags.flag1 = true;
          break;
        case 'flag-2':
          vs.schedFlags.flag2 = true;
          break;
        case 'flag-3':
          vs.schedFlags.flag3 = true;
          break;
        case 'sh-port':
          vs.schedFlags.shPort = true;
          break;
        case 'sh-fallback':
          vs.schedFlags.shFallback = true;
          break;
        case 'mh-port':
          vs.schedFlags.mhPort = true;
          break;
        case 'mh-fallback':
          vs.schedFlags.mhFallback = true;
          break;
        case 'ops':
          vs.ops = true;
          break;
        case 'ip_family': {
          const f = k.args[0]!.text.toLowerCase();
          if (f === 'inet') vs.ipFamily = 4;
          else if (f === 'inet6') vs.ipFamily = 6;
          else this.diags.error('bad-value', `ip_family must be inet or inet6, got "${k.args[0]!.text}"`, k.args[0]!.loc, { block: label });
          break;
        }
        case 'smtp_alert':
          vs.smtpAlert = this.bool(k, label);
          break;
        case 'real_server':
          rsStmts.push(k);
          break;
      }
    }
    if (vs.address.kind === 'fwmark' && vs.ipFamily) vs.address.family = vs.ipFamily;
    this.lvsDefaults(vs, s);
    if (vs.sorryServer && !vs.sorryServer.address) {
      this.diags.error('sorry-server-missing', `${label}: sorry_server_inhibit / sorry_server_lvs_method without sorry_server`, vs.src?.['sorryServer'] ?? s.kw.loc, { hint: 'add: sorry_server IP [PORT]' });
      delete vs.sorryServer;
    }
    inh.delayLoop = vs.delayLoop;
    for (const k of rsStmts) {
      const rs = this.realServer(k, vs, inh, label);
      if (rs) vs.realServers.push(rs);
    }
    return vs;
  }

  /**
   * keepalived 2.2 (check_data.c) gives an address service without protocol UDP
   * and one without lb_algo wlc; haldir's defaults are TCP and rr. keepalived
   * mode takes keepalived's; otherwise the difference is reported.
   */
  private lvsDefaults(vs: VirtualServer, s: Stmt): void {
    const a = vs.address;
    const label = `virtual_server ${s.args.map((t) => t.text).join(' ')}`;
    if (a.kind === 'ip' && !vs.src?.['protocol']) {
      if (this.ka) vs.protocol = 'UDP';
      else {
        this.diags.warn(
          'keepalived-default',
          `${label} has no protocol: haldir balances TCP, but keepalived 2.2 logs "Virtual server [${a.address}]:none:${a.port}: no protocol set - defaulting to UDP" and balances UDP`,
          s.kw.loc,
          { block: label, hint: 'write: protocol TCP' },
        );
      }
    }
    if (!vs.src?.['scheduler']) {
      if (this.ka) vs.scheduler = 'wlc';
      else {
        this.diags.warn('keepalived-default', `${label} has no lb_algo: haldir uses rr, but keepalived 2.2 logs "Virtual server …: no scheduler set, setting default 'wlc'" and uses wlc`, s.kw.loc, {
          block: label,
          hint: 'write: lb_algo rr',
        });
      }
    }
  }

  private realServer(s: Stmt, vs: VirtualServer, vsInh: Inherit, vsLabel: BlockName): RealServer | undefined {
    const ip = this.ip(s.args[0], 'real_server address', vsLabel);
    if (!ip) return undefined;
    let port: number | undefined;
    if (s.args[1]) port = this.val(parsePort(s.args[1].text), s.args[1], s.args[1].loc, vsLabel);
    else if (vs.address.kind === 'ip') port = vs.address.port; // keepalived: the virtual server's port
    const label = lazy(() => `${String(vsLabel)} > real_server ${s.args.map((t) => t.text).join(' ')}`);
    const rs = newRealServer(ip.address, port);
    rs.src = { '': s.kw };
    if (s.args[1]) setSrc(rs, 'port', s.args[1].loc);
    const inh: Inherit = { ...vsInh };
    rs.inhibitOnFailure = vsInh.inhibitOnFailure ?? false;
    rs.alpha = vsInh.alpha ?? false;
    if (vsInh.virtualhost) rs.virtualhost = vsInh.virtualhost;
    const checkStmts: Stmt[] = [];
    for (const k of s.block ?? []) {
      const w = k.kw.text;
      setSrc(rs, fieldFor(w), k.kw);
      if (this.timing(k, inh, label)) continue;
      switch (w) {
        case 'weight':
          rs.weight = this.int(k, 0, 0, 65535, label) ?? rs.weight;
          break;
        case 'lvs_method': {
          const f = this.forwarding(k, label);
          if (f) rs.forwarding = f;
          break;
        }
        case 'uthreshold':
          rs.upperThreshold = this.int(k, 0, 0, 2 ** 31 - 1, label);
          break;
        case 'lthreshold':
          rs.lowerThreshold = this.int(k, 0, 0, 2 ** 31 - 1, label);
          break;
        case 'inhibit_on_failure':
          rs.inhibitOnFailure = this.bool(k, label);
          break;
        case 'notify_up':
          rs.notifyUp = this.script(k);
          break;
        case 'notify_down':
          rs.notifyDown = this.script(k);
          break;
        case 'alpha':
          rs.alpha = this.bool(k, label);
          inh.alpha = rs.alpha;
          break;
        case 'smtp_alert':
          rs.smtpAlert = this.bool(k, label);
          break;
        case 'virtualhost':
          rs.virtualhost = k.args[0]!.text;
          inh.virtualhost = rs.virtualhost;
          break;
        default:
          checkStmts.push(k);
      }
    }
    for (const k of checkStmts) {
      const c = this.checker(k, rs, inh, label);
      if (c) rs.checkers.push(c);
    }
    return rs;
  }

  /**
   * retry, delay_before_retry, warmup, connect_timeout, delay_loop: written at
   * virtual_server, real_server or checker level, each inherited downwards.
   */
  private timing(k: Stmt, into: Pick<Inherit, 'retry' | 'delayBeforeRetry' | 'warmup' | 'connectTimeout' | 'delayLoop'>, label: BlockName): boolean {
    switch (k.kw.text) {
      case 'retry':
      case 'nb_get_retry':
        into.retry = this.int(k, 0, 0, 2 ** 31 - 1, label);
        return true;
      case 'delay_before_retry':
        into.delayBeforeRetry = this.secs(k, 0, 0, DAY, label);
        return true;
      case 'warmup':
        into.warmup = this.secs(k, 0, 0, DAY, label);
        return true;
      case 'connect_timeout':
        into.connectTimeout = this.secs(k, 0, 0.001, DAY, label);
        return true;
      case 'delay_loop':
        into.delayLoop = this.secs(k, 0, 0.001, DAY, label) ?? into.delayLoop;
        return true;
    }
    return false;
  }

  private checker(s: Stmt, rs: RealServer, inh: Inherit, rsLabel: BlockName): Checker | undefined {
    const type = s.kw.text as Checker['type'];
    const label = lazy(() => `${String(rsLabel)} > ${type}`);
    const own: CheckerInherit = { delayLoop: inh.delayLoop ?? LVS_DEFAULTS.delayLoop };
    // Collect the checker's own timing keywords first; the rest is type-specific.
    const rest: Stmt[] = [];
    const conn: Partial<SmtpHost> = {};
    for (const k of s.block ?? []) {
      if (this.timing(k, own, label)) continue;
      switch (k.kw.text) {
        case 'alpha':
          own.alpha = this.bool(k, label);
          break;
        case 'log_all_failures':
          own.logAllFailures = this.bool(k, label);
          break;
        default:
          if (!this.connOpt(k, conn, label)) rest.push(k);
      }
    }
    const c = newChecker(type, {
      delayLoop: own.delayLoop,
      connectTimeout: own.connectTimeout ?? inh.connectTimeout,
      retry: own.retry ?? inh.retry,
      delayBeforeRetry: own.delayBeforeRetry ?? inh.delayBeforeRetry,
      warmup: own.warmup ?? inh.warmup,
      alpha: own.alpha ?? inh.alpha,
      logAllFailures: own.logAllFailures,
    });
    c.src = { '': s.kw };
    for (const k of s.block ?? []) setSrc(c, fieldFor(k.kw.text), k.kw);
    Object.assign(c, conn);
    switch (c.type) {
      case 'HTTP_GET':
      case 'SSL_GET':
        if (inh.virtualhost) c.virtualhost = inh.virtualhost;
        for (const k of rest) {
          switch (k.kw.text) {
            case 'url': {
              const u = this.url(k, label);
              // keepalived: "HTTP/SSL_GET checker url has no path - ignoring".
              if (u.path || !this.ka) c.urls.push(u);
              break;
            }
            case 'virtualhost':
              c.virtualhost = k.args[0]!.text;
              break;
            case 'http_protocol': {
              const p = k.args[0]!.text;
              if (p === '1.0' || p === '1.0C' || p === '1.1') c.httpProtocol = p;
              else if (p === '1.0c') c.httpProtocol = '1.0C';
              else this.diags.error('bad-value', `http_protocol must be 1.0, 1.0C or 1.1, got "${p}"`, k.args[0]!.loc, { block: label });
              break;
            }
            case 'enable_sni':
              c.enableSni = this.bool(k, label);
              break;
            case 'sni_name':
              c.sniName = k.args[0]!.text;
              break;
            case 'fast_recovery':
              c.fastRecovery = this.bool(k, label);
              break;
            case 'tls_compliant':
              c.tlsCompliant = this.bool(k, label);
              break;
          }
        }
        // keepalived: "HTTP/SSL_GET checker has no urls specified - ignoring" (the checker is dropped).
        if (c.urls.length === 0 && this.ka) return undefined;
        if (c.urls.length === 0) this.diags.error('http-no-url', `${type} has no url block`, s.kw.loc, { block: rsLabel, hint: 'add: url { path /healthz status_code 200 }' });
        break;
      case 'MISC_CHECK': {
        let user: string[] | undefined;
        for (const k of rest) {
          if (k.kw.text === 'misc_path') c.script = makeScript(k.args[0]!.text);
          else if (k.kw.text === 'misc_timeout') c.timeout = this.secs(k, 0, 0.001, DAY, label);
          else if (k.kw.text === 'misc_dynamic') c.dynamic = this.bool(k, label);
          else if (k.kw.text === 'user') user = k.args.map((t) => t.text);
        }
        if (user) c.script = makeScript(c.script.cmd, user[0], user[1]);
        if (!c.script.cmd) this.diags.error('missing-script', 'MISC_CHECK has no misc_path', s.kw.loc, { block: rsLabel, hint: 'add: misc_path "/path/to/check arg…"' });
        break;
      }
      case 'DNS_CHECK':
        for (const k of rest) {
          if (k.kw.text === 'type') {
            const ty = k.args[0]!.text.toUpperCase();
            if (!['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'].includes(ty)) this.diags.error('bad-value', `DNS_CHECK type must be A, NS, CNAME, SOA, MX, TXT or AAAA, got "${k.args[0]!.text}"`, k.args[0]!.loc, { block: label });
            else c.queryType = ty;
          } else if (k.kw.text === 'name') c.name = k.args[0]!.text;
        }
        break;
      case 'UDP_CHECK':
        for (const k of rest) {
          if (k.kw.text === 'payload') c.payload = this.hex(k, label);
          else if (k.kw.text === 'require_reply') c.requireReply = k.args[0] ? this.hex(k, label) : '';
          else if (k.kw.text === 'min_reply_length') c.minReplyLength = this.int(k, 0, 0, 65535, label);
          else if (k.kw.text === 'max_reply_length') c.maxReplyLength = this.int(k, 0, 0, 65535, label);
        }
        break;
      case 'SMTP_CHECK':
        for (const k of rest) {
          if (k.kw.text === 'helo_name') c.heloName = k.args[0]!.text;
          else if (k.kw.text === 'host') {
            const h: SmtpHost = { src: { '': k.kw } };
            for (const hk of k.block ?? []) this.connOpt(hk, h, `${label} > host`);
            c.hosts.push(h);
          }
        }
        break;
      case 'FILE_CHECK':
        for (const k of rest) {
          if (k.kw.text === 'track_file') c.trackFile = k.args[0]!.text;
          else if (k.kw.text === 'weight') {
            c.weight = this.int(k, 0, -254, 254, label);
            c.weightReverse = this.reverse(k, 1, label);
          }
        }
        if (!c.trackFile) this.diags.error('missing-file', 'FILE_CHECK has no track_file', s.kw.loc, { block: rsLabel });
        break;
    }
    void rs;
    return c;
  }

  /** connect_ip, connect_port, bindto, bind_port, bind_if, connect_timeout (host), fwmark. */
  private connOpt(k: Stmt, o: Partial<SmtpHost>, label: BlockName): boolean {
    switch (k.kw.text) {
      case 'connect_ip': {
        const ip = this.ip(k.args[0], 'connect_ip', label);
        if (ip) o.connectIp = ip.address;
        return true;
      }
      case 'connect_port':
        o.connectPort = this.int(k, 0, 1, 65535, label);
        return true;
      case 'bindto': {
        const ip = this.ip(k.args[0], 'bindto', label);
        if (ip) o.bindTo = ip.address;
        return true;
      }
      case 'bind_port':
        o.bindPort = this.int(k, 0, 1, 65535, label);
        return true;
      case 'bind_if':
        o.bindIf = k.args[0]!.text;
        return true;
      case 'fwmark':
        o.fwmark = this.int(k, 0, 0, 2 ** 32 - 1, label);
        return true;
      case 'connect_timeout':
        // Only reached inside SMTP host blocks; checker level handles its own.
        o.connectTimeout = this.secs(k, 0, 0.001, DAY, label);
        return true;
    }
    return false;
  }

  private hex(k: Stmt, label: BlockName): string | undefined {
    const t = k.args[0]!;
    const h = t.text.replace(/^0x/i, '');
    if (!/^([0-9a-fA-F]{2})+$/.test(h)) {
      this.diags.error('bad-value', `${k.kw.text} must be hexadecimal bytes (e.g. 0a1b2c), got "${t.text}"`, t.loc, { block: label });
      return undefined;
    }
    return h.toLowerCase();
  }

  private url(s: Stmt, label: BlockName): HttpUrl {
    const u: HttpUrl = { path: '', statusCodes: [], regexNoMatch: false, src: { '': s.kw } };
    for (const k of s.block ?? []) {
      setSrc(u, fieldFor(k.kw.text), k.kw);
      switch (k.kw.text) {
        case 'path':
          u.path = k.args[0]!.text;
          break;
        case 'digest': {
          const d = k.args[0]!.text;
          if (!/^[0-9a-fA-F]{32}$/.test(d)) this.diags.error('bad-value', `digest must be 32 hexadecimal characters (an MD5 sum, as genhash prints), got "${d}"`, k.args[0]!.loc, { block: label });
          else u.digest = d.toLowerCase();
          break;
        }
        case 'status_code':
          u.statusCodes.push(...this.statusCodes(k, label));
          break;
        case 'virtualhost':
          u.virtualhost = k.args[0]!.text;
          break;
        case 'regex':
          u.regex = k.args[0]!.text;
          try {
            new RegExp(u.regex);
          } catch (e) {
            this.diags.error('bad-value', `regex does not compile: ${(e as Error).message}`, k.args[0]!.loc, { block: label });
          }
          break;
        case 'regex_no_match':
          u.regexNoMatch = true;
          break;
        case 'regex_options':
          u.regexOptions = k.args.map((t) => t.text);
          break;
        case 'regex_min_offset':
          u.regexMinOffset = this.int(k, 0, 0, 2 ** 31 - 1, label);
          break;
        case 'regex_max_offset':
          u.regexMaxOffset = this.int(k, 0, 0, 2 ** 31 - 1, label);
          break;
        case 'tls_compliant':
          u.tlsCompliant = this.bool(k, label);
          break;
      }
    }
    if (!u.path) this.diags.error('url-no-path', 'url has no path', s.kw.loc, { block: label, hint: 'add: path /healthz' });
    return u;
  }

  /** status_code 200 | 200-299 | several of them. */
  private statusCodes(k: Stmt, label: BlockName): StatusRange[] {
    const out: StatusRange[] = [];
    for (const t of k.args) {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(t.text);
      const from = m ? Number(m[1]) : NaN;
      const to = m?.[2] ? Number(m[2]) : from;
      if (!m || from < 100 || to > 599 || to < from) {
        this.diags.error('bad-value', `status_code: "${t.text}" is not an HTTP status (100–599) or a range like 200-299`, t.loc, { block: label });
        continue;
      }
      out.push({ from, to });
    }
    return out;
  }
}

/** keepalived keyword → model field name, for `src` maps. */
const fieldCache = new Map<string, string>();

function fieldFor(kw: string): string {
  let f = fieldCache.get(kw);
  if (f === undefined) fieldCache.set(kw, (f = fieldName(kw)));
  return f;
}

function fieldName(kw: string): string {
  const map: Record<string, string> = {
    virtual_router_id: 'vrid',
    authentication: 'auth',
    advert_int: 'advertInt',
    virtual_ipaddress: 'vips',
    lb_algo: 'scheduler',
    lvs_sched: 'scheduler',
    lb_kind: 'forwarding',
    lvs_method: 'forwarding',
    delay_loop: 'delayLoop',
    connect_timeout: 'connectTimeout',
    delay_before_retry: 'delayBeforeRetry',
    nb_get_retry: 'retry',
    connect_port: 'connectPort',
    connect_ip: 'connectIp',
    track_script: 'trackScripts',
    track_interface: 'trackInterfaces',
    track_file: 'trackFiles',
    unicast_peer: 'unicastPeers',
    unicast_src_ip: 'unicastSrcIp',
    preempt_delay: 'preemptDelay',
    status_code: 'statusCodes',
    persistence_timeout: 'persistenceTimeout',
    persistence_granularity: 'persistenceGranularity',
    sorry_server: 'sorryServer',
    inhibit_on_failure: 'inhibitOnFailure',
    misc_path: 'script',
  };
  return map[kw] ?? kw.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}


