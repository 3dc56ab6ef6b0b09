// The one model: a node's desired state, produced by every config front end
// (keepalived.conf, cluster YAML) and consumed by every back end (VRRP, health
// checks, data planes, exporters). Plain data, JSON-serialisable; durations are
// seconds (fractions allowed). Source positions ride along in `src` so that
// semantic checks can name file:line:col; they are not part of the meaning.

export interface Loc {
  file: string;
  line: number;
  col: number;
}

/** Where an object (key '') and its fields were written. Ignored by comparisons. */
export type SrcMap = Record<string, Loc>;

export interface Located {
  src?: SrcMap;
}

export type Family = 4 | 6;

/** A node's complete desired state. */
export interface NodeModel {
  /** Node name (cluster file) or router_id / hostname label (keepalived.conf). */
  node: string;
  global: GlobalDefs;
  vrrpScripts: VrrpScript[];
  trackFiles: TrackFile[];
  vrrpInstances: VrrpInstance[];
  syncGroups: SyncGroup[];
  virtualServerGroups: VirtualServerGroup[];
  virtualServers: VirtualServer[];
}

export interface Script {
  /** The command line as written (keepalived splits it like a shell would, without running one). */
  cmd: string;
  /** The same, split into argv (quotes removed); haldir executes this without a shell. */
  argv: string[];
  user?: string;
  group?: string;
}

export interface GlobalDefs extends Located {
  routerId?: string;
  notificationEmail: string[];
  notificationEmailFrom?: string;
  smtpServer?: { host: string; port: number };
  smtpHeloName?: string;
  smtpConnectTimeout?: number;
  smtpAlert?: boolean;
  smtpAlertVrrp?: boolean;
  smtpAlertChecker?: boolean;
  checkerLogAllFailures?: boolean;
  noEmailFaults?: boolean;
  defaultInterface?: string;
  scriptUser?: { user: string; group?: string };
  enableScriptSecurity: boolean;
  startupScript?: Script & { timeout?: number };
  shutdownScript?: Script & { timeout?: number };
  maxAutoPriority?: number;
  dynamicInterfaces?: boolean;
  notifyFifo?: { path: string; script?: Script };
  vrrpNotifyFifo?: { path: string; script?: Script };
  lvsNotifyFifo?: { path: string; script?: Script };
  vrrp: VrrpGlobals;
  lvs: LvsGlobals;
}

export interface VrrpGlobals {
  mcastGroup4: string;
  mcastGroup6: string;
  garpMasterDelay: number;
  garpMasterRepeat: number;
  garpMasterRefresh: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelay?: number;
  garpLowerPrioRepeat?: number;
  garpInterval: number;
  gnaInterval: number;
  minGarp: boolean;
  downTimerAdverts: number;
  /** Default VRRP version for instances that do not set one. */
  version: 2 | 3;
  checkUnicastSrc: boolean;
  skipCheckAdvAddr: boolean;
  strict: boolean;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  v3ChecksumAsV2: boolean;
  startupDelay?: number;
  logUnknownVrids: boolean;
}

export interface LvsGlobals {
  flush: boolean;
  flushOnStop?: 'all' | 'vs';
  timeouts?: { tcp?: number; tcpfin?: number; udp?: number };
  syncDaemon?: LvsSyncDaemon;
}

export interface LvsSyncDaemon extends Located {
  interface: string;
  instance?: string;
  syncId?: number;
  maxLen?: number;
  port?: number;
  ttl?: number;
  group?: string;
}

export interface VrrpScript extends Located {
  name: string;
  script: Script;
  interval: number;
  timeout?: number;
  /** Added to the priority on success (weight > 0) or on failure (weight < 0); 0: FAULT on failure. */
  weight: number;
  weightReverse: boolean;
  rise: number;
  fall: number;
  initFail: boolean;
}

export interface TrackFile extends Located {
  name: string;
  file: string;
  weight: number;
  weightReverse: boolean;
  initFile?: { value: number; overwrite: boolean };
}

export interface TrackRef extends Located {
  name: string;
  /** Overrides the tracked object's weight; undefined: use its own. */
  weight?: number;
  weightReverse?: boolean;
}

export interface VipAddress extends Located {
  /** Address without prefix. */
  address: string;
  family: Family;
  /** Prefix length (keepalived default: /32 or /128). */
  prefix: number;
  dev?: string;
  label?: string;
  scope?: string;
  broadcast?: string;
  peer?: string;
  noPrefixRoute?: boolean;
  homeAddress?: boolean;
  noDad?: boolean;
  preferredLft?: number;
}

export type VrrpState = 'MASTER' | 'BACKUP';

export interface VrrpNotify {
  master?: Script;
  backup?: Script;
  fault?: Script;
  stop?: Script;
  deleted?: Script;
  masterRxLowerPri?: Script;
  /** Generic notify script: called with "INSTANCE|GROUP name STATE priority". */
  generic?: Script;
}

export interface VrrpInstance extends Located {
  name: string;
  /** Initial state as configured; the protocol decides from there. */
  state: VrrpState;
  interface: string;
  vrid: number;
  /** Configured base priority (1–255; 255 = address owner). */
  priority: number;
  /** Seconds. v2: whole seconds 1–255; v3: 0.01–40.95 in 10 ms steps. */
  advertInt: number;
  version: 2 | 3;
  family: Family;
  auth?: { type: 'PASS' | 'AH'; pass: string };
  vips: VipAddress[];
  excludedVips: VipAddress[];
  unicastSrcIp?: string;
  unicastPeers: { address: string; minTtl?: number; maxTtl?: number; src?: SrcMap }[];
  unicastTtl?: number;
  unicastFaultNoPeer: boolean;
  checkUnicastSrc: boolean;
  mcastSrcIp?: string;
  mcastDstIp?: string;
  trackInterfaces: TrackRef[];
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  dontTrackPrimary: boolean;
  nopreempt: boolean;
  preemptDelay: number;
  accept: boolean;
  skipCheckAdvAddr: boolean;
  strictMode: boolean;
  v3ChecksumAsV2: boolean;
  nativeIpv6: boolean;
  promoteSecondaries: boolean;
  downTimerAdverts: number;
  garpMasterDelay: number;
  garpMasterRepeat: number;
  garpMasterRefresh: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelay?: number;
  garpLowerPrioRepeat?: number;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  notify: VrrpNotify;
  notifyPriorityChanges: boolean;
  smtpAlert?: boolean;
  debug?: number;
  /** Deprecated keepalived keyword kept for exports; means global lvs_sync_daemon on this interface. */
  lvsSyncDaemonInterface?: string;
}

export interface SyncGroup extends Located {
  name: string;
  members: string[];
  trackInterfaces: TrackRef[];
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  notify: VrrpNotify;
  smtpAlert?: boolean;
  globalTracking: boolean;
  trackingWeight: boolean;
  notifyPriorityChanges: boolean;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** IPVS forwarding method. */
export type LbKind = 'NAT' | 'DR' | 'TUN';

export interface Forwarding {
  kind: LbKind;
  /** TUN only. */
  tunType?: 'ipip' | 'gue' | 'gre';
  tunPort?: number;
  tunCsum?: 'nocsum' | 'csum' | 'remcsum';
}

/** A virtual service address: IP + port, or a firewall mark, or a group reference. */
export type VsAddress =
  | { kind: 'ip'; address: string; family: Family; port: number }
  | { kind: 'fwmark'; fwmark: number; family?: Family }
  | { kind: 'group'; group: string };

export interface VsgEntry extends Located {
  /** 'range': address is the first, `rangeEnd` the last value of the final octet/hextet. */
  kind: 'ip' | 'range' | 'fwmark';
  address?: string;
  rangeEnd?: number;
  family?: Family;
  port?: number;
  fwmark?: number;
}

export interface VirtualServerGroup extends Located {
  name: string;
  entries: VsgEntry[];
}

export interface SchedulerFlags {
  hashed?: boolean;
  flag1?: boolean;
  flag2?: boolean;
  flag3?: boolean;
  shPort?: boolean;
  shFallback?: boolean;
  mhPort?: boolean;
  mhFallback?: boolean;
}

export interface VirtualServer extends Located {
  address: VsAddress;
  protocol: Protocol;
  /** IPVS scheduler name (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos). */
  scheduler: string;
  schedFlags: SchedulerFlags;
  forwarding: Forwarding;
  /** Seconds between checks of each checker (keepalived default 60). */
  delayLoop: number;
  persistenceTimeout?: number;
  persistenceGranularity?: string;
  persistenceEngine?: string;
  ops: boolean;
  haSuspend: boolean;
  virtualhost?: string;
  alpha: boolean;
  omega: boolean;
  quorum: number;
  hysteresis: number;
  quorumUp?: Script;
  quorumDown?: Script;
  sorryServer?: { address: string; port?: number; forwarding?: Forwarding; inhibit: boolean };
  inhibitOnFailure: boolean;
  smtpAlert?: boolean;
  ipFamily?: Family;
  realServers: RealServer[];
}

export interface RealServer extends Located {
  address: string;
  family: Family;
  /** Undefined for fwmark services written without a port. */
  port?: number;
  weight: number;
  forwarding?: Forwarding;
  upperThreshold?: number;
  lowerThreshold?: number;
  inhibitOnFailure: boolean;
  alpha: boolean;
  notifyUp?: Script;
  notifyDown?: Script;
  smtpAlert?: boolean;
  virtualhost?: string;
  /** All must pass for the server to be alive (AND). Inheritance already applied. */
  checkers: Checker[];
}

/** Settings every checker has; inherited virtual_server → real_server → checker. */
export interface CheckerCommon extends Located {
  connectIp?: string;
  connectPort?: number;
  bindTo?: string;
  bindPort?: number;
  bindIf?: string;
  connectTimeout: number;
  fwmark?: number;
  retry: number;
  delayBeforeRetry: number;
  /** Seconds between checks; from virtual_server delay_loop unless set here. */
  delayLoop: number;
  /** Random delay before the first check, 0..warmup seconds. */
  warmup: number;
  alpha: boolean;
  logAllFailures: boolean;
  /** haldir extension: consecutive successes / failures to change state (1 = keepalived). */
  rise: number;
  fall: number;
}

export interface StatusRange {
  from: number;
  to: number;
}

export interface HttpUrl extends Located {
  path: string;
  digest?: string;
  /** Accepted status codes; empty means keepalived's default 200–299. */
  statusCodes: StatusRange[];
  virtualhost?: string;
  regex?: string;
  regexNoMatch: boolean;
  regexOptions?: string[];
  regexMinOffset?: number;
  regexMaxOffset?: number;
  tlsCompliant?: boolean;
}

export interface HttpChecker extends CheckerCommon {
  type: 'HTTP_GET' | 'SSL_GET';
  urls: HttpUrl[];
  virtualhost?: string;
  httpProtocol?: '1.0' | '1.0C' | '1.1';
  enableSni: boolean;
  sniName?: string;
  fastRecovery: boolean;
  tlsCompliant: boolean;
  /** SSL_GET: trust and client identity (keepalived's top-level SSL block, which applies to every SSL_GET). */
  tls?: CheckTls;
}

/**
 * TLS settings of an SSL_GET check. Without `ca` the server certificate is not verified,
 * as in keepalived (it loads a CA but never asks OpenSSL to verify); with `ca` haldir does
 * verify the chain, and the name when one is sent as SNI.
 */
export interface CheckTls {
  /** PEM file of the CAs to trust. */
  ca?: string;
  /** PEM client certificate (chain) and its key, for servers that ask for one. */
  certificate?: string;
  key?: string;
  /** The key's passphrase: a secret, never logged. */
  password?: string;
}

export interface TcpChecker extends CheckerCommon {
  type: 'TCP_CHECK';
}

export interface MiscChecker extends CheckerCommon {
  type: 'MISC_CHECK';
  script: Script;
  /** Seconds; keepalived's default is delay_loop. */
  timeout?: number;
  dynamic: boolean;
}

export interface DnsChecker extends CheckerCommon {
  type: 'DNS_CHECK';
  queryType: string;
  name: string;
}

export interface UdpChecker extends CheckerCommon {
  type: 'UDP_CHECK';
  /** Hex-decoded payload, as a hex string. */
  payload?: string;
  requireReply?: string;
  minReplyLength?: number;
  maxReplyLength?: number;
}

export interface PingChecker extends CheckerCommon {
  type: 'PING_CHECK';
}

export interface SmtpHost extends Located {
  connectIp?: string;
  connectPort?: number;
  bindTo?: string;
  bindPort?: number;
  bindIf?: string;
  connectTimeout?: number;
  fwmark?: number;
}

export interface SmtpChecker extends CheckerCommon {
  type: 'SMTP_CHECK';
  heloName: string;
  hosts: SmtpHost[];
}

export interface FileChecker extends CheckerCommon {
  type: 'FILE_CHECK';
  trackFile: string;
  weight?: number;
  weightReverse: boolean;
}

export type Checker =
  | TcpChecker
  | HttpChecker
  | MiscChecker
  | DnsChecker
  | UdpChecker
  | PingChecker
  | SmtpChecker
  | FileChecker;

export type CheckerType = Checker['type'];
