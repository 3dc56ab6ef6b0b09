// keepalived-compatible dumps, so migrating operators' scripts keep working:
// keepalived.stats (SIGUSR2; vrrp_print.c vrrp_print_stats), keepalived.data (SIGUSR1;
// vrrp_data.c dump_data_vrrp: global definitions and the VRRP topology — the instance
// fields haldir has, in keepalived's words and order), keepalived_check.data (SIGUSR1,
// keepalived's checker process; check_data.c dump_vs/dump_rs) and keepalived.json
// (vrrp_json.c; keepalived writes it on SIGRTMIN+2, which Node cannot catch: haldir
// serves it at /api/v1/keepalived/json). Formats as keepalived 2.2.7 writes them,
// compared against the real one in test/api/keepalived-dump.test.ts. Passwords are
// masked ("********"), as keepalived's own JSON dump does since 2.3.
// Files go to $TMPDIR (when absolute) or /tmp, mode 0600, like keepalived's.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeModel, VipAddress, VrrpInstance } from '../model/types.js';
import { formatVs, rsKey } from '../health/server-state.js';
import type { NodeStatus, VrrpInstanceView } from './types.js';

/** keepalived's state numbers (vrrp.h VRRP_STATE_*). */
export const KA_STATE: Record<string, number> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3, STOP: 98 };

/** keepalived's dump directory: $TMPDIR when it is an absolute path, else /tmp (lib/utils.c set_tmp_dir). */
export function dumpDir(env: NodeJS.ProcessEnv = process.env): string {
  const t = env.TMPDIR;
  return t && t.startsWith('/') ? t.replace(/\/+$/, '') || '/' : '/tmp';
}

/** Writes a dump atomically (temporary file, then rename), mode 0600. */
export function writeDump(name: string, text: string, dir = dumpDir()): string {
  const path = join(dir, name);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

const u = (n: number | undefined): number => Math.max(0, Math.trunc(n ?? 0));

/** keepalived.stats, one block per instance (keepalived 2.2.7 vrrp_print_stats). */
export function keepalivedStats(s: NodeStatus): string {
  const out: string[] = [];
  for (const i of s.vrrp) {
    const t = i.stats;
    out.push(
      `VRRP Instance: ${i.name}`,
      '  Advertisements:',
      `    Received: ${u(t.vrrpv3StatisticsRcvdAdvertisements)}`,
      `    Sent: ${u(t.advertsSent)}`,
      `  Became master: ${u(t.vrrpv3StatisticsMasterTransitions)}`,
      `  Released master: ${u(i.releaseMaster)}`,
      '  Packet Errors:',
      `    Length: ${u(t.vrrpv3StatisticsPacketLengthErrors)}`,
      `    TTL: ${u(t.vrrpv3StatisticsIpTtlErrors)}`,
      `    Invalid Type: ${u(t.vrrpv3StatisticsRcvdInvalidTypePackets)}`,
      `    Advertisement Interval: ${u(t.vrrpv3StatisticsAdvIntervalErrors)}`,
      `    Address List: ${u(t.vrrpv3StatisticsAddressListErrors)}`,
      '  Authentication Errors:',
      `    Invalid Type: ${u(t.vrrpStatsInvalidAuthType)}`,
      `    Type Mismatch: ${u(t.vrrpStatsAuthTypeMismatch)}`,
      `    Failure: ${u(t.vrrpStatsAuthFailures)}`,
      '  Priority Zero:',
      `    Received: ${u(t.vrrpv3StatisticsRcvdPriZeroPackets)}`,
      `    Sent: ${u(t.vrrpv3StatisticsSentPriZeroPackets)}`,
    );
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** keepalived format_ipaddress: `192.168.2.100/24 dev eth0 scope global label eth0:vip set`. */
export function formatVip(v: VipAddress, inst: VrrpInstance, held: boolean): string {
  return `${v.address}/${v.prefix} dev ${v.dev ?? inst.interface} scope ${v.scope ?? 'global'}${v.label ? ` label ${v.label}` : ''}${held ? ' set' : ''}`;
}

function pair(model: NodeModel, s: NodeStatus): { cfg: VrrpInstance; st: VrrpInstanceView }[] {
  const out: { cfg: VrrpInstance; st: VrrpInstanceView }[] = [];
  for (const st of s.vrrp) {
    const cfg = model.vrrpInstances.find((i) => i.name === st.name);
    if (cfg) out.push({ cfg, st });
  }
  return out;
}

const secs = (iso: string | undefined): number => (iso ? Date.parse(iso) / 1000 : 0);

/** keepalived.json (vrrp_json.c, json_version 1): an array of { data, stats } per instance. */
export function keepalivedJson(model: NodeModel, s: NodeStatus): unknown[] {
  return pair(model, s).map(({ cfg, st }) => {
    const held = st.state === 'MASTER';
    const n = cfg.notify;
    const scripts: Record<string, string> = {};
    if (n.backup) scripts.script_backup = n.backup.cmd;
    if (n.master) scripts.script_master = n.master.cmd;
    if (n.fault) scripts.script_fault = n.fault.cmd;
    if (n.stop) scripts.script_stop = n.stop.cmd;
    if (n.deleted) scripts.script_deleted = n.deleted.cmd;
    if (n.generic) scripts.script = n.generic.cmd;
    if (n.masterRxLowerPri) scripts.script_master_rx_lower_pri = n.masterRxLowerPri.cmd;
    const t = st.stats;
    const authType = cfg.version === 2 && cfg.auth && cfg.auth.pass !== '' ? (cfg.auth.type === 'AH' ? 2 : 1) : 0;
    return {
      data: {
        iname: cfg.name,
        dont_track_primary: cfg.dontTrackPrimary ? 1 : 0,
        skip_check_adv_addr: cfg.skipCheckAdvAddr ? 1 : 0,
        strict_mode: cfg.strictMode ? 1 : 0,
        vmac_ifname: '',
        ifp_ifname: cfg.interface,
        master_priority: held ? st.effectivePriority : 0,
        last_transition: Number(secs(st.lastTransition).toFixed(6)),
        garp_delay: cfg.garpMasterDelay,
        garp_refresh: cfg.garpMasterRefresh,
        garp_rep: cfg.garpMasterRepeat,
        garp_refresh_rep: cfg.garpMasterRefreshRepeat,
        garp_lower_prio_delay: cfg.garpLowerPrioDelay ?? cfg.garpMasterDelay,
        garp_lower_prio_rep: cfg.garpLowerPrioRepeat ?? cfg.garpMasterRepeat,
        lower_prio_no_advert: cfg.lowerPrioNoAdvert ? 1 : 0,
        higher_prio_send_advert: cfg.higherPrioSendAdvert ? 1 : 0,
        vrid: cfg.vrid,
        base_priority: cfg.priority,
        effective_priority: st.effectivePriority,
        vipset: held,
        promote_secondaries: cfg.promoteSecondaries,
        adver_int: cfg.advertInt,
        master_adver_int: cfg.advertInt,
        accept: cfg.accept || !cfg.strictMode ? 1 : 0,
        nopreempt: cfg.nopreempt,
        preempt_delay: Math.trunc(cfg.preemptDelay),
        state: KA_STATE[st.state] ?? 0,
        wantstate: KA_STATE[st.state] ?? 0,
        version: cfg.version,
        smtp_alert: cfg.smtpAlert ?? false,
        notify_deleted: false,
        ...scripts,
        ...(cfg.vips.length ? { vips: cfg.vips.map((v) => formatVip(v, cfg, held)) } : {}),
        ...(cfg.excludedVips.length ? { evips: cfg.excludedVips.map((v) => formatVip(v, cfg, held)) } : {}),
        ...(cfg.trackInterfaces.length ? { track_ifp: cfg.trackInterfaces.map((r) => r.name) } : {}),
        ...(cfg.trackScripts.length ? { track_script: cfg.trackScripts.map((r) => model.vrrpScripts.find((x) => x.name === r.name)?.script.cmd ?? r.name) } : {}),
        auth_type: authType,
        ...(authType ? { auth_data: '********' } : {}),
      },
      stats: {
        advert_rcvd: u(t.vrrpv3StatisticsRcvdAdvertisements),
        advert_sent: u(t.advertsSent),
        become_master: u(t.vrrpv3StatisticsMasterTransitions),
        release_master: u(st.releaseMaster),
        packet_len_err: u(t.vrrpv3StatisticsPacketLengthErrors),
        advert_interval_err: u(t.vrrpv3StatisticsAdvIntervalErrors),
        ip_ttl_err: u(t.vrrpv3StatisticsIpTtlErrors),
        invalid_type_rcvd: u(t.vrrpv3StatisticsRcvdInvalidTypePackets),
        addr_list_err: u(t.vrrpv3StatisticsAddressListErrors),
        invalid_authtype: u(t.vrrpStatsInvalidAuthType),
        authtype_mismatch: u(t.vrrpStatsAuthTypeMismatch),
        auth_failure: u(t.vrrpStatsAuthFailures),
        pri_zero_rcvd: u(t.vrrpv3StatisticsRcvdPriZeroPackets),
        pri_zero_sent: u(t.vrrpv3StatisticsSentPriZeroPackets),
      },
    };
  });
}

/** keepalived timer_t printing: `1796003509.565413 (Mon Nov 30 01:51:49.565413 2026)`. */
function kaTime(iso: string | undefined): string {
  const ms = iso ? Date.parse(iso) : 0;
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const usec = `${p(d.getMilliseconds(), 3)}000`;
  return `${Math.floor(ms / 1000)}.${usec} (${days[d.getDay()]} ${months[d.getMonth()]} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${usec} ${d.getFullYear()})`;
}

const onOff = (b: boolean): string => (b ? 'true' : 'false');

/** keepalived.data: global definitions and the VRRP topology (the fields haldir has). */
export function keepalivedData(model: NodeModel, s: NodeStatus): string {
  const g = model.global;
  const v = g.vrrp;
  const out: string[] = [
    '------< Global definitions >------',
    ' Network namespace = (default)',
    ` Router ID = ${g.routerId ?? model.node}`,
    ` Checkers log all failures = ${onOff(g.checkerLogAllFailures ?? false)}`,
    ` Dynamic interfaces = ${onOff(g.dynamicInterfaces ?? false)}`,
    ...(g.defaultInterface ? [` Default interface = ${g.defaultInterface}`] : []),
    ` LVS flush = ${onOff(g.lvs.flush)}`,
    ` VRRP IPv4 mcast group = ${v.mcastGroup4}`,
    ` VRRP IPv6 mcast group = ${v.mcastGroup6}`,
    ` Gratuitous ARP delay = ${v.garpMasterDelay}`,
    ` Gratuitous ARP repeat = ${v.garpMasterRepeat}`,
    ` Gratuitous ARP refresh timer = ${v.garpMasterRefresh}`,
    ` Gratuitous ARP refresh repeat = ${v.garpMasterRefreshRepeat}`,
    ` Gratuitous ARP lower priority delay = ${v.garpLowerPrioDelay ?? v.garpMasterDelay}`,
    ` Gratuitous ARP lower priority repeat = ${v.garpLowerPrioRepeat ?? v.garpMasterRepeat}`,
    ` Num adverts before down = ${v.downTimerAdverts}`,
    ` Send advert after receive lower priority advert = ${onOff(!v.lowerPrioNoAdvert)}`,
    ` Send advert after receive higher priority advert = ${onOff(v.higherPrioSendAdvert)}`,
    ` Gratuitous ARP interval = ${v.garpInterval.toFixed(6)}`,
    ` Gratuitous NA interval = ${v.gnaInterval.toFixed(6)}`,
    ` VRRP default protocol version = ${v.version}`,
    ` VRRP check unicast_src = ${onOff(v.checkUnicastSrc)}`,
    ` VRRP skip check advert addresses = ${onOff(v.skipCheckAdvAddr)}`,
    ` VRRP strict mode = ${onOff(v.strict)}`,
    ` Script security ${g.enableScriptSecurity ? 'enabled' : 'disabled'}`,
    '------< VRRP Topology >------',
  ];
  for (const { cfg, st } of pair(model, s)) {
    const held = st.state === 'MASTER';
    const masterDownUs = Math.round(cfg.downTimerAdverts * cfg.advertInt * 1e6 + ((256 - st.effectivePriority) * (cfg.version === 2 ? 1 : cfg.advertInt) * 1e6) / 256);
    out.push(
      ` VRRP Instance = ${cfg.name}`,
      `   VRRP Version = ${cfg.version}`,
      `   State = ${st.state}`,
      `   Flags: ${st.resigned ? 'resigned' : 'none'}`,
      `   Wantstate = ${st.state}`,
      `   Last transition = ${kaTime(st.lastTransition)}`,
      `   Master down timer = ${masterDownUs} usecs`,
      `   Interface = ${cfg.interface}`,
      ...(cfg.unicastSrcIp ?? cfg.mcastSrcIp ? [`   Using src_ip = ${cfg.unicastSrcIp ?? cfg.mcastSrcIp}`] : []),
      ...(cfg.unicastPeers.length ? ['   Unicast Peer :', ...cfg.unicastPeers.map((p) => `     ${p.address}`)] : [`   Multicast address ${cfg.mcastDstIp ?? (cfg.family === 4 ? v.mcastGroup4 : v.mcastGroup6)}`]),
      `   Gratuitous ARP delay = ${cfg.garpMasterDelay}`,
      `   Gratuitous ARP repeat = ${cfg.garpMasterRepeat}`,
      `   Gratuitous ARP refresh = ${cfg.garpMasterRefresh}`,
      `   Gratuitous ARP refresh repeat = ${cfg.garpMasterRefreshRepeat}`,
      `   Gratuitous ARP lower priority delay = ${cfg.garpLowerPrioDelay ?? cfg.garpMasterDelay}`,
      `   Gratuitous ARP lower priority repeat = ${cfg.garpLowerPrioRepeat ?? cfg.garpMasterRepeat}`,
      `   Down timer adverts = ${cfg.downTimerAdverts}`,
      `   Send advert after receive lower priority advert = ${onOff(!cfg.lowerPrioNoAdvert)}`,
      `   Send advert after receive higher priority advert = ${onOff(cfg.higherPrioSendAdvert)}`,
      `   Virtual Router ID = ${cfg.vrid}`,
      `   Priority = ${cfg.priority}`,
      `   Effective priority = ${st.effectivePriority}`,
      `   Total priority = ${st.effectivePriority}`,
      `   Advert interval = ${cfg.version === 2 ? `${cfg.advertInt} sec` : `${Math.round(cfg.advertInt * 1000)} milli-sec`}`,
      `   Accept = ${cfg.accept || !cfg.strictMode ? 'enabled' : 'disabled'}`,
      `   Preempt = ${cfg.nopreempt ? 'disabled' : 'enabled'}`,
      ...(cfg.preemptDelay > 0 ? [`   Preempt delay = ${cfg.preemptDelay} secs`] : []),
      `   Promote_secondaries = ${cfg.promoteSecondaries ? 'enabled' : 'disabled'}`,
      ...(cfg.version === 2 && cfg.auth && cfg.auth.pass !== '' ? [`   Authentication type = ${cfg.auth.type === 'AH' ? 'IPSEC_AH' : 'SIMPLE_PASSWORD'}`, '   Password = ********'] : []),
      ...(cfg.vips.length ? [`   Virtual IP (${cfg.vips.length}):`, ...cfg.vips.map((x) => `     ${formatVip(x, cfg, held)}`)] : []),
      ...(cfg.excludedVips.length ? [`   Virtual IP Excluded (${cfg.excludedVips.length}):`, ...cfg.excludedVips.map((x) => `     ${formatVip(x, cfg, held)}`)] : []),
      `   Using smtp notification = ${cfg.smtpAlert ? 'yes' : 'no'}`,
      `   Notify priority changes = ${onOff(cfg.notifyPriorityChanges)}`,
    );
  }
  return out.join('\n') + '\n';
}

/** keepalived_check.data: the LVS topology with each real server's weights and health. */
export function keepalivedCheckData(model: NodeModel, s: NodeStatus): string {
  const out: string[] = ['------< LVS Topology >------'];
  for (const vs of model.virtualServers) {
    const view = s.services.find((x) => x.name === formatVs(vs));
    const a = vs.address;
    out.push(' ------< Virtual server >------');
    if (a.kind === 'group') out.push(` VS GROUP = ${formatVs(vs)}`);
    else if (a.kind === 'fwmark') out.push(` VS FWMARK = ${a.fwmark}`);
    else out.push(` VS VIP = ${a.address}, VPORT = ${a.port}`);
    out.push(
      `   Address family = inet${(a.kind === 'ip' ? a.family : a.kind === 'fwmark' ? (a.family ?? vs.ipFamily ?? 4) : (vs.ipFamily ?? 4)) === 6 ? '6' : ''}`,
      `   delay_loop = ${vs.delayLoop}`,
      `   lvs_sched = ${vs.scheduler}`,
      ...(vs.persistenceTimeout ? [`   persistence timeout = ${vs.persistenceTimeout}`] : []),
      `   protocol = ${vs.protocol}`,
      `   alpha is ${vs.alpha ? 'ON' : 'OFF'}, omega is ${vs.omega ? 'ON' : 'OFF'}`,
      `   quorum = ${vs.quorum}, hysteresis = ${vs.hysteresis}`,
      `   lb_kind = ${vs.forwarding.kind}`,
    );
    for (const rs of vs.realServers) {
      const r = view?.realServers.find((x) => x.key === rsKey(rs));
      out.push(
        '   ------< Real server >------',
        `   RIP = ${rs.address}, RPORT = ${rs.port ?? 0}, WEIGHT = ${rs.weight} EFF WEIGHT = ${r?.weight ?? 0}`,
        `   Alpha is ${rs.alpha ? 'ON' : 'OFF'}`,
        `   Inhibit on failure is ${rs.inhibitOnFailure ? 'ON' : 'OFF'}`,
        `   initial weight = ${rs.weight}`,
        `   effective weight = ${r?.weight ?? 0}`,
        `   alive = ${r?.healthy ? 1 : 0}`,
        `   num failed checkers = ${r ? r.checks.filter((c) => !c.up).length : 0}`,
        `   RS set = ${r?.inTable ? 1 : 0}`,
      );
    }
  }
  return out.join('\n') + '\n';
}
