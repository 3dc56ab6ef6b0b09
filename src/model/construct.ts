// Constructors that fill keepalived's defaults. Both front ends build the model
// through these, so a setting left out means the same thing in either syntax.
import { checkerDefaults, defaultGlobals, LVS_DEFAULTS, VRRP_DEFAULTS } from './defaults.js';
import type {
  Checker,
  CheckerType,
  Family,
  GlobalDefs,
  NodeModel,
  RealServer,
  SyncGroup,
  VipAddress,
  VirtualServer,
  VrrpInstance,
  VsAddress,
} from './types.js';

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

export function newNodeModel(node: string, global: GlobalDefs = defaultGlobals()): NodeModel {
  return {
    node,
    global,
    vrrpScripts: [],
    trackFiles: [],
    vrrpInstances: [],
    syncGroups: [],
    virtualServerGroups: [],
    virtualServers: [],
  };
}

/** A VIP from "ADDR[/PREFIX]"; keepalived's default prefix is the full host length. */
export function newVip(spec: string): VipAddress {
  const [address, prefix] = spec.split('/') as [string, string | undefined];
  const family = familyOf(address);
  return { address, family, prefix: prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix) };
}

/** A VRRP instance with keepalived's defaults; `global` supplies the global_defs-level defaults. */
export function newVrrpInstance(
  name: string,
  iface: string,
  vrid: number,
  global: GlobalDefs = defaultGlobals(),
): VrrpInstance {
  const g = global.vrrp;
  const inst: VrrpInstance = {
    name,
    state: 'BACKUP',
    interface: iface,
    vrid,
    priority: VRRP_DEFAULTS.priority,
    advertInt: VRRP_DEFAULTS.advertInt,
    version: g.version,
    family: 4,
    vips: [],
    excludedVips: [],
    unicastPeers: [],
    unicastFaultNoPeer: false,
    checkUnicastSrc: g.checkUnicastSrc,
    trackInterfaces: [],
    trackScripts: [],
    trackFiles: [],
    dontTrackPrimary: false,
    nopreempt: false,
    preemptDelay: 0,
    accept: false,
    skipCheckAdvAddr: g.skipCheckAdvAddr,
    strictMode: g.strict,
    v3ChecksumAsV2: g.v3ChecksumAsV2,
    nativeIpv6: false,
    promoteSecondaries: false,
    downTimerAdverts: g.downTimerAdverts,
    garpMasterDelay: g.garpMasterDelay,
    garpMasterRepeat: g.garpMasterRepeat,
    garpMasterRefresh: g.garpMasterRefresh,
    garpMasterRefreshRepeat: g.garpMasterRefreshRepeat,
    lowerPrioNoAdvert: g.lowerPrioNoAdvert,
    higherPrioSendAdvert: g.higherPrioSendAdvert,
    notify: {},
    notifyPriorityChanges: false,
  };
  if (g.garpLowerPrioDelay !== undefined) inst.garpLowerPrioDelay = g.garpLowerPrioDelay;
  if (g.garpLowerPrioRepeat !== undefined) inst.garpLowerPrioRepeat = g.garpLowerPrioRepeat;
  return inst;
}

export function newSyncGroup(name: string, members: string[] = []): SyncGroup {
  return {
    name,
    members,
    trackInterfaces: [],
    trackScripts: [],
    trackFiles: [],
    notify: {},
    globalTracking: false,
    trackingWeight: false,
    notifyPriorityChanges: false,
  };
}

export function newVirtualServer(address: VsAddress): VirtualServer {
  return {
    address,
    protocol: LVS_DEFAULTS.protocol,
    scheduler: LVS_DEFAULTS.scheduler,
    schedFlags: {},
    forwarding: { kind: LVS_DEFAULTS.forwarding },
    delayLoop: LVS_DEFAULTS.delayLoop,
    ops: false,
    haSuspend: false,
    alpha: false,
    omega: false,
    quorum: 1,
    hysteresis: 0,
    inhibitOnFailure: false,
    realServers: [],
  };
}

export function newRealServer(address: string, port: number | undefined): RealServer {
  const rs: RealServer = {
    address,
    family: familyOf(address),
    weight: LVS_DEFAULTS.weight,
    inhibitOnFailure: false,
    alpha: false,
    checkers: [],
  };
  if (port !== undefined) rs.port = port;
  return rs;
}

/** Settings a checker inherits when it does not set them (keepalived check_data.c order). */
export interface CheckerInherit {
  delayLoop: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  alpha?: boolean;
  logAllFailures?: boolean;
  rise?: number;
  fall?: number;
}

/**
 * A checker of `type` with inherited settings applied: explicit checker value,
 * else the real server's (which already took the virtual server's), else the
 * checker type's default. warmup defaults to delay_loop; DNS_CHECK's
 * delay_before_retry defaults to delay_loop.
 */
export function newChecker(type: CheckerType, inherit: CheckerInherit): Checker {
  const d = checkerDefaults(type);
  const delayLoop = inherit.delayLoop;
  // One object literal (no spreads): tens of thousands are built for large configurations.
  const c = {
    type,
    connectTimeout: inherit.connectTimeout ?? d.connectTimeout,
    retry: inherit.retry ?? d.retry,
    delayBeforeRetry: inherit.delayBeforeRetry ?? d.delayBeforeRetry ?? delayLoop,
    delayLoop,
    warmup: inherit.warmup ?? delayLoop,
    alpha: inherit.alpha ?? false,
    logAllFailures: inherit.logAllFailures ?? false,
    rise: inherit.rise ?? 1,
    fall: inherit.fall ?? 1,
  } as Checker;
  switch (c.type) {
    case 'HTTP_GET':
    case 'SSL_GET':
      Object.assign(c, { urls: [], enableSni: false, fastRecovery: false, tlsCompliant: false });
      break;
    case 'MISC_CHECK':
      Object.assign(c, { script: { cmd: '', argv: [] }, dynamic: false });
      break;
    case 'DNS_CHECK':
      Object.assign(c, { queryType: 'SOA', name: '.' });
      break;
    case 'SMTP_CHECK':
      Object.assign(c, { heloName: 'localhost', hosts: [] });
      break;
    case 'FILE_CHECK':
      Object.assign(c, { trackFile: '', weightReverse: false });
      break;
  }
  return c;
}
