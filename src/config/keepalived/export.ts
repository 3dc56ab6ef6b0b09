// keepalived.conf export (owned by the keepalived-export module): writes one
// node's model as a complete keepalived.conf that keepalived 2.2.x reads the
// way haldir does. keepalived reads one keyword per line and misreads compact
// one-line blocks, so every keyword gets its own line, every `{` ends its
// keyword's line and every `}` stands alone. Settings are written where
// keepalived would otherwise infer something different: global_defs only
// carries non-defaults, instances only override what global_defs already says,
// and checkers spell out all their effective timings.
import { defaultGlobals, NOTIFY_KEYWORDS, VRRP_DEFAULTS } from '../../model/defaults.js';
import type {
  Checker,
  Forwarding,
  HttpChecker,
  HttpUrl,
  NodeModel,
  RealServer,
  Script,
  SyncGroup,
  TrackRef,
  VipAddress,
  VirtualServer,
  VirtualServerGroup,
  VrrpInstance,
  VrrpNotify,
  VsgEntry,
} from '../../model/types.js';

export interface ExportOptions {
  /** Named in the header comment; defaults to the file the model was read from, else 'model'. */
  source?: string;
}

/** keepalived's limit for auth_pass (RFC 3768 §5.3.6.1); longer values are truncated with a warning. */
const AUTH_PASS_MAX = VRRP_DEFAULTS.authPassMax;

/**
 * A string as one keepalived token: bare when it is plain, else double-quoted
 * with `\` and `"` escaped (keepalived.conf(5) "Quoted strings"). Quoting also
 * protects `#`, `!`, `{` and `}`, which would otherwise start a comment or a block.
 */
export function quote(s: string): string {
  if (s !== '' && /^[^\s"'\\#!{}]+$/.test(s)) return s;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Numbers as keepalived parses them: no exponent, no trailing zeros. */
function num(n: number): string {
  return String(Number(n.toFixed(6)));
}

function bool(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** The script argument of notify_*, misc_path, quorum_up…: command (quoted if it has arguments) then user/group. */
function script(s: Script): string {
  const parts = [quote(s.cmd)];
  if (s.user !== undefined) parts.push(quote(s.user));
  if (s.user !== undefined && s.group !== undefined) parts.push(quote(s.group));
  return parts.join(' ');
}

/** Collects lines at the current depth; `open`/`close` keep braces on their own terms. */
class Writer {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text: string): void {
    this.lines.push(text === '' ? '' : `${'    '.repeat(this.depth)}${text}`);
  }

  open(keyword: string): void {
    this.line(`${keyword} {`);
    this.depth++;
  }

  close(): void {
    this.depth--;
    this.line('}');
  }

  block(keyword: string, body: () => void): void {
    this.open(keyword);
    body();
    this.close();
  }

  /** A block of bare list items (group members, addresses), one per line. */
  list(keyword: string, items: string[]): void {
    if (items.length === 0) return;
    this.block(keyword, () => items.forEach((i) => this.line(i)));
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

// ---------------------------------------------------------------- global_defs

function writeGlobals(w: Writer, m: NodeModel): void {
  const g = m.global;
  const d = defaultGlobals();
  w.open('global_defs');
  // Without router_id keepalived uses the host name; writing the node name would change that.
  if (g.routerId !== undefined) w.line(`router_id ${quote(g.routerId)}`);
  w.list('notification_email', g.notificationEmail.map(quote));
  if (g.notificationEmailFrom !== undefined) w.line(`notification_email_from ${quote(g.notificationEmailFrom)}`);
  if (g.smtpServer) w.line(`smtp_server ${g.smtpServer.host}${g.smtpServer.port !== 25 ? ` ${g.smtpServer.port}` : ''}`);
  if (g.smtpHeloName !== undefined) w.line(`smtp_helo_name ${quote(g.smtpHeloName)}`);
  if (g.smtpConnectTimeout !== undefined) w.line(`smtp_connect_timeout ${num(g.smtpConnectTimeout)}`);
  if (g.smtpAlert !== undefined) w.line(`smtp_alert ${bool(g.smtpAlert)}`);
  if (g.smtpAlertVrrp !== undefined) w.line(`smtp_alert_vrrp ${bool(g.smtpAlertVrrp)}`);
  if (g.smtpAlertChecker !== undefined) w.line(`smtp_alert_checker ${bool(g.smtpAlertChecker)}`);
  if (g.checkerLogAllFailures !== undefined) w.line(`checker_log_all_failures ${bool(g.checkerLogAllFailures)}`);
  if (g.noEmailFaults) w.line('no_email_faults');
  if (g.defaultInterface !== undefined) w.line(`default_interface ${quote(g.defaultInterface)}`);
  if (g.scriptUser) w.line(`script_user ${quote(g.scriptUser.user)}${g.scriptUser.group !== undefined ? ` ${quote(g.scriptUser.group)}` : ''}`);
  if (g.enableScriptSecurity) w.line('enable_script_security');
  if (g.startupScript) {
    w.line(`startup_script ${script(g.startupScript)}`);
    if (g.startupScript.timeout !== undefined) w.line(`startup_script_timeout ${num(g.startupScript.timeout)}`);
  }
  if (g.shutdownScript) {
    w.line(`shutdown_script ${script(g.shutdownScript)}`);
    if (g.shutdownScript.timeout !== undefined) w.line(`shutdown_script_timeout ${num(g.shutdownScript.timeout)}`);
  }
  if (g.maxAutoPriority !== undefined) w.line(`max_auto_priority ${g.maxAutoPriority}`);
  if (g.dynamicInterfaces) w.line('dynamic_interfaces');
  for (const [kw, f] of [['notify_fifo', g.notifyFifo], ['vrrp_notify_fifo', g.vrrpNotifyFifo], ['lvs_notify_fifo', g.lvsNotifyFifo]] as const) {
    if (!f) continue;
    w.line(`${kw} ${quote(f.path)}`);
    if (f.script) w.line(`${kw}_script ${script(f.script)}`);
  }
  const v = g.vrrp;
  const dv = d.vrrp;
  if (v.mcastGroup4 !== dv.mcastGroup4) w.line(`vrrp_mcast_group4 ${v.mcastGroup4}`);
  if (v.mcastGroup6 !== dv.mcastGroup6) w.line(`vrrp_mcast_group6 ${v.mcastGroup6}`);
  // vrrp_min_garp sets garp_master_delay 0 and garp_master_repeat 1 when read; written
  // first, so that explicit values after it still win as they do in the model.
  if (v.minGarp) w.line('vrrp_min_garp');
  const garpDelay = v.minGarp ? 0 : dv.garpMasterDelay;
  const garpRepeat = v.minGarp ? 1 : dv.garpMasterRepeat;
  if (v.garpMasterDelay !== garpDelay) w.line(`vrrp_garp_master_delay ${num(v.garpMasterDelay)}`);
  if (v.garpMasterRepeat !== garpRepeat) w.line(`vrrp_garp_master_repeat ${v.garpMasterRepeat}`);
  if (v.garpMasterRefresh !== dv.garpMasterRefresh) w.line(`vrrp_garp_master_refresh ${num(v.garpMasterRefresh)}`);
  if (v.garpMasterRefreshRepeat !== dv.garpMasterRefreshRepeat) w.line(`vrrp_garp_master_refresh_repeat ${v.garpMasterRefreshRepeat}`);
  if (v.garpLowerPrioDelay !== undefined) w.line(`vrrp_garp_lower_prio_delay ${num(v.garpLowerPrioDelay)}`);
  if (v.garpLowerPrioRepeat !== undefined) w.line(`vrrp_garp_lower_prio_repeat ${v.garpLowerPrioRepeat}`);
  if (v.garpInterval !== dv.garpInterval) w.line(`vrrp_garp_interval ${num(v.garpInterval)}`);
  if (v.gnaInterval !== dv.gnaInterval) w.line(`vrrp_gna_interval ${num(v.gnaInterval)}`);
  if (v.downTimerAdverts !== dv.downTimerAdverts) w.line(`vrrp_down_timer_adverts ${v.downTimerAdverts}`);
  if (v.version !== dv.version) w.line(`vrrp_version ${v.version}`);
  if (v.checkUnicastSrc) w.line('vrrp_check_unicast_src');
  if (v.skipCheckAdvAddr) w.line('vrrp_skip_check_adv_addr');
  if (v.strict) w.line('vrrp_strict');
  // vrrp_strict implies lower_prio_no_advert; say it explicitly either way.
  if (v.lowerPrioNoAdvert !== dv.lowerPrioNoAdvert || v.strict) w.line(`vrrp_lower_prio_no_advert ${bool(v.lowerPrioNoAdvert)}`);
  if (v.higherPrioSendAdvert !== dv.higherPrioSendAdvert) w.line(`vrrp_higher_prio_send_advert ${bool(v.higherPrioSendAdvert)}`);
  if (v.startupDelay !== undefined) w.line(`vrrp_startup_delay ${num(v.startupDelay)}`);
  if (v.logUnknownVrids) w.line('log_unknown_vrids');
  const l = g.lvs;
  if (l.flush) w.line('lvs_flush');
  if (l.flushOnStop !== undefined) w.line(l.flushOnStop === 'vs' ? 'lvs_flush_on_stop VS' : 'lvs_flush_on_stop');
  if (l.timeouts) {
    const t = l.timeouts;
    const parts = [t.tcp !== undefined ? `tcp ${t.tcp}` : '', t.tcpfin !== undefined ? `tcpfin ${t.tcpfin}` : '', t.udp !== undefined ? `udp ${t.udp}` : ''].filter(Boolean);
    if (parts.length) w.line(`lvs_timeouts ${parts.join(' ')}`);
  }
  if (l.syncDaemon) {
    const s = l.syncDaemon;
    const parts = [`lvs_sync_daemon ${s.interface}`];
    if (s.instance !== undefined) parts.push(`inst ${s.instance}`);
    if (s.syncId !== undefined) parts.push(`id ${s.syncId}`);
    if (s.maxLen !== undefined) parts.push(`maxlen ${s.maxLen}`);
    if (s.port !== undefined) parts.push(`port ${s.port}`);
    if (s.ttl !== undefined) parts.push(`ttl ${s.ttl}`);
    if (s.group !== undefined) parts.push(`group ${s.group}`);
    w.line(parts.join(' '));
  }
  if (v.v3ChecksumAsV2) w.line('# haldir: v3 checksum as v2 is set per vrrp_instance (old_unicast_checksum)');
  w.close();
}

// ---------------------------------------------------------------- VRRP

function writeVrrpScripts(w: Writer, m: NodeModel): void {
  for (const s of m.vrrpScripts) {
    w.line('');
    w.block(`vrrp_script ${quote(s.name)}`, () => {
      w.line(`script ${quote(s.script.cmd)}`);
      if (s.script.user !== undefined) w.line(`user ${quote(s.script.user)}${s.script.group !== undefined ? ` ${quote(s.script.group)}` : ''}`);
      w.line(`interval ${num(s.interval)}`);
      if (s.timeout !== undefined) w.line(`timeout ${num(s.timeout)}`);
      w.line(`weight ${s.weight}${s.weightReverse ? ' reverse' : ''}`);
      w.line(`rise ${s.rise}`);
      w.line(`fall ${s.fall}`);
      if (s.initFail) w.line('init_fail');
    });
  }
  for (const f of m.trackFiles) {
    w.line('');
    w.block(`track_file ${quote(f.name)}`, () => {
      w.line(`file ${quote(f.file)}`);
      w.line(`weight ${f.weight}${f.weightReverse ? ' reverse' : ''}`);
      if (f.initFile) w.line(`init_file ${f.initFile.value}${f.initFile.overwrite ? ' overwrite' : ''}`);
    });
  }
}

/**
 * Items of a track_* block. `noreverse` overrides a tracked script's or file's
 * own `reverse`; track_interface has no such default and rejects the word.
 */
function trackItems(refs: TrackRef[], noreverse: boolean): string[] {
  return refs.map((t) => {
    let s = quote(t.name);
    if (t.weight !== undefined) s += ` weight ${t.weight}`;
    if (t.weightReverse) s += ' reverse';
    else if (t.weightReverse === false && noreverse && t.weight !== undefined) s += ' noreverse';
    return s;
  });
}

function writeTracking(w: Writer, o: { trackInterfaces: TrackRef[]; trackScripts: TrackRef[]; trackFiles: TrackRef[] }): void {
  w.list('track_interface', trackItems(o.trackInterfaces, false));
  w.list('track_script', trackItems(o.trackScripts, true));
  w.list('track_file', trackItems(o.trackFiles, true));
}

function writeNotify(w: Writer, n: VrrpNotify): void {
  for (const [k, keyword] of Object.entries(NOTIFY_KEYWORDS) as [keyof VrrpNotify, string][]) {
    const s = n[k];
    if (s) w.line(`${keyword} ${script(s)}`);
  }
}

function writeSyncGroup(w: Writer, g: SyncGroup): void {
  w.line('');
  w.block(`vrrp_sync_group ${quote(g.name)}`, () => {
    w.list('group', g.members.map(quote));
    writeTracking(w, g);
    writeNotify(w, g.notify);
    if (g.notifyPriorityChanges) w.line('notify_priority_changes yes');
    if (g.smtpAlert !== undefined) w.line(`smtp_alert ${bool(g.smtpAlert)}`);
    if (g.globalTracking) w.line('global_tracking');
    if (g.trackingWeight) w.line('sync_group_tracking_weight');
  });
}

function vipLine(v: VipAddress): string {
  const parts = [`${v.address}/${v.prefix}`];
  if (v.broadcast !== undefined) parts.push(`brd ${v.broadcast}`);
  if (v.dev !== undefined) parts.push(`dev ${v.dev}`);
  if (v.scope !== undefined) parts.push(`scope ${v.scope}`);
  if (v.label !== undefined) parts.push(`label ${v.label}`);
  if (v.peer !== undefined) parts.push(`peer ${v.peer}`);
  if (v.homeAddress) parts.push('home');
  if (v.noDad) parts.push('-nodad');
  if (v.noPrefixRoute) parts.push('noprefixroute');
  if (v.preferredLft !== undefined) parts.push(`preferred_lft ${v.preferredLft}`);
  return parts.join(' ');
}

function writeInstance(w: Writer, m: NodeModel, v: VrrpInstance): void {
  const g = m.global.vrrp;
  w.line('');
  w.block(`vrrp_instance ${quote(v.name)}`, () => {
    w.line(`state ${v.state}`);
    w.line(`interface ${v.interface}`);
    w.line(`virtual_router_id ${v.vrid}`);
    w.line(`priority ${v.priority}`);
    w.line(`advert_int ${num(v.advertInt)}`);
    // keepalived runs IPv6 instances as v3 whatever the default; otherwise the global default applies.
    if (v.version !== g.version || v.version === 3) w.line(`version ${v.version}`);
    if (v.nativeIpv6) w.line('native_ipv6');
    if (v.dontTrackPrimary) w.line('dont_track_primary');
    if (v.auth) {
      const pass = [...v.auth.pass];
      w.block('authentication', () => {
        w.line(`auth_type ${v.auth!.type}`);
        if (pass.length > AUTH_PASS_MAX) w.line(`# haldir: auth_pass cut to the ${AUTH_PASS_MAX} characters VRRP sends (was ${pass.length})`);
        w.line(`auth_pass ${quote(pass.slice(0, AUTH_PASS_MAX).join(''))}`);
      });
    }
    w.list('virtual_ipaddress', v.vips.map(vipLine));
    w.list('virtual_ipaddress_excluded', v.excludedVips.map(vipLine));
    if (v.promoteSecondaries) w.line('promote_secondaries');
    if (v.mcastSrcIp !== undefined) w.line(`mcast_src_ip ${v.mcastSrcIp}`);
    if (v.mcastDstIp !== undefined) w.line(`mcast_dst_ip ${v.mcastDstIp}`);
    if (v.unicastSrcIp !== undefined) w.line(`unicast_src_ip ${v.unicastSrcIp}`);
    w.list(
      'unicast_peer',
      v.unicastPeers.map((p) => `${p.address}${p.minTtl !== undefined ? ` min_ttl ${p.minTtl}` : ''}${p.maxTtl !== undefined ? ` max_ttl ${p.maxTtl}` : ''}`),
    );
    if (v.unicastTtl !== undefined) w.line(`unicast_ttl ${v.unicastTtl}`);
    if (v.unicastFaultNoPeer) w.line('unicast_fault_no_peer');
    if (v.checkUnicastSrc && !g.checkUnicastSrc) w.line('check_unicast_src');
    if (!v.checkUnicastSrc && g.checkUnicastSrc) w.line('# haldir: check_unicast_src is off here but keepalived cannot turn the global vrrp_check_unicast_src off per instance');
    writeTracking(w, v);
    // accept: keepalived's own default already accepts unless strict; no_accept would add firewall rules.
    if (v.accept) w.line('accept');
    if (v.nopreempt) w.line('nopreempt');
    if (v.preemptDelay > 0) w.line(`preempt_delay ${num(v.preemptDelay)}`);
    if (v.skipCheckAdvAddr !== g.skipCheckAdvAddr) w.line(`skip_check_adv_addr ${bool(v.skipCheckAdvAddr)}`);
    if (v.strictMode !== g.strict) w.line(`strict_mode ${bool(v.strictMode)}`);
    if (v.v3ChecksumAsV2) w.line('old_unicast_checksum');
    if (v.garpMasterDelay !== g.garpMasterDelay) w.line(`garp_master_delay ${num(v.garpMasterDelay)}`);
    if (v.garpMasterRepeat !== g.garpMasterRepeat) w.line(`garp_master_repeat ${v.garpMasterRepeat}`);
    if (v.garpMasterRefresh !== g.garpMasterRefresh) w.line(`garp_master_refresh ${num(v.garpMasterRefresh)}`);
    if (v.garpMasterRefreshRepeat !== g.garpMasterRefreshRepeat) w.line(`garp_master_refresh_repeat ${v.garpMasterRefreshRepeat}`);
    if (v.garpLowerPrioDelay !== undefined && v.garpLowerPrioDelay !== g.garpLowerPrioDelay) w.line(`garp_lower_prio_delay ${num(v.garpLowerPrioDelay)}`);
    if (v.garpLowerPrioRepeat !== undefined && v.garpLowerPrioRepeat !== g.garpLowerPrioRepeat) w.line(`garp_lower_prio_repeat ${v.garpLowerPrioRepeat}`);
    if (v.downTimerAdverts !== g.downTimerAdverts) w.line(`down_timer_adverts ${v.downTimerAdverts}`);
    if (v.lowerPrioNoAdvert !== g.lowerPrioNoAdvert) w.line(`lower_prio_no_advert ${bool(v.lowerPrioNoAdvert)}`);
    if (v.higherPrioSendAdvert !== g.higherPrioSendAdvert) w.line(`higher_prio_send_advert ${bool(v.higherPrioSendAdvert)}`);
    writeNotify(w, v.notify);
    if (v.notifyPriorityChanges) w.line('notify_priority_changes yes');
    if (v.smtpAlert !== undefined) w.line(`smtp_alert ${bool(v.smtpAlert)}`);
    if (v.debug !== undefined) w.line(`debug ${v.debug}`);
    if (v.lvsSyncDaemonInterface !== undefined) w.line(`lvs_sync_daemon_interface ${v.lvsSyncDaemonInterface}`);
  });
}

// ---------------------------------------------------------------- LVS

function vsgEntryLine(e: VsgEntry): string {
  if (e.kind === 'fwmark') return `fwmark ${e.fwmark ?? 0}${e.family !== undefined ? (e.family === 6 ? ' inet6' : ' inet') : ''}`;
  const v6 = (e.address ?? '').includes(':');
  // keepalived ranges name the last value of the final octet (decimal) or hextet (hex).
  const end = e.kind === 'range' && e.rangeEnd !== undefined ? `-${v6 ? e.rangeEnd.toString(16) : e.rangeEnd}` : '';
  return `${e.address ?? ''}${end}${e.port !== undefined ? ` ${e.port}` : ''}`;
}

function writeVsg(w: Writer, g: VirtualServerGroup): void {
  w.line('');
  w.list(`virtual_server_group ${quote(g.name)}`, g.entries.map(vsgEntryLine));
}

/** `NAT`, `DR`, or `TUN [type …] [csum]` as lvs_method takes it. */
function method(f: Forwarding): string {
  if (f.kind !== 'TUN') return f.kind;
  let s = 'TUN';
  if (f.tunType !== undefined) {
    s += ` type ${f.tunType}`;
    if (f.tunType === 'gue' && f.tunPort !== undefined) s += ` port ${f.tunPort}`;
  }
  if (f.tunCsum !== undefined) s += ` ${f.tunCsum}`;
  return s;
}

function sameForwarding(a: Forwarding, b: Forwarding): boolean {
  return a.kind === b.kind && a.tunType === b.tunType && a.tunPort === b.tunPort && a.tunCsum === b.tunCsum;
}

function writeUrl(w: Writer, u: HttpUrl): void {
  w.block('url', () => {
    w.line(`path ${quote(u.path)}`);
    if (u.digest !== undefined) w.line(`digest ${u.digest}`);
    if (u.statusCodes.length) w.line(`status_code ${u.statusCodes.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(' ')}`);
    if (u.virtualhost !== undefined) w.line(`virtualhost ${quote(u.virtualhost)}`);
    if (u.regex !== undefined) w.line(`regex ${quote(u.regex)}`);
    if (u.regexNoMatch) w.line('regex_no_match');
    if (u.regexOptions?.length) w.line(`regex_options ${u.regexOptions.join(' ')}`);
    if (u.regexMinOffset !== undefined) w.line(`regex_min_offset ${u.regexMinOffset}`);
    if (u.regexMaxOffset !== undefined) w.line(`regex_max_offset ${u.regexMaxOffset}`);
    if (u.tlsCompliant !== undefined) w.line(`# haldir: url tls_compliant ${bool(u.tlsCompliant)} (keepalived sets this per checker)`);
  });
}

/**
 * One checker with every effective setting, so the file does not depend on
 * keepalived's inheritance. `inheritedAlpha` and `inheritedVhost` are what
 * keepalived would give the checker from the real server; those two are only
 * written when they differ.
 */
function writeChecker(w: Writer, m: NodeModel, c: Checker, inheritedAlpha: boolean, inheritedVhost: string | undefined): void {
  w.block(c.type, () => {
    if (c.type !== 'FILE_CHECK') {
      // MISC_CHECK takes no connection options (keepalived.conf(5): "only has options alpha onwards").
      if (c.type !== 'MISC_CHECK') {
        if (c.connectIp !== undefined) w.line(`connect_ip ${c.connectIp}`);
        if (c.connectPort !== undefined) w.line(`connect_port ${c.connectPort}`);
        if (c.bindTo !== undefined) w.line(`bindto ${c.bindTo}`);
        if (c.bindPort !== undefined) w.line(`bind_port ${c.bindPort}`);
        if (c.bindIf !== undefined) w.line(`bind_if ${c.bindIf}`);
        if (c.fwmark !== undefined) w.line(`fwmark ${c.fwmark}`);
        w.line(`connect_timeout ${num(c.connectTimeout)}`);
      }
      w.line(`retry ${c.retry}`);
      w.line(`delay_before_retry ${num(c.delayBeforeRetry)}`);
      w.line(`delay_loop ${num(c.delayLoop)}`);
      w.line(`warmup ${num(c.warmup)}`);
      if (c.alpha !== inheritedAlpha) w.line(`alpha ${bool(c.alpha)}`);
      if (c.logAllFailures !== (m.global.checkerLogAllFailures ?? false)) w.line(`log_all_failures ${bool(c.logAllFailures)}`);
    }
    switch (c.type) {
      case 'HTTP_GET':
      case 'SSL_GET':
        if (c.virtualhost !== undefined && c.virtualhost !== inheritedVhost) w.line(`virtualhost ${quote(c.virtualhost)}`);
        if (c.httpProtocol !== undefined) w.line(`http_protocol ${c.httpProtocol}`);
        if (c.fastRecovery) w.line('fast_recovery');
        if (c.type === 'SSL_GET' && c.enableSni) w.line('enable_sni');
        if (c.sniName !== undefined) w.line(`# haldir: sni_name ${c.sniName} (not supported by keepalived 2.2; it sends the virtualhost)`);
        if (c.tlsCompliant) w.line('tls_compliant');
        for (const u of c.urls) writeUrl(w, u);
        break;
      case 'DNS_CHECK':
        w.line(`type ${c.queryType}`);
        w.line(`name ${quote(c.name)}`);
        break;
      case 'SMTP_CHECK':
        w.line(`helo_name ${quote(c.heloName)}`);
        for (const h of c.hosts) {
          w.block('host', () => {
            if (h.connectIp !== undefined) w.line(`connect_ip ${h.connectIp}`);
            if (h.connectPort !== undefined) w.line(`connect_port ${h.connectPort}`);
            if (h.bindTo !== undefined) w.line(`bindto ${h.bindTo}`);
            if (h.bindPort !== undefined) w.line(`bind_port ${h.bindPort}`);
            if (h.bindIf !== undefined) w.line(`bind_if ${h.bindIf}`);
            if (h.connectTimeout !== undefined) w.line(`connect_timeout ${num(h.connectTimeout)}`);
            if (h.fwmark !== undefined) w.line(`fwmark ${h.fwmark}`);
          });
        }
        break;
      case 'UDP_CHECK':
        if (c.payload !== undefined) w.line(`payload ${c.payload}`);
        if (c.requireReply !== undefined) w.line(c.requireReply === '' ? 'require_reply' : `require_reply ${c.requireReply}`);
        if (c.minReplyLength !== undefined) w.line(`min_reply_length ${c.minReplyLength}`);
        if (c.maxReplyLength !== undefined) w.line(`max_reply_length ${c.maxReplyLength}`);
        break;
      case 'MISC_CHECK':
        w.line(`misc_path ${quote(c.script.cmd)}`);
        if (c.timeout !== undefined) w.line(`misc_timeout ${num(c.timeout)}`);
        if (c.dynamic) w.line('misc_dynamic');
        if (c.script.user !== undefined) w.line(`user ${quote(c.script.user)}${c.script.group !== undefined ? ` ${quote(c.script.group)}` : ''}`);
        break;
      case 'FILE_CHECK':
        w.line(`track_file ${quote(c.trackFile)}`);
        if (c.weight !== undefined) w.line(`weight ${c.weight}${c.weightReverse ? ' reverse' : ''}`);
        break;
      default:
        break;
    }
    if (c.rise !== 1 || c.fall !== 1) w.line(`# haldir: rise ${c.rise} fall ${c.fall} (not supported by keepalived)`);
  });
}

function writeRealServer(w: Writer, m: NodeModel, vs: VirtualServer, rs: RealServer): void {
  const port = rs.port !== undefined ? ` ${rs.port}` : '';
  w.block(`real_server ${rs.address}${port}`, () => {
    w.line(`weight ${rs.weight}`);
    if (rs.forwarding && !sameForwarding(rs.forwarding, vs.forwarding)) w.line(`lvs_method ${method(rs.forwarding)}`);
    if (rs.inhibitOnFailure !== vs.inhibitOnFailure) w.line(`inhibit_on_failure ${bool(rs.inhibitOnFailure)}`);
    if (rs.upperThreshold !== undefined) w.line(`uthreshold ${rs.upperThreshold}`);
    if (rs.lowerThreshold !== undefined) w.line(`lthreshold ${rs.lowerThreshold}`);
    if (rs.notifyUp) w.line(`notify_up ${script(rs.notifyUp)}`);
    if (rs.notifyDown) w.line(`notify_down ${script(rs.notifyDown)}`);
    if (rs.smtpAlert !== undefined) w.line(`smtp_alert ${bool(rs.smtpAlert)}`);
    // virtualhost, like alpha, is inherited virtual_server → real_server → checker.
    if (rs.virtualhost !== undefined && rs.virtualhost !== vs.virtualhost) w.line(`virtualhost ${quote(rs.virtualhost)}`);
    // The real server's alpha is keepalived's default for its checkers.
    if (rs.alpha !== vs.alpha) w.line(`alpha ${bool(rs.alpha)}`);
    for (const c of rs.checkers) writeChecker(w, m, c, rs.alpha, rs.virtualhost ?? vs.virtualhost);
  });
}

function vsHeader(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `virtual_server ${a.address} ${a.port}`;
  if (a.kind === 'fwmark') return `virtual_server fwmark ${a.fwmark}`;
  return `virtual_server group ${quote(a.group)}`;
}

function writeVirtualServer(w: Writer, m: NodeModel, vs: VirtualServer): void {
  w.line('');
  w.block(vsHeader(vs), () => {
    w.line(`delay_loop ${num(vs.delayLoop)}`);
    w.line(`lb_algo ${vs.scheduler}`);
    const f = vs.schedFlags;
    // keepalived 2.2 rejects `hashed` ("only applies to sh scheduler"); IPVS sets the flag itself.
    if (f.hashed) w.line('# haldir: hashed (not accepted by keepalived 2.2; the kernel hashes every service)');
    if (f.flag1) w.line('flag-1');
    if (f.flag2) w.line('flag-2');
    if (f.flag3) w.line('flag-3');
    if (f.shPort) w.line('sh-port');
    if (f.shFallback) w.line('sh-fallback');
    if (f.mhPort) w.line('mh-port');
    if (f.mhFallback) w.line('mh-fallback');
    if (vs.ops) w.line('ops');
    w.line(`lb_kind ${method(vs.forwarding)}`);
    // keepalived ignores (and warns about) protocol on fwmark services.
    if (vs.address.kind !== 'fwmark') w.line(`protocol ${vs.protocol}`);
    if (vs.ipFamily !== undefined) w.line(`ip_family ${vs.ipFamily === 6 ? 'inet6' : 'inet'}`);
    if (vs.persistenceTimeout !== undefined) w.line(`persistence_timeout ${vs.persistenceTimeout}`);
    if (vs.persistenceGranularity !== undefined) w.line(`persistence_granularity ${vs.persistenceGranularity}`);
    if (vs.persistenceEngine !== undefined) w.line(`persistence_engine ${vs.persistenceEngine}`);
    if (vs.haSuspend) w.line('ha_suspend');
    if (vs.virtualhost !== undefined) w.line(`virtualhost ${quote(vs.virtualhost)}`);
    if (vs.alpha) w.line('alpha');
    if (vs.omega) w.line('omega');
    if (vs.quorum !== 1) w.line(`quorum ${vs.quorum}`);
    if (vs.hysteresis !== 0) w.line(`hysteresis ${vs.hysteresis}`);
    if (vs.quorumUp) w.line(`quorum_up ${script(vs.quorumUp)}`);
    if (vs.quorumDown) w.line(`quorum_down ${script(vs.quorumDown)}`);
    if (vs.smtpAlert !== undefined) w.line(`smtp_alert ${bool(vs.smtpAlert)}`);
    if (vs.inhibitOnFailure) w.line('inhibit_on_failure');
    if (vs.sorryServer) {
      const s = vs.sorryServer;
      w.line(`sorry_server ${s.address}${s.port !== undefined ? ` ${s.port}` : ''}`);
      if (s.inhibit) w.line('sorry_server_inhibit');
      if (s.forwarding && !sameForwarding(s.forwarding, vs.forwarding)) w.line(`sorry_server_lvs_method ${method(s.forwarding)}`);
    }
    for (const rs of vs.realServers) writeRealServer(w, m, vs, rs);
  });
}

// ---------------------------------------------------------------- SSL

/**
 * keepalived has one TLS context for every SSL_GET (the top-level SSL block). Written when
 * the SSL_GET checks agree; differing settings cannot be said in keepalived.conf.
 */
function writeSsl(w: Writer, model: NodeModel): void {
  const all = model.virtualServers.flatMap((vs) => vs.realServers.flatMap((rs) => rs.checkers)).filter((c): c is HttpChecker => c.type === 'SSL_GET');
  const kinds = new Set(all.map((c) => JSON.stringify(c.tls ?? {})));
  const first = all.find((c) => c.tls)?.tls;
  if (!first) return;
  if (kinds.size > 1) {
    w.line('# haldir: the SSL_GET checks have different tls settings; keepalived has one SSL block for all of them. This is the first one.');
  }
  w.block('SSL', () => {
    if (first.password !== undefined) w.line(`password ${quote(first.password)}`);
    if (first.ca !== undefined) w.line(`ca ${quote(first.ca)}`);
    if (first.certificate !== undefined) w.line(`certificate ${quote(first.certificate)}`);
    if (first.key !== undefined) w.line(`key ${quote(first.key)}`);
  });
  w.line('');
}

// ---------------------------------------------------------------- entry point

export function exportKeepalived(model: NodeModel, opts: ExportOptions = {}): string {
  const w = new Writer();
  const source = (opts.source ?? model.global.src?.['']?.file ?? 'model').replace(/\s+/g, ' ');
  w.line(`# Generated by haldir export from ${source} for node ${model.node}`);
  w.line('# One keyword per line: keepalived 2.2 misreads several keywords on one line.');
  w.line('');
  writeGlobals(w, model);
  writeSsl(w, model);
  writeVrrpScripts(w, model);
  for (const g of model.syncGroups) writeSyncGroup(w, g);
  for (const v of model.vrrpInstances) writeInstance(w, model, v);
  for (const g of model.virtualServerGroups) writeVsg(w, g);
  for (const vs of model.virtualServers) writeVirtualServer(w, model, vs);
  return w.text();
}
