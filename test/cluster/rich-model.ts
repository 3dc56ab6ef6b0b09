// A node model with every field of every object set to a non-default value,
// built through the constructors: the round-trip tests' worst case.
import { newChecker, newNodeModel, newRealServer, newVip, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';
import { defaultGlobals } from '../../src/model/defaults.js';
import { makeScript } from '../../src/model/script.js';
import type { Checker, CheckerType, NodeModel, VrrpNotify } from '../../src/model/types.js';

const notify = (): VrrpNotify => ({
  master: makeScript('/etc/haldir/master.sh arg'),
  backup: makeScript('/etc/haldir/backup.sh', 'nobody'),
  fault: makeScript("/bin/fault 'two words'", 'nobody', 'nogroup'),
  stop: makeScript('/bin/stop'),
  deleted: makeScript('/bin/deleted'),
  masterRxLowerPri: makeScript('/bin/lower'),
  generic: { cmd: '/bin/generic x', argv: ['/bin/generic', 'x', 'extra'] },
});

function common(c: Checker): void {
  Object.assign(c, {
    connectIp: '10.9.0.1', connectPort: 8081, bindTo: '10.9.0.2', bindPort: 4000, bindIf: 'eth3', fwmark: 9,
    alpha: true, logAllFailures: true, warmup: 4, rise: 3, fall: 4,
  });
}

function checker(type: CheckerType, delayLoop: number): Checker {
  const c = newChecker(type, { delayLoop: delayLoop + 1, connectTimeout: 7, retry: 5, delayBeforeRetry: 6 });
  common(c);
  switch (c.type) {
    case 'HTTP_GET':
    case 'SSL_GET':
      Object.assign(c, { virtualhost: 'www.example.com', httpProtocol: '1.1', enableSni: true, sniName: 'sni.example.com', fastRecovery: true, tlsCompliant: true });
      c.urls = [
        { path: '/a', statusCodes: [], regexNoMatch: false },
        {
          path: '/b', digest: 'abcdef', statusCodes: [{ from: 200, to: 204 }, { from: 301, to: 301 }], virtualhost: 'v.example.com',
          regex: '^ok', regexNoMatch: true, regexOptions: ['caseless'], regexMinOffset: 1, regexMaxOffset: 90, tlsCompliant: false,
        },
      ];
      break;
    case 'MISC_CHECK':
      Object.assign(c, { script: makeScript('/bin/check 1', 'checker', 'checkers'), timeout: 3, dynamic: true });
      break;
    case 'DNS_CHECK':
      Object.assign(c, { queryType: 'A', name: 'example.com' });
      break;
    case 'UDP_CHECK':
      Object.assign(c, { payload: 'deadbeef', requireReply: 'beef', minReplyLength: 2, maxReplyLength: 64 });
      break;
    case 'SMTP_CHECK':
      Object.assign(c, { heloName: 'mx.example.com' });
      c.hosts = [{ connectIp: '10.9.9.9', connectPort: 2525, bindTo: '10.9.0.3', bindPort: 4001, bindIf: 'eth4', connectTimeout: 3, fwmark: 2 }, {}];
      break;
    case 'FILE_CHECK':
      Object.assign(c, { trackFile: 'tf1', weight: -10, weightReverse: true });
      break;
    default:
      break;
  }
  return c;
}

export function richModel(node = 'lb9'): NodeModel {
  const g = defaultGlobals();
  Object.assign(g, {
    routerId: 'LB9', notificationEmail: ['a@example.com', 'b@example.com'], notificationEmailFrom: 'lb@example.com',
    smtpServer: { host: 'smtp.example.com', port: 587 }, smtpHeloName: 'lb9.example.com', smtpConnectTimeout: 20,
    smtpAlert: true, smtpAlertVrrp: false, smtpAlertChecker: true, checkerLogAllFailures: true, noEmailFaults: true,
    defaultInterface: 'eth9', scriptUser: { user: 'keepalived_script', group: 'nogroup' }, enableScriptSecurity: true,
    startupScript: { ...makeScript('/bin/start now'), timeout: 10 }, shutdownScript: makeScript('/bin/stop', 'root'),
    maxAutoPriority: 50, dynamicInterfaces: true,
    notifyFifo: { path: '/run/fifo', script: makeScript('/bin/fifo') }, vrrpNotifyFifo: { path: '/run/vfifo' },
    lvsNotifyFifo: { path: '/run/lfifo', script: makeScript('/bin/lfifo', 'u') },
  });
  Object.assign(g.vrrp, {
    mcastGroup4: '224.0.0.19', mcastGroup6: 'ff02::13', garpMasterDelay: 2, garpMasterRepeat: 3, garpMasterRefresh: 60,
    garpMasterRefreshRepeat: 2, garpLowerPrioDelay: 4, garpLowerPrioRepeat: 6, garpInterval: 0.001, gnaInterval: 0.002,
    minGarp: true, downTimerAdverts: 5, version: 3, checkUnicastSrc: true, skipCheckAdvAddr: true, strict: true,
    lowerPrioNoAdvert: true, higherPrioSendAdvert: true, v3ChecksumAsV2: true, startupDelay: 5, logUnknownVrids: true,
  });
  g.lvs = {
    flush: true, flushOnStop: 'vs', timeouts: { tcp: 900, tcpfin: 120, udp: 300 },
    syncDaemon: { interface: 'eth1', instance: 'VI_1', syncId: 7, maxLen: 1400, port: 8848, ttl: 2, group: '224.0.0.81' },
  };
  const m = newNodeModel(node, g);
  m.vrrpScripts = [
    { name: 'chk_nginx', script: makeScript('/usr/bin/pgrep nginx', 'www'), interval: 2, timeout: 1, weight: -20, weightReverse: true, rise: 2, fall: 3, initFail: true },
    { name: 'chk_min', script: makeScript('/bin/true'), interval: 1, weight: 0, weightReverse: false, rise: 1, fall: 1, initFail: false },
  ];
  m.trackFiles = [
    { name: 'tf1', file: '/run/tf1', weight: 5, weightReverse: true, initFile: { value: 3, overwrite: true } },
    { name: 'tf2', file: '/run/tf2', weight: 1, weightReverse: false, initFile: { value: 0, overwrite: false } },
  ];

  const v = newVrrpInstance('VI_1', 'eth0', 51, g);
  const vip6 = newVip('2001:db8::10/64');
  Object.assign(vip6, { dev: 'eth0', label: 'eth0:six', scope: 'global', broadcast: '::', peer: '2001:db8::11', noPrefixRoute: true, homeAddress: true, noDad: true, preferredLft: 0 });
  const odd = newVip('10.0.0.50');
  Object.assign(odd, { family: 6, label: 'has space', noDad: false });
  Object.assign(v, {
    state: 'MASTER', priority: 150, advertInt: 0.5, version: 2, family: 6, auth: { type: 'AH', pass: '12345' },
    vips: [newVip('192.168.2.100/24'), vip6, odd], excludedVips: [newVip('10.0.0.60/32')],
    unicastSrcIp: '10.0.0.1', unicastPeers: [{ address: '10.0.0.2' }, { address: '10.0.0.3', minTtl: 1, maxTtl: 5 }],
    unicastTtl: 3, unicastFaultNoPeer: true, checkUnicastSrc: false, mcastSrcIp: '10.0.0.1', mcastDstIp: '224.0.0.20',
    trackInterfaces: [{ name: 'eth1' }, { name: 'eth2', weight: -10 }], trackScripts: [{ name: 'chk_nginx', weight: 10, weightReverse: true }],
    trackFiles: [{ name: 'tf1' }], dontTrackPrimary: true, nopreempt: true, preemptDelay: 30, accept: true,
    skipCheckAdvAddr: false, strictMode: false, v3ChecksumAsV2: false, nativeIpv6: true, promoteSecondaries: true,
    downTimerAdverts: 4, garpMasterDelay: 1, garpMasterRepeat: 2, garpMasterRefresh: 0, garpMasterRefreshRepeat: 1,
    garpLowerPrioDelay: 9, garpLowerPrioRepeat: 8, lowerPrioNoAdvert: false, higherPrioSendAdvert: false,
    notify: notify(), notifyPriorityChanges: true, smtpAlert: false, debug: 2, lvsSyncDaemonInterface: 'eth1',
  });
  const v2 = newVrrpInstance('VI_2', '', 52, g);
  m.vrrpInstances = [v, v2];
  m.syncGroups = [{
    name: 'G1', members: ['VI_1', 'VI_2'], trackInterfaces: [{ name: 'eth5' }], trackScripts: [{ name: 'chk_min', weight: 0 }],
    trackFiles: [{ name: 'tf2', weightReverse: false }], notify: notify(), smtpAlert: true, globalTracking: true,
    trackingWeight: true, notifyPriorityChanges: true,
  }];
  m.virtualServerGroups = [{
    name: 'VSG', entries: [
      { kind: 'ip', address: '10.0.0.100', port: 80 }, { kind: 'range', address: '10.0.0.101', rangeEnd: 110, port: 443, family: 4 },
      { kind: 'fwmark', fwmark: 5 }, { kind: 'ip', address: '10.0.0.120', rangeEnd: 3 },
    ],
  }];

  const vs = newVirtualServer({ kind: 'ip', address: '192.168.2.100', family: 4, port: 80 });
  Object.assign(vs, {
    protocol: 'UDP', scheduler: 'mh', schedFlags: { hashed: true, flag1: true, flag2: false, flag3: true, shPort: true, shFallback: true, mhPort: true, mhFallback: false },
    forwarding: { kind: 'TUN', tunType: 'gue', tunPort: 6080, tunCsum: 'remcsum' }, delayLoop: 7,
    persistenceTimeout: 300, persistenceGranularity: '255.255.255.0', persistenceEngine: 'sip', ops: true, haSuspend: true,
    virtualhost: 'vs.example.com', alpha: true, omega: true, quorum: 2, hysteresis: 1, quorumUp: makeScript('/bin/up'),
    quorumDown: makeScript('/bin/down', 'u', 'g'),
    sorryServer: { address: '10.0.0.200', port: 8080, forwarding: { kind: 'NAT' }, inhibit: true },
    inhibitOnFailure: true, smtpAlert: true, ipFamily: 4,
  });
  const types: CheckerType[] = ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'PING_CHECK', 'SMTP_CHECK', 'FILE_CHECK'];
  const rs1 = newRealServer('10.0.1.1', 8080);
  Object.assign(rs1, {
    weight: 3, forwarding: { kind: 'TUN', tunType: 'gre' }, upperThreshold: 100, lowerThreshold: 10, inhibitOnFailure: true,
    alpha: true, notifyUp: makeScript('/bin/rs up'), notifyDown: makeScript('/bin/rs down'), smtpAlert: false, virtualhost: 'rs.example.com',
  });
  rs1.checkers = types.map((t) => checker(t, vs.delayLoop));
  const rs2 = newRealServer('2001:db8::20', undefined);
  rs2.checkers = [newChecker('TCP_CHECK', { delayLoop: vs.delayLoop })];
  const rs3 = newRealServer('10.0.1.3', 80);
  vs.realServers = [rs1, rs2, rs3];

  const fw = newVirtualServer({ kind: 'fwmark', fwmark: 42, family: 6 });
  fw.realServers = [newRealServer('2001:db8::30', undefined)];
  const grp = newVirtualServer({ kind: 'group', group: 'VSG' });
  grp.realServers = [newRealServer('10.0.1.4', 443)];
  const v6 = newVirtualServer({ kind: 'ip', address: '2001:db8::100', family: 6, port: 53 });
  const odd4 = newVirtualServer({ kind: 'ip', address: '10.0.0.100', family: 6, port: 0 });
  const fw4 = newVirtualServer({ kind: 'fwmark', fwmark: 43 });
  m.virtualServers = [vs, fw, grp, v6, odd4, fw4];
  return m;
}
