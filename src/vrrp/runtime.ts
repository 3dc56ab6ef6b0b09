// The VRRP runtime: the imperative shell around the pure core. It owns the
// instances' state machines, timers, tracking (scripts, interfaces, files),
// sync groups, and carries out the core's actions through a VrrpIo (sockets,
// netlink, announcements) that tests can replace. No protocol rule lives here.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import type { NodeModel, SyncGroup, TrackRef, VipAddress, VrrpInstance, VrrpScript } from '../model/types.js';
import { runScript as defaultRunScript, type RunResult } from '../process/run.js';
import type { Logger } from '../daemon/log.js';
import {
  canonicalIp,
  addStats,
  encodeAdvert,
  initFsm,
  instanceCtx,
  nextDeadline,
  onPacket,
  onTimer,
  countActions,
  skewUs,
  step,
  zeroStats,
  type RxMeta,
  type StatsDelta,
  type VrrpAction,
  type VrrpEvent,
  type VrrpFsmState,
  type VrrpInstanceCtx,
  type VrrpStats,
} from './index.js';
import type { Notifier } from './notify.js';
import { effectivePriority, newScriptState, scriptGood, scriptResult, type ScriptState, type Tracked } from './track.js';

export interface LinkInfo {
  ifindex: number;
  up: boolean;
  mac?: string;
  addresses: { address: string; prefix: number; family: 4 | 6 }[];
}

export interface VrrpChannel {
  /** Sends one VRRP payload (the IP header is the kernel's) with the given TTL / hop limit. */
  send(payload: Uint8Array, src: string, dst: string): void;
  /** Handles every packet already queued, now (before a takeover decision). */
  flush?(): void;
  close(): void;
}

/** Everything the runtime does to the outside world. */
export interface VrrpIo {
  /** Monotonic clock, µs. */
  now(): number;
  /** Runs `cb` at monotonic time `atUs`; returns a cancel function. */
  at(atUs: number, cb: () => void): () => void;
  link(name: string): LinkInfo | undefined;
  onLink(cb: (name: string, up: boolean) => void): void;
  /** Receives every VRRP packet on an interface for one family; sends with TTL/hop limit 255 (RFC 5798 §5.1.1.3). */
  channel(iface: string, family: 4 | 6, group: string, onPacket: (raw: Uint8Array, meta: RxMeta) => void): VrrpChannel;
  addAddress(iface: string, vip: VipAddress): Promise<void>;
  delAddress(iface: string, vip: VipAddress): Promise<void>;
  /** Gratuitous ARP / unsolicited NA for these addresses, `count` times. */
  announce(iface: string, vips: VipAddress[], count: number): void;
}

export interface RuntimeDeps {
  io: VrrpIo;
  log: Logger;
  notifier: Notifier;
  runScript?: (s: VrrpScript['script'], args: string[], timeoutMs?: number) => Promise<RunResult>;
  /**
   * An instance changed state (the data plane follows MASTER). On becoming MASTER because
   * the master fell silent, `formerMaster` is the address it advertised from.
   */
  onState?: (instance: string, state: string, info?: { reason?: string; formerMaster?: string }) => void;
}

export interface InstanceStatus {
  name: string;
  state: string;
  interface: string;
  vrid: number;
  basePriority: number;
  effectivePriority: number;
  masterAddress?: string;
  /** Milliseconds since the last advert this instance accepted (none yet: absent). */
  lastAdvertAgeMs?: number;
  /** Resigned by a planned failover: a BACKUP that does not preempt (see fsm.ts `resigned`). */
  resigned?: boolean;
  vips: string[];
  stats: VrrpStats;
}

interface ScriptRun {
  def: VrrpScript;
  state: ScriptState;
  /** No result yet. */
  verdict: boolean | undefined;
  running: boolean;
  cancel?: () => void;
}

interface Inst {
  cfg: VrrpInstance;
  ctx: VrrpInstanceCtx;
  fsm: VrrpFsmState;
  stats: VrrpStats;
  src: string;
  dsts: string[];
  channel: VrrpChannel;
  cancelTimer?: () => void;
  garp: (() => void)[];
  /** A takeover waiting for its confirmation window (see TAKEOVER_CONFIRM). */
  pendingTakeover?: () => void;
  group?: SyncGroup;
  ownFault: boolean;
  started: boolean;
  cancelStartup?: () => void;
  lastLog: Map<string, number>;
  /** When the last accepted advert arrived (µs, io clock). */
  lastAdvertAt?: number;
}

const US = 1_000_000;

/**
 * How long a new MASTER waits, after its first advert, before it adds the VIPs
 * and announces them: min(20 ms, advert_int / 10). At v3 0.1 s the skews of
 * neighbouring priorities differ by 0.4 ms, finer than timers and scheduling,
 * so two backups often fire together (keepalived then has two masters sending
 * gratuitous ARPs, and the client may follow the wrong one). Within this window
 * the lower one hears the higher one's advert and steps back without ever
 * holding the address. The address owner (255) does not wait.
 */
export function takeoverConfirmUs(advertIntSec: number): number {
  return Math.min(20_000, Math.round((advertIntSec * US) / 10));
}

export class VrrpRuntime {
  private readonly insts: Inst[] = [];
  private readonly scripts = new Map<string, ScriptRun>();
  private readonly files = new Map<string, number>();
  private readonly watchers: FSWatcher[] = [];
  private readonly channels = new Map<string, { channel: VrrpChannel; byVrid: Map<number, Inst> }>();
  /** Packets for a VRID no instance here has (RFC 6527 vrrpv3RouterVrIdErrors). */
  unknownVrid = 0;
  private stopped = false;
  /** A planned failover is resigning instances: sync-group members are resigned, not moved. */
  private resigning = false;

  constructor(
    private readonly model: NodeModel,
    private readonly deps: RuntimeDeps,
  ) {}

  private get io(): VrrpIo {
    return this.deps.io;
  }

  start(): void {
    const m = this.model;
    const groupOf = new Map<string, SyncGroup>();
    for (const g of m.syncGroups) for (const n of g.members) groupOf.set(n, g);
    for (const def of m.vrrpScripts) {
      const st = newScriptState(def.rise, def.fall, def.initFail);
      this.scripts.set(def.name, { def, state: st, verdict: def.initFail ? false : undefined, running: false });
    }
    for (const tf of m.trackFiles) this.watchFile(tf.name, tf.file);
    for (const cfg of m.vrrpInstances) this.insts.push(this.makeInstance(cfg, groupOf.get(cfg.name)));
    this.io.onLink((name) => this.onLinkChange(name));
    for (const s of this.scripts.values()) this.scheduleScript(s, 0);
    for (const i of this.insts) this.retrack(i);
  }

  private makeInstance(cfg: VrrpInstance, group: SyncGroup | undefined): Inst {
    const link = this.io.link(cfg.interface);
    // Never advertise from a VIP (one a previous run left on the interface is listed too).
    const vips = new Set(cfg.vips.map((v) => canonicalIp(v.address, v.family) ?? v.address));
    const primary = link?.addresses.find((a) => a.family === cfg.family && (cfg.family === 4 || a.address.startsWith('fe80')) && !vips.has(canonicalIp(a.address, a.family) ?? a.address))?.address;
    const src = cfg.unicastSrcIp ?? cfg.mcastSrcIp ?? primary ?? (cfg.family === 4 ? '0.0.0.0' : '::');
    const group4or6 = cfg.family === 4 ? this.model.global.vrrp.mcastGroup4 : this.model.global.vrrp.mcastGroup6;
    const ctx = instanceCtx(cfg, { localAddress: src, mcastGroup: cfg.mcastDstIp ?? group4or6 });
    const dsts = cfg.unicastPeers.length ? cfg.unicastPeers.map((p) => p.address) : [cfg.mcastDstIp ?? group4or6];
    const key = `${cfg.interface}/${cfg.family}`;
    let ch = this.channels.get(key);
    if (!ch) {
      const byVrid = new Map<number, Inst>();
      const channel = this.io.channel(cfg.interface, cfg.family, cfg.mcastDstIp ?? group4or6, (raw, meta) => this.onPacket(byVrid, raw, meta));
      ch = { channel, byVrid };
      this.channels.set(key, ch);
    }
    const inst: Inst = {
      cfg,
      ctx,
      fsm: initFsm(ctx.fsm),
      stats: zeroStats(),
      src,
      dsts,
      channel: ch.channel,
      garp: [],
      ...(group ? { group } : {}),
      ownFault: false,
      started: false,
      lastLog: new Map(),
    };
    ch.byVrid.set(cfg.vrid, inst);
    if (!primary && !cfg.unicastSrcIp && !cfg.mcastSrcIp) {
      this.deps.log.warn(`${cfg.name}: interface ${cfg.interface} has no IPv${cfg.family} address to send adverts from`, { instance: cfg.name });
    }
    return inst;
  }

  // ---- events in ----

  private onPacket(byVrid: Map<number, Inst>, raw: Uint8Array, meta: RxMeta): void {
    if (this.stopped) return;
    // The VRID is the second octet: even a truncated packet is counted against its instance.
    const inst = raw.length >= 2 ? byVrid.get(raw[1]!) : undefined;
    if (!inst) {
      this.unknownVrid++;
      return;
    }
    const r = onPacket(inst.fsm, inst.ctx, raw, meta, this.io.now());
    if (r.rx.accept) inst.lastAdvertAt = this.io.now();
    this.apply(inst, r.state, r.actions, r.stats);
    if (!r.rx.accept && r.rx.reason && r.rx.reason !== 'notListening') {
      this.rateLog(inst, `drop:${r.rx.reason}`, `${inst.cfg.name}: dropped advert from ${meta.src}: ${r.rx.reason}${r.rx.detail ? ` (${r.rx.detail})` : ''}`);
    }
  }

  private fire(inst: Inst): void {
    if (this.stopped) return;
    // An advert may already be queued that would stop this takeover: read it first.
    if (inst.fsm.state === 'BACKUP') inst.channel.flush?.();
    const r = onTimer(inst.fsm, this.io.now());
    this.apply(inst, r.state, r.actions, r.stats);
  }

  private event(inst: Inst, ev: VrrpEvent): void {
    const r = step(inst.fsm, ev, this.io.now());
    this.apply(inst, r.state, r.actions, countActions(r.actions));
  }

  // ---- actions out ----

  private apply(inst: Inst, next: VrrpFsmState, actions: VrrpAction[], stats: StatsDelta): void {
    const before = inst.fsm.state;
    const prevMaster = inst.fsm.masterAddr;
    inst.fsm = next;
    if (Object.keys(stats).length) inst.stats = addStats(inst.stats, stats);
    for (const a of actions) this.act(inst, a);
    if (before !== next.state) {
      this.deps.log.info(`${inst.cfg.name}: ${before} -> ${next.state}`, {
        instance: inst.cfg.name,
        priority: next.effectivePriority,
        ...(next.state === 'MASTER' ? { reason: next.masterReason } : {}),
        ...(next.masterAddr && next.state === 'BACKUP' ? { master: next.masterAddr } : {}),
      });
      this.followers(inst, before, next.state);
      const formerMaster = before === 'BACKUP' && next.state === 'MASTER' && next.masterReason === 'masterNoResponse' ? prevMaster : undefined;
      this.deps.onState?.(inst.cfg.name, next.state, { ...(next.state === 'MASTER' ? { reason: next.masterReason } : {}), ...(formerMaster ? { formerMaster } : {}) });
    }
    this.rearm(inst);
  }

  private act(inst: Inst, a: VrrpAction): void {
    const cfg = inst.cfg;
    switch (a.type) {
      case 'sendAdvert':
        for (const dst of inst.dsts) inst.channel.send(encodeAdvert(inst.ctx, a, inst.src, dst), inst.src, dst);
        break;
      case 'becomeMaster': {
        if (cfg.priority === 255) {
          void this.takeAddresses(inst);
          break;
        }
        const at = this.io.now() + takeoverConfirmUs(cfg.advertInt);
        inst.pendingTakeover = this.io.at(at, () => {
          delete inst.pendingTakeover;
          if (inst.fsm.state === 'MASTER' && !this.stopped) void this.takeAddresses(inst);
        });
        break;
      }
      case 'leaveMaster':
      case 'becomeBackup':
      case 'becomeFault':
        // Idempotent: at startup this also removes addresses a previous run left behind.
        inst.pendingTakeover?.();
        delete inst.pendingTakeover;
        for (const c of inst.garp.splice(0)) c();
        for (const vip of cfg.vips) void this.io.delAddress(vip.dev ?? cfg.interface, vip).catch(() => undefined);
        break;
      case 'notify':
        this.deps.notifier.notify('INSTANCE', cfg.name, cfg.notify, a.state, inst.fsm.effectivePriority);
        break;
      case 'masterRxLowerPri':
        this.deps.notifier.notify('INSTANCE', cfg.name, cfg.notify, 'MASTER_RX_LOWER_PRI', inst.fsm.effectivePriority);
        // keepalived: garp_lower_prio_repeat defaults to garp_master_repeat. Another router thinks it is
        // master and may have announced the VIP: take the neighbours back at once.
        this.announce(inst, cfg.garpLowerPrioRepeat ?? cfg.garpMasterRepeat);
        break;
      case 'priorityChanged':
        this.deps.log.info(`${cfg.name}: effective priority ${a.priority}`, { instance: cfg.name, base: cfg.priority });
        if (cfg.notifyPriorityChanges) this.deps.notifier.notify('INSTANCE', cfg.name, {}, inst.fsm.state === 'MASTER' ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', a.priority);
        break;
      case 'log':
        this.rateLog(inst, a.message.replace(/\d+/g, '#'), `${cfg.name}: ${a.message}`, a.level);
        break;
    }
  }

  /** Adds the VIPs, then announces them: garp_master_repeat now, again after garp_master_delay, and every garp_master_refresh. */
  private async takeAddresses(inst: Inst): Promise<void> {
    const cfg = inst.cfg;
    const results = await Promise.allSettled(cfg.vips.map((v) => this.io.addAddress(v.dev ?? cfg.interface, v)));
    this.deps.log.info(`${cfg.name}: holding ${cfg.vips.map((v) => v.address).join(', ')}`, { instance: cfg.name });
    results.forEach((r, n) => {
      if (r.status === 'rejected') this.deps.log.error(`${cfg.name}: cannot add ${cfg.vips[n]!.address}: ${(r.reason as Error).message}`, { instance: cfg.name });
    });
    if (inst.fsm.state !== 'MASTER' || this.stopped) return;
    this.announce(inst, cfg.garpMasterRepeat);
    const now = this.io.now();
    if (cfg.garpMasterDelay > 0) inst.garp.push(this.io.at(now + cfg.garpMasterDelay * US, () => this.announce(inst, cfg.garpMasterRepeat)));
    if (cfg.garpMasterRefresh > 0) {
      const refresh = (at: number): void => {
        inst.garp.push(
          this.io.at(at, () => {
            this.announce(inst, cfg.garpMasterRefreshRepeat);
            refresh(at + cfg.garpMasterRefresh * US);
          }),
        );
      };
      refresh(now + cfg.garpMasterRefresh * US);
    }
  }

  private announce(inst: Inst, count: number): void {
    if (inst.fsm.state !== 'MASTER') return;
    const byDev = new Map<string, VipAddress[]>();
    for (const v of inst.cfg.vips) {
      const dev = v.dev ?? inst.cfg.interface;
      byDev.set(dev, [...(byDev.get(dev) ?? []), v]);
    }
    for (const [dev, vips] of byDev) this.io.announce(dev, vips, count);
  }

  private rearm(inst: Inst): void {
    inst.cancelTimer?.();
    delete inst.cancelTimer;
    const d = nextDeadline(inst.fsm);
    if (d && !this.stopped) inst.cancelTimer = this.io.at(d.at, () => this.fire(inst));
  }

  private rateLog(inst: Inst, key: string, msg: string, level: 'info' | 'warn' = 'info'): void {
    const now = this.io.now();
    const last = inst.lastLog.get(key);
    if (last !== undefined && now - last < 10 * US) return;
    inst.lastLog.set(key, now);
    this.deps.log.log(level, msg, { instance: inst.cfg.name });
  }

  // ---- sync groups: members move together ----

  private followers(inst: Inst, before: string, after: string): void {
    const g = inst.group;
    if (!g || this.resigning) return;
    const members = this.insts.filter((o) => o !== inst && o.group === g);
    if (after === 'MASTER') for (const o of members) this.event(o, { type: 'sync', state: 'MASTER' });
    else if (before === 'MASTER' && after === 'BACKUP') for (const o of members) this.event(o, { type: 'sync', state: 'BACKUP' });
    const all = [inst, ...members];
    if (all.every((o) => o.fsm.state === after) && (after === 'MASTER' || after === 'BACKUP' || after === 'FAULT')) {
      this.deps.notifier.notify('GROUP', g.name, g.notify, after, 0);
    }
  }

  // ---- tracking ----

  private trackedOf(inst: Inst): Tracked[] {
    const cfg = inst.cfg;
    const out: Tracked[] = [];
    // keepalived tracks the instance's own interface: down means FAULT, unless dont_track_primary.
    if (!cfg.dontTrackPrimary) out.push({ weight: 0, reverse: false, ok: this.io.link(cfg.interface)?.up ?? false });
    const refs = (own: TrackRef[], grp: TrackRef[] | undefined) => [...own, ...(grp ?? [])];
    for (const r of refs(cfg.trackInterfaces, inst.group?.trackInterfaces)) {
      out.push({ weight: r.weight ?? 0, reverse: r.weightReverse ?? false, ok: this.io.link(r.name)?.up ?? false });
    }
    for (const r of refs(cfg.trackScripts, inst.group?.trackScripts)) {
      const s = this.scripts.get(r.name);
      if (!s) continue; // validation refuses unknown names
      out.push({ weight: r.weight ?? s.def.weight, reverse: r.weightReverse ?? s.def.weightReverse, ok: s.verdict });
    }
    for (const r of refs(cfg.trackFiles, inst.group?.trackFiles)) {
      const tf = this.model.trackFiles.find((f) => f.name === r.name);
      if (!tf) continue;
      out.push({ weight: r.weight ?? tf.weight, reverse: r.weightReverse ?? tf.weightReverse, ok: undefined, fileValue: this.files.get(tf.name) ?? 0 });
    }
    return out;
  }

  /** Every VIP of the instance is on its interface now (left there by a run that died). */
  private holdsVips(inst: Inst): boolean {
    const cfg = inst.cfg;
    if (cfg.vips.length === 0) return false;
    return cfg.vips.every((v) => {
      const want = canonicalIp(v.address, v.family) ?? v.address;
      return this.io.link(v.dev ?? cfg.interface)?.addresses.some((a) => a.family === v.family && (canonicalIp(a.address, a.family) ?? a.address) === want) === true;
    });
  }

  /** Recomputes priority and FAULT from tracking; starts the instance once no tracker is pending. */
  private retrack(inst: Inst): void {
    if (this.stopped) return;
    const e = effectivePriority(inst.cfg.priority, this.trackedOf(inst));
    inst.ownFault = e.fault;
    const groupFault = inst.group ? this.insts.some((o) => o.group === inst.group && o.ownFault) : e.fault;
    if (!inst.started) {
      if (e.waiting) return; // a weight-0 script has not reported yet: stay in INIT
      inst.started = true;
      if (groupFault) this.event(inst, { type: 'fault', on: true });
      if (e.priority !== inst.fsm.effectivePriority) this.event(inst, { type: 'priorityChange', effective: e.priority });
      const delay = this.model.global.vrrp.startupDelay ?? 0;
      const startup = (): void => this.event(inst, { type: 'startup', holdsVips: this.holdsVips(inst) });
      if (delay > 0) inst.cancelStartup = this.io.at(this.io.now() + delay * US, startup);
      else startup();
      return;
    }
    this.event(inst, { type: 'priorityChange', effective: e.priority });
    if (inst.group) for (const o of this.insts.filter((x) => x.group === inst.group)) this.event(o, { type: 'fault', on: groupFault });
    else this.event(inst, { type: 'fault', on: e.fault });
  }

  private onLinkChange(name: string): void {
    for (const i of this.insts) {
      const watched = i.cfg.interface === name || i.cfg.trackInterfaces.some((t) => t.name === name) || i.group?.trackInterfaces.some((t) => t.name === name);
      if (watched) this.retrack(i);
    }
  }

  private scheduleScript(s: ScriptRun, delayMs: number): void {
    if (this.stopped) return;
    s.cancel = this.io.at(this.io.now() + delayMs * 1000, () => void this.runTrackScript(s));
  }

  private async runTrackScript(s: ScriptRun): Promise<void> {
    const intervalMs = s.def.interval * 1000;
    this.scheduleScript(s, intervalMs);
    if (s.running) return; // still running from the last interval: keepalived skips too
    s.running = true;
    const run = this.deps.runScript ?? defaultRunScript;
    // keepalived's default timeout is the interval.
    const r = await run(s.def.script, [], (s.def.timeout ?? s.def.interval) * 1000);
    s.running = false;
    if (this.stopped) return;
    if (r.error) this.deps.log.warn(`vrrp_script ${s.def.name}: ${r.error}`, { script: s.def.name });
    const x = scriptResult(s.state, r.code === 0 && !r.timedOut);
    s.state = x.state;
    if (!x.changed) return;
    s.verdict = scriptGood(s.state);
    this.deps.log.info(`vrrp_script ${s.def.name}: ${s.verdict ? 'succeeded' : r.timedOut ? 'timed out' : 'failed'}`, {
      script: s.def.name,
      ...(r.code !== null && r.code !== 0 ? { exit: r.code } : {}),
    });
    for (const i of this.insts) {
      if (i.cfg.trackScripts.some((t) => t.name === s.def.name) || i.group?.trackScripts.some((t) => t.name === s.def.name)) this.retrack(i);
    }
  }

  private watchFile(name: string, path: string): void {
    const read = async () => {
      let v = 0;
      try {
        const text = (await readFile(path, 'utf8')).trim();
        v = text === '' ? 0 : Number.parseInt(text, 10);
        if (!Number.isFinite(v)) v = 0;
      } catch {
        v = 0; // keepalived treats a missing file as 0
      }
      if (this.files.get(name) === v) return;
      this.files.set(name, v);
      for (const i of this.insts) if (i.cfg.trackFiles.some((t) => t.name === name) || i.group?.trackFiles.some((t) => t.name === name)) this.retrack(i);
    };
    void read();
    try {
      // Watch the directory: editors and `echo > f` replace or truncate the file.
      const dir = path.replace(/\/[^/]*$/, '') || '/';
      this.watchers.push(watch(dir, () => void read()));
    } catch (e) {
      this.deps.log.warn(`track_file ${name}: cannot watch ${path}: ${(e as Error).message}`);
    }
  }

  // ---- lifecycle ----

  /** keepalived stop: masters send priority 0 and drop their VIPs; notify STOP; scripts told. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    for (const i of this.insts) this.event(i, { type: 'shutdown' });
    this.stopped = true;
    for (const i of this.insts) {
      i.cancelTimer?.();
      i.cancelStartup?.();
      i.pendingTakeover?.();
      for (const c of i.garp.splice(0)) c();
    }
    // Removing addresses is async; wait for it before the process goes.
    await Promise.allSettled(this.insts.flatMap((i) => i.cfg.vips.map((v) => this.io.delAddress(v.dev ?? i.cfg.interface, v))));
    for (const s of this.scripts.values()) s.cancel?.();
    for (const w of this.watchers) w.close();
    for (const { channel } of this.channels.values()) channel.close();
  }

  status(): InstanceStatus[] {
    return this.insts.map((i) => ({
      name: i.cfg.name,
      state: i.fsm.state,
      interface: i.cfg.interface,
      vrid: i.cfg.vrid,
      basePriority: i.cfg.priority,
      effectivePriority: i.fsm.effectivePriority,
      // A MASTER is its own master (also before it ever heard another); a BACKUP knows the master from adverts.
      ...(i.fsm.state === 'MASTER' ? { masterAddress: i.src } : i.fsm.masterAddr ? { masterAddress: i.fsm.masterAddr } : {}),
      vips: i.cfg.vips.map((v) => `${v.address}/${v.prefix}`),
      stats: i.stats,
      ...(i.lastAdvertAt !== undefined ? { lastAdvertAgeMs: Math.round((this.io.now() - i.lastAdvertAt) / 1000) } : {}),
      ...(i.fsm.resigned ? { resigned: true } : {}),
    }));
  }

  /**
   * Planned failover: the named instances (default: all), with their sync groups, resign —
   * a MASTER sends priority 0 and becomes a BACKUP that does not preempt (fsm.ts onResign).
   * `resume` ends it. Returns each instance's state before and after.
   */
  resign(names?: string[]): { instance: string; before: string; after: string; resigned: boolean }[] {
    return this.operate(names, 'resign');
  }

  resume(names?: string[]): { instance: string; before: string; after: string; resigned: boolean }[] {
    return this.operate(names, 'resume');
  }

  private operate(names: string[] | undefined, type: 'resign' | 'resume'): { instance: string; before: string; after: string; resigned: boolean }[] {
    if (this.stopped) return [];
    const named = names?.length ? this.insts.filter((i) => names.includes(i.cfg.name)) : this.insts;
    const targets = this.insts.filter((i) => named.includes(i) || (i.group !== undefined && named.some((n) => n.group === i.group)));
    const before = new Map(targets.map((i) => [i, i.fsm.state]));
    this.resigning = type === 'resign';
    try {
      for (const i of targets) this.event(i, { type });
    } finally {
      this.resigning = false;
    }
    return targets.map((i) => ({ instance: i.cfg.name, before: before.get(i)!, after: i.fsm.state, resigned: i.fsm.resigned === true }));
  }

  /** The smallest skew of any instance (µs): the margin event-loop lateness must stay under. */
  minSkewUs(): number {
    return Math.min(...this.insts.map((i) => skewUs(i.fsm)), Number.POSITIVE_INFINITY);
  }
}
