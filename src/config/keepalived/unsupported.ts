// Keywords keepalived (2.2.x–2.4.x) accepts, per block, read from its parser's
// keyword tables. A keyword listed here but not in grammar.ts is one haldir
// refuses by name ("not supported: use_vmac") instead of calling it unknown.

/** Space-separated keyword names keepalived accepts in each block. */
const KNOWN_RAW: Record<string, string> = {
  "top level": 'SSL child_wait_time garp_group global_defs instance interface_up_down_delays linkbeat_interfaces linkbeat_use_polling namespace_with_ipsets net_namespace net_namespace_ipvs static_ipaddress static_routes static_rules track_file track_group use_pid_dir virtual_server virtual_server_group vrrp_instance vrrp_script vrrp_sync_group vrrp_track_file vrrp_track_process',
  global_defs: 'bfd_cpu_affinity bfd_no_swap bfd_priority bfd_process_name bfd_rlimit_rtime bfd_rlimit_rttime bfd_rt_priority checker_cpu_affinity checker_log_all_failures checker_no_swap checker_priority checker_process_name checker_rlimit_rtime checker_rlimit_rttime checker_rt_priority config_save_dir data_use_instance dbus_no_interface_name dbus_service_name default_interface disable_local_igmp dynamic_interfaces enable_dbus enable_script_security enable_snmp_checker enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_vrrp enable_traps fifo_write_vrrp_states_on_reload include_check iproute_etc_dir iproute_usr_dir json_dump_file json_version log_unknown_vrids lvs_flush lvs_flush_on_stop lvs_flush_onstop lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force lvs_notify_fifo lvs_notify_fifo_script lvs_process_name lvs_sync_daemon lvs_timeouts max_auto_priority min_auto_priority_delay nftables nftables_counters nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_priority no_checker_emails no_email_faults notification_email notification_email_from notify_fifo notify_fifo_script process_monitor_rcv_bufs process_monitor_rcv_bufs_force process_name process_names random_seed reload_check_config reload_file reload_repeat reload_time_file router_id rs_init_notifies script_user set_supplementary_groups shutdown_script shutdown_script_timeout smtp_alert smtp_alert_checker smtp_alert_vrrp smtp_connect_timeout smtp_helo_name smtp_server snmp_rs_stats_update_interval snmp_socket snmp_vs_stats_update_interval startup_script startup_script_timeout state_dump_file stats_dump_file tmp_config_directory umask use_symlink_paths v3_checksum_as_v2 vmac_addr_prefix vmac_prefix vrrp_check_unicast_src vrrp_cpu_affinity vrrp_delay_after_boot vrrp_down_timer_adverts vrrp_garp_extra_if vrrp_garp_interval vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat vrrp_garp_master_delay vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_master_repeat vrrp_gna_interval vrrp_higher_prio_send_advert vrrp_ipsets vrrp_iptables vrrp_lower_prio_no_advert vrrp_mcast_group4 vrrp_mcast_group6 vrrp_min_garp vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force vrrp_no_swap vrrp_notify_fifo vrrp_notify_fifo_script vrrp_notify_priority_changes vrrp_owner_ignore_adverts vrrp_priority vrrp_process_name vrrp_rlimit_rtime vrrp_rlimit_rttime vrrp_rt_priority vrrp_rx_bufs_multiplier vrrp_rx_bufs_policy vrrp_skip_check_adv_addr vrrp_startup_delay vrrp_strict vrrp_version vrrp_vmac_garp_intvl',
  vrrp_instance: 'accept advert_int auth_hmac authentication check_unicast_src debug dont_track_primary down_timer_adverts garp_extra_if garp_lower_prio_delay garp_lower_prio_repeat garp_master_delay garp_master_refresh garp_master_refresh_repeat garp_master_repeat higher_prio_send_advert interface kernel_rx_buf_size linkbeat_use_polling lower_prio_no_advert lvs_sync_daemon_interface mcast_dst_ip mcast_src_ip native_ipv6 no_accept no_virtual_ipaddress nopreempt notify notify_backup notify_deleted notify_fault notify_master notify_master_rx_lower_pri notify_priority_changes notify_stop old_unicast_checksum owner_ignore_adverts preempt preempt_delay priority promote_secondaries skip_check_adv_addr smtp_alert state strict_mode thread_timer_expired timer_expired_backup track_bfd track_file track_interface track_process track_script track_src_ip unicast_fault_no_peer unicast_peer unicast_src_ip unicast_ttl use_ipvlan use_vmac use_vmac_addr v3_checksum_as_v2 version virtual_ipaddress virtual_ipaddress_excluded virtual_router_id virtual_routes virtual_rules vmac_garp_intvl vmac_xmit_base vrf',
  authentication: 'auth_pass auth_type',
  vrrp_script: 'fall init_fail interval rise script timeout user weight',
  vrrp_sync_group: 'global_tracking group notify notify_backup notify_fault notify_master notify_priority_changes notify_stop smtp_alert sync_group_tracking_weight track_bfd track_file track_interface track_process track_script',
  track_file: 'file init_file weight',
  virtual_server: 'alpha connect_timeout delay_before_retry delay_loop flag-1 flag-2 flag-3 ha_suspend hashed hysteresis inhibit_on_failure ip_family lb_algo lb_kind lvs_method lvs_sched mh-fallback mh-port omega ops persistence_engine persistence_granularity persistence_timeout protocol quorum quorum_down quorum_up real_server retry sh-fallback sh-port smtp_alert snmp_name sorry_server sorry_server_inhibit sorry_server_lvs_method virtualhost warmup weight',
  real_server: 'BFD_CHECK DNS_CHECK FILE_CHECK HTTP_GET MISC_CHECK PING_CHECK SMTP_CHECK SSL_GET TCP_CHECK UDP_CHECK alpha connect_timeout delay_before_retry delay_loop inhibit_on_failure lthreshold lvs_method notify_down notify_up retry smtp_alert snmp_name uthreshold virtualhost warmup weight',
  TCP_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark log_all_failures retry warmup',
  HTTP_GET: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop enable_sni fast_recovery fwmark http_protocol log_all_failures nb_get_retry retry sni_name url virtualhost warmup',
  SSL_GET: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop enable_sni fast_recovery fwmark http_protocol log_all_failures nb_get_retry retry sni_name tls_compliant url virtualhost warmup',
  MISC_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark log_all_failures misc_dynamic misc_path misc_timeout retry user warmup',
  DNS_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark log_all_failures name retry type warmup',
  UDP_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark log_all_failures max_reply_length min_reply_length payload require_reply retry warmup',
  PING_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark log_all_failures retry warmup',
  SMTP_CHECK: 'alpha bind_if bind_port bindto connect_port connect_timeout delay_before_retry delay_loop fwmark helo_name host log_all_failures retry warmup',
  FILE_CHECK: 'track_file weight',
  BFD_CHECK: 'alpha name',
  url: 'digest path regex regex_max_offset regex_min_offset regex_no_match regex_options regex_stack status_code virtualhost',
};

export const KEEPALIVED_KEYWORDS: Record<string, Set<string>> = Object.fromEntries(
  Object.entries(KNOWN_RAW).map(([block, words]) => [block, new Set(words.split(' '))]),
);

/** Why haldir does not implement a keepalived feature, and what to do instead. */
export const UNSUPPORTED_REASONS: Record<string, string> = {
  use_vmac: 'haldir does not create VRRP virtual MAC (macvlan) interfaces; remove use_vmac (the VIP then moves with gratuitous ARP)',
  use_vmac_addr: 'haldir does not create VRRP virtual MAC interfaces',
  vmac_xmit_base: 'haldir does not create VRRP virtual MAC interfaces',
  use_ipvlan: 'haldir does not create ipvlan interfaces',
  vrf: 'VRF-bound VRRP instances are not implemented',
  virtual_routes: 'haldir manages addresses, not routes; configure routes with systemd-networkd, ifupdown or a notify script',
  virtual_rules: 'haldir manages addresses, not policy rules; configure them with your network manager or a notify script',
  static_routes: 'haldir manages addresses, not routes; configure routes with systemd-networkd or ifupdown',
  static_rules: 'haldir manages addresses, not policy rules; configure them with your network manager',
  static_ipaddress: 'configure static addresses with your network manager; haldir manages only virtual addresses',
  track_process: 'process tracking is not implemented; use a vrrp_script (e.g. script "pidof nginx")',
  vrrp_track_process: 'process tracking is not implemented; use a vrrp_script (e.g. script "pidof nginx")',
  track_bfd: 'BFD is not implemented',
  bfd_instance: 'BFD is not implemented',
  BFD_CHECK: 'BFD is not implemented; use TCP_CHECK or HTTP_GET',
  auth_hmac: 'VRRP HMAC authentication is not implemented',
  garp_group: 'garp_group is not implemented; set garp_* per instance',
  linkbeat_interfaces: 'link state comes from netlink; MII/ethtool polling is not implemented',
  linkbeat_use_polling: 'link state comes from netlink; MII/ethtool polling is not implemented',
  net_namespace: 'run haldir inside the namespace instead (ip netns exec NAME haldir run …)',
  net_namespace_ipvs: 'run haldir inside the namespace instead',
  track_group: 'track_group is not implemented',
  persistence_engine: 'IPVS persistence engines (sip) are not implemented',
  regex_stack: 'PCRE stack tuning does not apply to haldir\'s regular expressions',
  vrrp_iptables: 'haldir does not manage iptables rules for VRRP',
  vrrp_ipsets: 'haldir does not manage ipsets',
  nftables: 'keepalived\'s nftables VRRP filtering is not implemented (haldir\'s nftables data plane is configured with --dataplane)',
  enable_dbus: 'haldir has no DBus interface; use its HTTP API',
  no_virtual_ipaddress: 'an instance without addresses is not supported; give it a virtual_ipaddress',
  track_src_ip: 'track_src_ip is not implemented',
  interface_up_down_delays: 'interface up/down delays are not implemented',
  old_unicast_checksum: 'the pre-1.3.6 unicast checksum is not implemented',
  kernel_rx_buf_size: 'receive buffer sizing is automatic in haldir',
};
