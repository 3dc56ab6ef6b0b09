// The "long tail": YAML keys that map one-to-one onto a model field of the same
// name in camelCase with the value unchanged. Loading copies them in, exporting
// writes those that differ from the default; sharing the lists keeps both in step.

/** snake_case → camelCase ("garp_master_delay" → "garpMasterDelay"). */
export function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export const GLOBAL_PLAIN = [
  'notification_email', 'notification_email_from', 'smtp_helo_name', 'smtp_connect_timeout', 'smtp_alert',
  'smtp_alert_vrrp', 'smtp_alert_checker', 'checker_log_all_failures', 'no_email_faults', 'default_interface',
  'enable_script_security', 'max_auto_priority', 'dynamic_interfaces',
] as const;

export const VRRP_GLOBAL_PLAIN = [
  'mcast_group4', 'mcast_group6', 'garp_master_delay', 'garp_master_repeat', 'garp_master_refresh',
  'garp_master_refresh_repeat', 'garp_lower_prio_delay', 'garp_lower_prio_repeat', 'garp_interval', 'gna_interval',
  'min_garp', 'down_timer_adverts', 'version', 'check_unicast_src', 'skip_check_adv_addr', 'strict',
  'lower_prio_no_advert', 'higher_prio_send_advert', 'v3_checksum_as_v2', 'startup_delay', 'log_unknown_vrids',
] as const;

export const SYNC_DAEMON_PLAIN = ['interface', 'instance', 'sync_id', 'max_len', 'port', 'ttl', 'group'] as const;

export const INSTANCE_PLAIN = [
  'advert_int', 'version', 'auth', 'unicast_ttl', 'unicast_fault_no_peer', 'check_unicast_src', 'mcast_src_ip',
  'mcast_dst_ip', 'dont_track_primary', 'nopreempt', 'preempt_delay', 'accept', 'skip_check_adv_addr', 'strict_mode',
  'v3_checksum_as_v2', 'native_ipv6', 'promote_secondaries', 'down_timer_adverts', 'garp_master_delay',
  'garp_master_repeat', 'garp_master_refresh', 'garp_master_refresh_repeat', 'garp_lower_prio_delay',
  'garp_lower_prio_repeat', 'lower_prio_no_advert', 'higher_prio_send_advert', 'notify_priority_changes', 'smtp_alert',
  'debug', 'lvs_sync_daemon_interface',
] as const;

export const VIP_PLAIN = [
  'dev', 'label', 'scope', 'broadcast', 'peer', 'no_prefix_route', 'home_address', 'no_dad', 'preferred_lft',
] as const;

export const NOTIFY_KEYS = ['master', 'backup', 'fault', 'stop', 'deleted', 'master_rx_lower_pri', 'generic'] as const;

export const VRRP_SCRIPT_PLAIN = ['interval', 'timeout', 'weight', 'weight_reverse', 'rise', 'fall', 'init_fail'] as const;

export const TRACK_FILE_PLAIN = ['weight', 'weight_reverse'] as const;

export const SYNC_GROUP_PLAIN = ['smtp_alert', 'global_tracking', 'tracking_weight', 'notify_priority_changes'] as const;

export const VSG_ENTRY_PLAIN = ['address', 'range_end', 'family', 'port', 'fwmark'] as const;

export const SERVICE_PLAIN = [
  'protocol', 'scheduler', 'delay_loop', 'persistence_timeout', 'persistence_granularity', 'persistence_engine', 'ops',
  'ha_suspend', 'virtualhost', 'alpha', 'omega', 'quorum', 'hysteresis', 'inhibit_on_failure', 'smtp_alert', 'ip_family',
] as const;

export const SCHED_FLAGS = ['hashed', 'flag1', 'flag2', 'flag3', 'sh_port', 'sh_fallback', 'mh_port', 'mh_fallback'] as const;

export const REAL_SERVER_PLAIN = [
  'family', 'weight', 'upper_threshold', 'lower_threshold', 'inhibit_on_failure', 'alpha', 'smtp_alert', 'virtualhost',
] as const;

/** Checker settings newChecker takes as inherited values (see CheckerInherit). */
export const CHECK_INHERITED = [
  'connect_timeout', 'retry', 'delay_before_retry', 'warmup', 'alpha', 'log_all_failures', 'rise', 'fall',
] as const;

export const CHECK_OPTIONAL = ['connect_ip', 'connect_port', 'bind_to', 'bind_port', 'bind_if', 'fwmark'] as const;

export const HTTP_PLAIN = ['virtualhost', 'http_protocol', 'enable_sni', 'sni_name', 'fast_recovery', 'tls_compliant', 'tls'] as const;

export const URL_PLAIN = [
  'digest', 'virtualhost', 'regex', 'regex_no_match', 'regex_options', 'regex_min_offset', 'regex_max_offset',
  'tls_compliant',
] as const;

export const UDP_PLAIN = ['payload', 'require_reply', 'min_reply_length', 'max_reply_length'] as const;

export const DNS_PLAIN = ['query_type', 'name'] as const;

export const FILE_PLAIN = ['track_file', 'weight', 'weight_reverse'] as const;

export const SMTP_HOST_PLAIN = ['connect_ip', 'connect_port', 'bind_to', 'bind_port', 'bind_if', 'connect_timeout', 'fwmark'] as const;

/** haldir's defaults for checks written in a cluster file (keepalived.conf input uses 1/1). */
export const YAML_RISE = 2;
export const YAML_FALL = 3;

/** keepalived's vrrp_script and vrrp_track_file defaults (keepalived.conf(5)). */
export const VRRP_SCRIPT_DEFAULTS = { interval: 1, weight: 0, weightReverse: false, rise: 1, fall: 1, initFail: false };
export const TRACK_FILE_DEFAULTS = { weight: 1, weightReverse: false };
export const SMTP_PORT = 25;
