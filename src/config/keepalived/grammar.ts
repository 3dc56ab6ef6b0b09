// The keepalived.conf keywords haldir reads: for each block, its keywords, how
// many arguments each takes and whether it opens a sub-block. Arities make the
// compact one-line forms (`url { path /healthz status_code 200 }`) unambiguous.
// Keywords keepalived has but haldir does not implement live in unsupported.ts.

export interface KwSpec {
  /** Minimum and maximum number of arguments on the keyword's line. */
  min: number;
  max: number;
  /** A sub-block of keywords, or 'lines' for free-form lines (addresses, names). */
  block?: BlockSpec | 'lines';
  /** The block may be left out (`real_server 10.0.0.1 80` alone). */
  blockOptional?: boolean;
  /** Deprecated spelling: accepted with a warning naming the replacement. */
  deprecated?: string;
  /** Accepted, but it has no effect in haldir: the reason is reported as a warning. */
  ignored?: string;
}

export interface BlockSpec {
  name: string;
  keywords: Record<string, KwSpec>;
}

const INF = Number.POSITIVE_INFINITY;
const a = (min: number, max = min): KwSpec => ({ min, max });
const opt = (): KwSpec => ({ min: 0, max: 1 }); // a flag with an optional <BOOL>
const lines = (min = 0, max = 0): KwSpec => ({ min, max, block: 'lines' });
const sub = (block: BlockSpec, min = 0, max = min, blockOptional = false): KwSpec => ({ min, max, block, blockOptional });
const script = (): KwSpec => a(1, 3); // SCRIPT [username [groupname]]
const ignored = (min: number, max: number, why: string): KwSpec => ({ min, max, ignored: why });
const dep = (spec: KwSpec, replacement: string): KwSpec => ({ ...spec, deprecated: replacement });

const PROCESS = 'haldir is a single process; keepalived process tuning does not apply';
const SNMP = 'haldir has no SNMP agent; use its Prometheus /metrics instead';

const GLOBAL: BlockSpec = {
  name: 'global_defs',
  keywords: {
    router_id: a(1),
    notification_email: lines(),
    notification_email_from: a(1),
    smtp_server: a(1, 2),
    smtp_helo_name: a(1),
    smtp_connect_timeout: a(1),
    smtp_alert: opt(),
    smtp_alert_vrrp: opt(),
    smtp_alert_checker: opt(),
    checker_log_all_failures: opt(),
    no_email_faults: a(0),
    default_interface: a(1),
    script_user: a(1, 2),
    enable_script_security: a(0),
    startup_script: script(),
    startup_script_timeout: a(1),
    shutdown_script: script(),
    shutdown_script_timeout: a(1),
    max_auto_priority: a(0, 1),
    dynamic_interfaces: a(0, 1),
    notify_fifo: a(1, 3),
    notify_fifo_script: script(),
    vrrp_notify_fifo: a(1, 3),
    vrrp_notify_fifo_script: script(),
    lvs_notify_fifo: a(1, 3),
    lvs_notify_fifo_script: script(),
    vrrp_mcast_group4: a(1),
    vrrp_mcast_group6: a(1),
    vrrp_garp_master_delay: a(1),
    vrrp_garp_master_repeat: a(1),
    vrrp_garp_master_refresh: a(1),
    vrrp_garp_master_refresh_repeat: a(1),
    vrrp_garp_lower_prio_delay: a(1),
    vrrp_garp_lower_prio_repeat: a(1),
    vrrp_garp_interval: a(1),
    vrrp_gna_interval: a(1),
    vrrp_min_garp: opt(),
    vrrp_down_timer_adverts: a(1),
    vrrp_version: a(1),
    vrrp_check_unicast_src: a(0),
    vrrp_skip_check_adv_addr: opt(),
    vrrp_strict: a(0),
    vrrp_lower_prio_no_advert: opt(),
    vrrp_higher_prio_send_advert: opt(),
    v3_checksum_as_v2: opt(),
    vrrp_startup_delay: a(1),
    log_unknown_vrids: opt(),
    lvs_flush: a(0),
    lvs_flush_on_stop: a(0, 1),
    lvs_flush_onstop: dep(a(0, 1), 'lvs_flush_on_stop'),
    lvs_timeouts: a(2, 6),
    lvs_sync_daemon: a(1, 13),
    // keepalived process internals: accepted, reported, no effect.
    vrrp_priority: ignored(1, 1, PROCESS),
    checker_priority: ignored(1, 1, PROCESS),
    bfd_priority: ignored(1, 1, PROCESS),
    vrrp_no_swap: ignored(0, 0, PROCESS),
    checker_no_swap: ignored(0, 0, PROCESS),
    bfd_no_swap: ignored(0, 0, PROCESS),
    vrrp_rt_priority: ignored(1, 1, PROCESS),
    checker_rt_priority: ignored(1, 1, PROCESS),
    bfd_rt_priority: ignored(1, 1, PROCESS),
    vrrp_cpu_affinity: ignored(1, INF, PROCESS),
    checker_cpu_affinity: ignored(1, INF, PROCESS),
    bfd_cpu_affinity: ignored(1, INF, PROCESS),
    vrrp_rlimit_rttime: ignored(1, 1, PROCESS),
    checker_rlimit_rttime: ignored(1, 1, PROCESS),
    bfd_rlimit_rttime: ignored(1, 1, PROCESS),
    process_names: ignored(0, 0, PROCESS),
    process_name: ignored(1, 1, PROCESS),
    vrrp_process_name: ignored(1, 1, PROCESS),
    checker_process_name: ignored(1, 1, PROCESS),
    bfd_process_name: ignored(1, 1, PROCESS),
    child_wait_time: ignored(1, 1, PROCESS),
    vrrp_netlink_cmd_rcv_bufs: ignored(1, 1, PROCESS),
    vrrp_netlink_cmd_rcv_bufs_force: ignored(0, 1, PROCESS),
    vrrp_netlink_monitor_rcv_bufs: ignored(1, 1, PROCESS),
    vrrp_netlink_monitor_rcv_bufs_force: ignored(0, 1, PROCESS),
    lvs_netlink_cmd_rcv_bufs: ignored(1, 1, PROCESS),
    lvs_netlink_cmd_rcv_bufs_force: ignored(0, 1, PROCESS),
    lvs_netlink_monitor_rcv_bufs: ignored(1, 1, PROCESS),
    lvs_netlink_monitor_rcv_bufs_force: ignored(0, 1, PROCESS),
    process_monitor_rcv_bufs: ignored(1, 1, PROCESS),
    process_monitor_rcv_bufs_force: ignored(0, 1, PROCESS),
    vrrp_rx_bufs_policy: ignored(1, INF, PROCESS),
    vrrp_rx_bufs_multiplier: ignored(1, 1, PROCESS),
    use_symlink_paths: ignored(0, 1, PROCESS),
    tmp_config_directory: ignored(1, 1, PROCESS),
    config_save_dir: ignored(1, 1, PROCESS),
    umask: ignored(1, 1, PROCESS),
    enable_traps: ignored(0, 0, SNMP),
    snmp_socket: ignored(1, 1, SNMP),
    enable_snmp_vrrp: ignored(0, 0, SNMP),
    enable_snmp_keepalived: ignored(0, 0, SNMP),
    enable_snmp_rfc: ignored(0, 0, SNMP),
    enable_snmp_rfcv2: ignored(0, 0, SNMP),
    enable_snmp_rfcv3: ignored(0, 0, SNMP),
    enable_snmp_checker: ignored(0, 0, SNMP),
  },
};

const AUTH: BlockSpec = {
  name: 'authentication',
  keywords: { auth_type: a(1), auth_pass: a(1) },
};

const VRRP_INSTANCE: BlockSpec = {
  name: 'vrrp_instance',
  keywords: {
    state: a(1),
    interface: a(1),
    virtual_router_id: a(1),
    priority: a(1),
    advert_int: a(1),
    version: a(1),
    authentication: sub(AUTH),
    virtual_ipaddress: lines(),
    virtual_ipaddress_excluded: lines(),
    unicast_src_ip: a(1),
    unicast_peer: lines(),
    unicast_ttl: a(1),
    unicast_fault_no_peer: a(0),
    check_unicast_src: a(0),
    mcast_src_ip: a(1),
    mcast_dst_ip: a(1),
    track_interface: lines(),
    track_script: lines(),
    track_file: lines(),
    dont_track_primary: a(0),
    nopreempt: a(0),
    preempt: a(0),
    preempt_delay: a(1),
    accept: a(0),
    no_accept: a(0),
    skip_check_adv_addr: opt(),
    strict_mode: opt(),
    v3_checksum_as_v2: opt(),
    native_ipv6: a(0),
    promote_secondaries: a(0),
    down_timer_adverts: a(1),
    garp_master_delay: a(1),
    garp_master_repeat: a(1),
    garp_master_refresh: a(1),
    garp_master_refresh_repeat: a(1),
    garp_lower_prio_delay: a(1),
    garp_lower_prio_repeat: a(1),
    lower_prio_no_advert: opt(),
    higher_prio_send_advert: opt(),
    notify_master: script(),
    notify_backup: script(),
    notify_fault: script(),
    notify_stop: script(),
    notify_deleted: script(),
    notify_master_rx_lower_pri: script(),
    notify: script(),
    notify_priority_changes: opt(),
    smtp_alert: opt(),
    debug: a(0, 1),
    lvs_sync_daemon_interface: dep(a(1), 'lvs_sync_daemon in global_defs'),
  },
};

const VRRP_SCRIPT: BlockSpec = {
  name: 'vrrp_script',
  keywords: {
    script: a(1),
    interval: a(1),
    timeout: a(1),
    weight: a(1, 2),
    rise: a(1),
    fall: a(1),
    user: a(1, 2),
    init_fail: a(0),
  },
};

const TRACK_FILE: BlockSpec = {
  name: 'track_file',
  keywords: { file: a(1), weight: a(1, 2), init_file: a(0, 2) },
};

const SYNC_GROUP: BlockSpec = {
  name: 'vrrp_sync_group',
  keywords: {
    group: lines(),
    track_interface: lines(),
    track_script: lines(),
    track_file: lines(),
    notify_master: script(),
    notify_backup: script(),
    notify_fault: script(),
    notify_stop: script(),
    notify: script(),
    smtp_alert: opt(),
    global_tracking: a(0),
    sync_group_tracking_weight: a(0),
    notify_priority_changes: opt(),
  },
};

/** Where and how a checker connects (check_api.c); also an SMTP_CHECK host block's keywords. */
const CONNECTION: Record<string, KwSpec> = {
  connect_ip: a(1),
  connect_port: a(1),
  bindto: a(1),
  bind_port: a(1),
  bind_if: a(1),
  connect_timeout: a(1),
  fwmark: a(1),
};

/** Connection and timing keywords of every checker (check_api.c). */
const CHECK_COMMON: Record<string, KwSpec> = {
  ...CONNECTION,
  retry: a(1),
  delay_before_retry: a(1),
  warmup: a(1),
  delay_loop: a(1),
  alpha: opt(),
  log_all_failures: opt(),
};

const URL: BlockSpec = {
  name: 'url',
  keywords: {
    path: a(1),
    digest: a(1),
    status_code: a(1, INF),
    virtualhost: a(1),
    regex: a(1),
    regex_no_match: a(0),
    regex_options: a(1, INF),
    regex_min_offset: a(1),
    regex_max_offset: a(1),
    tls_compliant: opt(),
  },
};

const httpCheck = (name: string): BlockSpec => ({
  name,
  keywords: {
    ...CHECK_COMMON,
    nb_get_retry: dep(a(1), 'retry'),
    virtualhost: a(1),
    http_protocol: a(1),
    enable_sni: opt(),
    sni_name: a(1),
    fast_recovery: opt(),
    ...(name === 'SSL_GET' ? { tls_compliant: opt() } : {}),
    url: sub(URL),
  },
});

const SMTP_HOST: BlockSpec = { name: 'host', keywords: { ...CONNECTION } };

export const CHECKERS: Record<string, BlockSpec> = {
  TCP_CHECK: { name: 'TCP_CHECK', keywords: { ...CHECK_COMMON } },
  HTTP_GET: httpCheck('HTTP_GET'),
  SSL_GET: httpCheck('SSL_GET'),
  MISC_CHECK: {
    name: 'MISC_CHECK',
    keywords: { ...CHECK_COMMON, misc_path: a(1), misc_timeout: a(1), misc_dynamic: opt(), user: a(1, 2) },
  },
  DNS_CHECK: { name: 'DNS_CHECK', keywords: { ...CHECK_COMMON, type: a(1), name: a(1) } },
  UDP_CHECK: {
    name: 'UDP_CHECK',
    keywords: { ...CHECK_COMMON, payload: a(1), require_reply: a(0, 1), min_reply_length: a(1), max_reply_length: a(1) },
  },
  PING_CHECK: { name: 'PING_CHECK', keywords: { ...CHECK_COMMON } },
  SMTP_CHECK: { name: 'SMTP_CHECK', keywords: { ...CHECK_COMMON, helo_name: a(1), host: sub(SMTP_HOST) } },
  FILE_CHECK: { name: 'FILE_CHECK', keywords: { track_file: a(1), weight: a(1, 2) } },
};

const REAL_SERVER: BlockSpec = {
  name: 'real_server',
  keywords: {
    weight: a(1),
    lvs_method: a(1, 6),
    uthreshold: a(1),
    lthreshold: a(1),
    inhibit_on_failure: opt(),
    notify_up: script(),
    notify_down: script(),
    alpha: opt(),
    retry: a(1),
    delay_before_retry: a(1),
    warmup: a(1),
    connect_timeout: a(1),
    delay_loop: a(1),
    smtp_alert: opt(),
    virtualhost: a(1),
    ...Object.fromEntries(Object.entries(CHECKERS).map(([k, b]) => [k, sub(b)])),
  },
};

const VIRTUAL_SERVER: BlockSpec = {
  name: 'virtual_server',
  keywords: {
    delay_loop: a(1),
    lb_algo: a(1),
    lvs_sched: a(1),
    lb_kind: a(1, 6),
    lvs_method: a(1, 6),
    protocol: a(1),
    persistence_timeout: a(0, 1),
    persistence_granularity: a(1),
    persistence_engine: a(1),
    ha_suspend: a(0),
    virtualhost: a(1),
    alpha: a(0),
    omega: a(0),
    quorum: a(1),
    hysteresis: a(1),
    quorum_up: script(),
    quorum_down: script(),
    sorry_server: a(1, 2),
    sorry_server_inhibit: a(0),
    sorry_server_lvs_method: a(1, 6),
    inhibit_on_failure: opt(),
    retry: a(1),
    delay_before_retry: a(1),
    warmup: a(1),
    connect_timeout: a(1),
    hashed: a(0),
    'flag-1': a(0),
    'flag-2': a(0),
    'flag-3': a(0),
    'sh-port': a(0),
    'sh-fallback': a(0),
    'mh-port': a(0),
    'mh-fallback': a(0),
    ops: a(0),
    ip_family: a(1),
    smtp_alert: opt(),
    real_server: sub(REAL_SERVER, 1, 2, true),
  },
};

/** keepalived's top-level SSL block: the TLS context of every SSL_GET checker. */
const SSL: BlockSpec = {
  name: 'SSL',
  keywords: { password: a(1), ca: a(1), certificate: a(1), key: a(1) },
};

export const ROOT: BlockSpec = {
  name: 'top level',
  keywords: {
    global_defs: sub(GLOBAL),
    SSL: sub(SSL),
    vrrp_script: sub(VRRP_SCRIPT, 1),
    vrrp_track_file: sub(TRACK_FILE, 1),
    track_file: sub(TRACK_FILE, 1),
    vrrp_sync_group: sub(SYNC_GROUP, 1),
    vrrp_instance: sub(VRRP_INSTANCE, 1),
    virtual_server_group: lines(1, 1),
    virtual_server: sub(VIRTUAL_SERVER, 1, 2),
  },
};

export const BLOCKS = { GLOBAL, VRRP_INSTANCE, VRRP_SCRIPT, TRACK_FILE, SYNC_GROUP, VIRTUAL_SERVER, REAL_SERVER, URL, SMTP_HOST, AUTH, SSL };
