// The cluster file (haldir.yaml) schema, defined once with zod: it validates
// loaded files and generates the JSON Schema editors use (schema/haldir.schema.json).
// Keys are the snake_case of the model's fields, with a convenience layer on top
// (nodes, master/priorities, ports lists, check templates, `real_servers: nodes`).
import { z } from 'zod';

/** Marker in the message of an unrecognized_keys issue, followed by the keys that are allowed there. */
export const KNOWN_KEYS_MARK = '\u0000known-keys:';

/** A strict object whose unknown-key issue carries the allowed keys, for "did you mean". */
function obj<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? KNOWN_KEYS_MARK + known.join(',') : undefined),
  });
}

const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds from a duration string ("500ms", "2s", "1m"); undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION_RE.exec(s);
  if (!m) return undefined;
  // Round away binary noise such as 0.1 * 3.
  return Math.round(Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']! * 1e6) / 1e6;
}

/** Seconds: a number, or a string with a unit (ms, s, m, h). */
const duration = z
  .union([
    z.number().nonnegative(),
    z.string().regex(DURATION_RE, 'invalid duration; write seconds as a number or a string like "500ms", "2s", "1m"'),
  ])
  .transform((v) => (typeof v === 'number' ? v : parseDuration(v)!))
  .describe('seconds, or a string with a unit: "500ms", "2s", "1m"');

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const port = int(0, 65535);
const name = z.string().min(1);
const nodeList = z.array(name).describe('only on these nodes (default: every node)');

/** A command line (run without a shell), or the same with the user/group to run it as. */
const script = z.union([
  z.string(),
  obj({
    cmd: z.string(),
    argv: z.array(z.string()).optional().describe('only when it differs from splitting cmd'),
    user: z.string().optional(),
    group: z.string().optional(),
  }),
]);
const scriptWithTimeout = obj({
  cmd: z.string(),
  argv: z.array(z.string()).optional(),
  user: z.string().optional(),
  group: z.string().optional(),
  timeout: duration.optional(),
});
const fifo = obj({ path: z.string().min(1), script: script.optional() });

const trackRef = z.union([
  name,
  obj({ name, weight: int(-254, 254).optional(), weight_reverse: z.boolean().optional() }),
]);

const notify = obj({
  master: script.optional(),
  backup: script.optional(),
  fault: script.optional(),
  stop: script.optional(),
  deleted: script.optional(),
  master_rx_lower_pri: script.optional(),
  generic: script.optional(),
});

const family = z.union([z.literal(4), z.literal(6)]);

const vrrpGlobals = obj({
  mcast_group4: z.string().optional(),
  mcast_group6: z.string().optional(),
  garp_master_delay: duration.optional(),
  garp_master_repeat: int(0, 1e6).optional(),
  garp_master_refresh: duration.optional(),
  garp_master_refresh_repeat: int(0, 1e6).optional(),
  garp_lower_prio_delay: duration.optional(),
  garp_lower_prio_repeat: int(0, 1e6).optional(),
  garp_interval: duration.optional(),
  gna_interval: duration.optional(),
  min_garp: z.boolean().optional(),
  down_timer_adverts: int(1, 100).optional(),
  version: z.union([z.literal(2), z.literal(3)]).optional(),
  check_unicast_src: z.boolean().optional(),
  skip_check_adv_addr: z.boolean().optional(),
  strict: z.boolean().optional(),
  lower_prio_no_advert: z.boolean().optional(),
  higher_prio_send_advert: z.boolean().optional(),
  v3_checksum_as_v2: z.boolean().optional(),
  startup_delay: duration.optional(),
  log_unknown_vrids: z.boolean().optional(),
});

const lvsGlobals = obj({
  flush: z.boolean().optional(),
  flush_on_stop: z.enum(['all', 'vs']).optional(),
  timeouts: obj({ tcp: duration.optional(), tcpfin: duration.optional(), udp: duration.optional() }).optional(),
  sync_daemon: obj({
    interface: name,
    instance: z.string().optional(),
    sync_id: int(0, 255).optional(),
    max_len: int(0, 65535).optional(),
    port: port.optional(),
    ttl: int(0, 255).optional(),
    group: z.string().optional(),
  }).optional(),
});

const globalDefs = obj({
  notification_email: z.array(z.string()).optional(),
  notification_email_from: z.string().optional(),
  smtp_server: obj({ host: name, port: port.optional().describe('default 25') }).optional(),
  smtp_helo_name: z.string().optional(),
  smtp_connect_timeout: duration.optional(),
  smtp_alert: z.boolean().optional(),
  smtp_alert_vrrp: z.boolean().optional(),
  smtp_alert_checker: z.boolean().optional(),
  checker_log_all_failures: z.boolean().optional(),
  no_email_faults: z.boolean().optional(),
  default_interface: z.string().optional(),
  script_user: obj({ user: name, group: z.string().optional() }).optional(),
  enable_script_security: z.boolean().optional(),
  startup_script: z.union([z.string(), scriptWithTimeout]).optional(),
  shutdown_script: z.union([z.string(), scriptWithTimeout]).optional(),
  max_auto_priority: z.number().int().optional(),
  dynamic_interfaces: z.boolean().optional(),
  notify_fifo: fifo.optional(),
  vrrp_notify_fifo: fifo.optional(),
  lvs_notify_fifo: fifo.optional(),
  vrrp: vrrpGlobals.optional(),
  lvs: lvsGlobals.optional(),
});

const node = obj({
  name: name.describe('node name, used by --node, master:, priorities: and nodes: selectors'),
  address: z.string().optional().describe('the node\'s own address: real server address for `real_servers: nodes`, unicast peer/source for `unicast: true`'),
  priority: int(1, 255).optional().describe('default VRRP priority; default 100, 99, 98 … in list order'),
  router_id: z.string().nullable().optional().describe('default: the node name; null: unset (the host name)'),
  interface: z.string().optional().describe('default interface of this node\'s VRRP instances'),
  unicast_src_ip: z.string().optional().describe('source address for `unicast: true` (default: address)'),
  global: globalDefs.optional().describe('global settings for this node, merged over the top-level global'),
});

const vrrpScript = obj({
  name,
  nodes: nodeList.optional(),
  script,
  interval: duration.optional().describe('default 1'),
  timeout: duration.optional(),
  weight: int(-254, 254).optional(),
  weight_reverse: z.boolean().optional(),
  rise: int(1, 1e6).optional().describe('default 1'),
  fall: int(1, 1e6).optional().describe('default 1'),
  init_fail: z.boolean().optional(),
});

const trackFile = obj({
  name,
  nodes: nodeList.optional(),
  file: z.string().min(1),
  weight: int(-254, 254).optional().describe('default 1'),
  weight_reverse: z.boolean().optional(),
  init_file: obj({ value: z.number().int(), overwrite: z.boolean().optional() }).optional(),
});

const vipObject = obj({
  address: z.string().min(1).describe('ADDR or ADDR/PREFIX'),
  prefix: int(0, 128).optional(),
  family: family.optional(),
  dev: z.string().optional(),
  label: z.string().optional(),
  scope: z.string().optional(),
  broadcast: z.string().optional(),
  peer: z.string().optional(),
  no_prefix_route: z.boolean().optional(),
  home_address: z.boolean().optional(),
  no_dad: z.boolean().optional(),
  preferred_lft: duration.optional(),
});
/** keepalived's one-line form ("192.168.2.100/24 dev eth0 label eth0:vip") or an object. */
const vip = z.union([z.string().min(1), vipObject]);

const stateName = z.enum(['MASTER', 'BACKUP']);

const vrrpInstance = obj({
  name,
  nodes: nodeList.optional(),
  interface: z.string().optional().describe('default: the node\'s interface'),
  vrid: int(1, 255),
  priority: int(1, 255).optional().describe('same priority on every node (default: per node, 100, 99 … in node order)'),
  priorities: z.record(z.string(), int(1, 255)).optional().describe('per-node priority, e.g. {lb1: 150}'),
  master: name.optional().describe('this node starts as MASTER, the others as BACKUP'),
  state: stateName.optional().describe('initial state on every node (default BACKUP)'),
  states: z.record(z.string(), stateName).optional().describe('per-node initial state'),
  advert_int: duration.optional(),
  version: z.union([z.literal(2), z.literal(3)]).optional(),
  family: family.optional().describe('default: the family of the first VIP'),
  auth: obj({ type: z.enum(['PASS', 'AH']), pass: z.union([z.string(), z.number()]).transform(String) }).optional(),
  vips: z.array(vip).optional(),
  excluded_vips: z.array(vip).optional(),
  unicast: z.boolean().optional().describe('peers: the other nodes\' addresses; source: the node\'s own'),
  unicast_src_ip: z.string().optional(),
  unicast_peers: z
    .array(z.union([z.string().min(1), obj({ address: name, min_ttl: int(0, 255).optional(), max_ttl: int(0, 255).optional() })]))
    .optional(),
  unicast_ttl: int(0, 255).optional(),
  unicast_fault_no_peer: z.boolean().optional(),
  check_unicast_src: z.boolean().optional(),
  mcast_src_ip: z.string().optional(),
  mcast_dst_ip: z.string().optional(),
  track_interfaces: z.array(trackRef).optional(),
  track_scripts: z.array(trackRef).optional(),
  track_files: z.array(trackRef).optional(),
  dont_track_primary: z.boolean().optional(),
  nopreempt: z.boolean().optional(),
  preempt_delay: duration.optional(),
  accept: z.boolean().optional(),
  skip_check_adv_addr: z.boolean().optional(),
  strict_mode: z.boolean().optional(),
  v3_checksum_as_v2: z.boolean().optional(),
  native_ipv6: z.boolean().optional(),
  promote_secondaries: z.boolean().optional(),
  down_timer_adverts: int(1, 100).optional(),
  garp_master_delay: duration.optional(),
  garp_master_repeat: int(0, 1e6).optional(),
  garp_master_refresh: duration.optional(),
  garp_master_refresh_repeat: int(0, 1e6).optional(),
  garp_lower_prio_delay: duration.optional(),
  garp_lower_prio_repeat: int(0, 1e6).optional(),
  lower_prio_no_advert: z.boolean().optional(),
  higher_prio_send_advert: z.boolean().optional(),
  notify: notify.optional(),
  notify_priority_changes: z.boolean().optional(),
  smtp_alert: z.boolean().optional(),
  debug: int(0, 4).optional(),
  lvs_sync_daemon_interface: z.string().optional(),
});

const syncGroup = obj({
  name,
  nodes: nodeList.optional(),
  members: z.array(name),
  track_interfaces: z.array(trackRef).optional(),
  track_scripts: z.array(trackRef).optional(),
  track_files: z.array(trackRef).optional(),
  notify: notify.optional(),
  smtp_alert: z.boolean().optional(),
  global_tracking: z.boolean().optional(),
  tracking_weight: z.boolean().optional(),
  notify_priority_changes: z.boolean().optional(),
});

const vsgEntry = obj({
  kind: z.enum(['ip', 'range', 'fwmark']).optional().describe('default: fwmark if fwmark is set, range if range_end is set, else ip'),
  address: z.string().optional(),
  range_end: z.number().int().nonnegative().optional().describe('last value of the final octet/hextet'),
  family: family.optional(),
  port: port.optional(),
  fwmark: z.number().int().nonnegative().optional(),
});

const virtualServerGroup = obj({ name, nodes: nodeList.optional(), entries: z.array(vsgEntry) });

// ---- checks ----

const checkCommon = {
  connect_ip: z.string().optional(),
  connect_port: port.optional(),
  bind_to: z.string().optional(),
  bind_port: port.optional(),
  bind_if: z.string().optional(),
  connect_timeout: duration.optional(),
  fwmark: z.number().int().nonnegative().optional(),
  retry: int(0, 1e6).optional(),
  delay_before_retry: duration.optional(),
  delay_loop: duration.optional().describe('default: the service\'s delay_loop'),
  warmup: duration.optional().describe('default: delay_loop'),
  alpha: z.boolean().optional(),
  log_all_failures: z.boolean().optional(),
  rise: int(1, 1e6).optional().describe('consecutive successes to go up (default: defaults.rise, 2)'),
  fall: int(1, 1e6).optional().describe('consecutive failures to go down (default: defaults.fall, 3)'),
};

/** "200", 200 or "200-299". */
const statusCode = z.union([int(100, 999), z.string().regex(/^\d{3}(-\d{3})?$/, 'expected a status code or a range like "200-299"')]);

const httpUrl = obj({
  path: z.string().min(1),
  digest: z.string().optional(),
  status: z.array(statusCode).optional().describe('accepted codes or ranges (default 200-299)'),
  virtualhost: z.string().optional(),
  regex: z.string().optional(),
  regex_no_match: z.boolean().optional(),
  regex_options: z.array(z.string()).optional(),
  regex_min_offset: z.number().int().nonnegative().optional(),
  regex_max_offset: z.number().int().nonnegative().optional(),
  tls_compliant: z.boolean().optional(),
});

const httpFields = {
  url: z.array(httpUrl).optional(),
  virtualhost: z.string().optional(),
  // YAML reads an unquoted 1.0 / 1.1 as a number.
  http_protocol: z.union([z.enum(['1.0', '1.0C', '1.1']), z.literal(1), z.literal(1.1)])
    .transform((v) => (v === 1 ? '1.0' : v === 1.1 ? '1.1' : v))
    .optional(),
  enable_sni: z.boolean().optional(),
  sni_name: z.string().optional(),
  fast_recovery: z.boolean().optional(),
  tls_compliant: z.boolean().optional(),
  tls: obj({
    ca: z.string().min(1).optional().describe('PEM file of trusted CAs: the server certificate is verified (and its name, when SNI is sent); without it nothing is verified, as in keepalived'),
    certificate: z.string().min(1).optional().describe('PEM client certificate, for servers that ask for one'),
    key: z.string().min(1).optional().describe("the client certificate's PEM key"),
    password: z.string().optional().describe("the key's passphrase (never logged)"),
  })
    .optional()
    .describe('SSL_GET only: certificate verification and client certificate (keepalived: the top-level SSL block)'),
};

const smtpHost = obj({
  connect_ip: z.string().optional(),
  connect_port: port.optional(),
  bind_to: z.string().optional(),
  bind_port: port.optional(),
  bind_if: z.string().optional(),
  connect_timeout: duration.optional(),
  fwmark: z.number().int().nonnegative().optional(),
});

const check = z.discriminatedUnion('type', [
  obj({ type: z.literal('TCP_CHECK'), ...checkCommon }),
  obj({ type: z.literal('HTTP_GET'), ...checkCommon, ...httpFields }),
  obj({ type: z.literal('SSL_GET'), ...checkCommon, ...httpFields }),
  obj({
    type: z.literal('MISC_CHECK'),
    ...checkCommon,
    misc_path: script,
    misc_timeout: duration.optional().describe('default: delay_loop'),
    misc_dynamic: z.boolean().optional(),
  }),
  obj({
    type: z.literal('DNS_CHECK'),
    ...checkCommon,
    query_type: z.string().optional().describe('default SOA'),
    name: z.string().optional().describe('default "."'),
  }),
  obj({
    type: z.literal('UDP_CHECK'),
    ...checkCommon,
    payload: z.string().optional().describe('hex'),
    require_reply: z.string().optional().describe('hex'),
    min_reply_length: z.number().int().nonnegative().optional(),
    max_reply_length: z.number().int().nonnegative().optional(),
  }),
  obj({ type: z.literal('PING_CHECK'), ...checkCommon }),
  obj({ type: z.literal('SMTP_CHECK'), ...checkCommon, helo_name: z.string().optional(), hosts: z.array(smtpHost).optional() }),
  obj({
    type: z.literal('FILE_CHECK'),
    ...checkCommon,
    track_file: z.string(),
    weight: int(-254, 254).optional(),
    weight_reverse: z.boolean().optional(),
  }),
]);

/** A template name from `checks:`, or a check written in place. */
const checkRef = z.union([name, check]);

const forwardingFields = {
  mode: z.enum(['dr', 'nat', 'tun', 'DR', 'NAT', 'TUN']).transform((v) => v.toUpperCase() as 'DR' | 'NAT' | 'TUN').optional()
    .describe('forwarding method: dr | nat | tun'),
  tun_type: z.enum(['ipip', 'gue', 'gre']).optional(),
  tun_port: port.optional(),
  tun_csum: z.enum(['nocsum', 'csum', 'remcsum']).optional(),
};

const realServer = obj({
  address: z.string().min(1),
  port: port.nullable().optional().describe('default: the service port; null: none'),
  family: family.optional(),
  weight: z.number().int().nonnegative().optional().describe('default 1'),
  ...forwardingFields,
  upper_threshold: z.number().int().nonnegative().optional(),
  lower_threshold: z.number().int().nonnegative().optional(),
  inhibit_on_failure: z.boolean().optional(),
  alpha: z.boolean().optional(),
  notify_up: script.optional(),
  notify_down: script.optional(),
  smtp_alert: z.boolean().optional(),
  virtualhost: z.string().optional(),
  checks: z.array(checkRef).optional().describe('replaces the service\'s checks for this server'),
});

const service = obj({
  nodes: nodeList.optional(),
  vip: z.string().optional().describe('virtual address (with port or ports)'),
  port: port.optional(),
  ports: z.array(port).min(1).optional().describe('one virtual service per port'),
  fwmark: z.number().int().nonnegative().optional().describe('firewall-mark service instead of vip+port'),
  family: family.optional().describe('address family of the service (default: that of vip; none for fwmark)'),
  group: z.string().optional().describe('a virtual_server_groups name instead of vip+port'),
  protocol: z.enum(['tcp', 'udp', 'sctp', 'TCP', 'UDP', 'SCTP'])
    .transform((v) => v.toUpperCase() as 'TCP' | 'UDP' | 'SCTP')
    .optional(),
  scheduler: z.string().optional().describe('IPVS scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos'),
  sched_flags: obj({
    hashed: z.boolean().optional(),
    flag1: z.boolean().optional(),
    flag2: z.boolean().optional(),
    flag3: z.boolean().optional(),
    sh_port: z.boolean().optional(),
    sh_fallback: z.boolean().optional(),
    mh_port: z.boolean().optional(),
    mh_fallback: z.boolean().optional(),
  }).optional(),
  ...forwardingFields,
  delay_loop: duration.optional().describe('seconds between checks (default 60)'),
  persistence_timeout: duration.optional(),
  persistence_granularity: z.string().optional(),
  persistence_engine: z.string().optional(),
  ops: z.boolean().optional(),
  ha_suspend: z.boolean().optional(),
  virtualhost: z.string().optional(),
  alpha: z.boolean().optional(),
  omega: z.boolean().optional(),
  quorum: z.number().int().nonnegative().optional(),
  hysteresis: z.number().int().nonnegative().optional(),
  quorum_up: script.optional(),
  quorum_down: script.optional(),
  sorry_server: obj({
    address: z.string().min(1),
    port: port.optional(),
    ...forwardingFields,
    inhibit: z.boolean().optional(),
  }).optional(),
  inhibit_on_failure: z.boolean().optional(),
  smtp_alert: z.boolean().optional(),
  ip_family: family.optional(),
  real_servers: z.union([z.literal('nodes'), z.array(realServer)]).optional()
    .describe('"nodes": every node, on the service port; or a list of servers'),
  checks: z.array(checkRef).optional().describe('template names or checks, applied to every real server'),
});

export const clusterSchema = obj({
  cluster: z.string().optional().describe('cluster name'),
  defaults: obj({
    rise: int(1, 1e6).optional().describe('default 2'),
    fall: int(1, 1e6).optional().describe('default 3'),
  }).optional().describe('defaults for every check'),
  nodes: z.array(node).min(1).describe('the directors; the first is the preferred master'),
  global: globalDefs.optional(),
  vrrp_scripts: z.array(vrrpScript).optional(),
  track_files: z.array(trackFile).optional(),
  vrrp: z.array(vrrpInstance).optional().describe('VRRP instances, one per VIP group'),
  sync_groups: z.array(syncGroup).optional(),
  virtual_server_groups: z.array(virtualServerGroup).optional(),
  checks: z.record(z.string(), check).optional().describe('named check templates, referenced by services'),
  services: z.array(service).optional().describe('virtual services'),
});

export type ClusterFile = z.output<typeof clusterSchema>;
export type NodeIn = ClusterFile['nodes'][number];
export type GlobalIn = z.output<typeof globalDefs>;
export type VrrpScriptIn = z.output<typeof vrrpScript>;
export type TrackFileIn = z.output<typeof trackFile>;
export type VrrpInstanceIn = z.output<typeof vrrpInstance>;
export type VipIn = z.output<typeof vip>;
export type VipObjectIn = z.output<typeof vipObject>;
export type ScriptIn = z.output<typeof script>;
export type ScriptWithTimeoutIn = z.output<typeof globalDefs>['startup_script'];
export type TrackRefIn = z.output<typeof trackRef>;
export type NotifyIn = z.output<typeof notify>;
export type SyncGroupIn = z.output<typeof syncGroup>;
export type VsgIn = z.output<typeof virtualServerGroup>;
export type CheckIn = z.output<typeof check>;
export type CheckRefIn = z.output<typeof checkRef>;
export type HttpUrlIn = z.output<typeof httpUrl>;
export type ServiceIn = z.output<typeof service>;
export type RealServerIn = z.output<typeof realServer>;

/** JSON Schema of the cluster file, for editors (what a user writes: the input side). */
export function clusterJsonSchema(): object {
  const s = z.toJSONSchema(clusterSchema, { io: 'input', unrepresentable: 'any', reused: 'ref' });
  return { ...s, $id: 'https://haldir.dev/schema/haldir.schema.json', title: 'haldir cluster file' };
}
