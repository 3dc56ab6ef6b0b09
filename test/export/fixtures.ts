// Test fixtures for plan and keepalived export: the seed cluster's node models
// (lb1–lb4, /work/shared/seed) and a rich model touching most of the model,
// built only through the model constructors so defaults match the front ends.
import { newChecker, newNodeModel, newRealServer, newVip, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';
import { defaultGlobals } from '../../src/model/defaults.js';
import { makeScript } from '../../src/model/script.js';
import type { Checker, HttpChecker, NodeModel, VirtualServer } from '../../src/model/types.js';

export const SEED_NODES = ['192.168.2.11', '192.168.2.12', '192.168.2.13', '192.168.2.14'];
export const SEED_PASSWORD = 'supersecret';

/** The seed's lbN (1–4): VI_1 on eth0, VRID 51, priority 101 − N, DR rr on 80/443/8443/6443. */
export function seedNode(n: 1 | 2 | 3 | 4 = 1): NodeModel {
  const g = defaultGlobals();
  g.routerId = `LB${n}`;
  const m = newNodeModel(`lb${n}`, g);
  const vi = newVrrpInstance('VI_1', 'eth0', 51, g);
  vi.state = n === 1 ? 'MASTER' : 'BACKUP';
  vi.priority = 101 - n;
  vi.advertInt = 1;
  vi.auth = { type: 'PASS', pass: SEED_PASSWORD };
  const vip = newVip('192.168.2.100/24');
  vip.dev = 'eth0';
  vip.label = 'eth0:vip';
  vi.vips.push(vip);
  m.vrrpInstances.push(vi);
  for (const port of [80, 443, 8443, 6443]) {
    const vs = newVirtualServer({ kind: 'ip', address: '192.168.2.100', family: 4, port });
    vs.delayLoop = 3;
    vs.scheduler = 'rr';
    vs.forwarding = { kind: 'DR' };
    vs.protocol = 'TCP';
    for (const addr of SEED_NODES) {
      const rs = newRealServer(addr, port);
      rs.weight = 1;
      if (port === 80) {
        const c = newChecker('HTTP_GET', { delayLoop: 3, connectTimeout: 2, retry: 2, delayBeforeRetry: 1 }) as HttpChecker;
        c.urls.push({ path: '/healthz', statusCodes: [{ from: 200, to: 200 }], regexNoMatch: false });
        rs.checkers.push(c);
      } else {
        rs.checkers.push(newChecker('TCP_CHECK', { delayLoop: 3, connectTimeout: 2, retry: 2, delayBeforeRetry: 1 }));
      }
      vs.realServers.push(rs);
    }
    m.virtualServers.push(vs);
  }
  return m;
}

/** The checker interface whose `type` admits T (HttpChecker covers both HTTP_GET and SSL_GET). */
type CheckerOf<T extends Checker['type']> = Checker extends infer C ? (C extends { type: infer U } ? (T extends U ? C : never) : never) : never;

function checker<T extends Checker['type']>(type: T, delayLoop: number, extra: Partial<CheckerOf<T>> = {}): Checker {
  return Object.assign(newChecker(type, { delayLoop }), extra);
}

/**
 * A model that sets most fields: non-default globals, vrrp_script and
 * track_file, a sync group of two instances (one v3 IPv6 with unicast peers),
 * NAT with port mapping, TUN/GUE, fwmark, a virtual_server_group, and every
 * checker type.
 */
export function richModel(): NodeModel {
  const g = defaultGlobals();
  g.routerId = 'edge-1';
  g.notificationEmail = ['ops@example.com', 'noc@example.com'];
  g.notificationEmailFrom = 'keepalived@example.com';
  g.smtpServer = { host: '127.0.0.1', port: 2525 };
  g.smtpConnectTimeout = 15;
  g.enableScriptSecurity = true;
  g.scriptUser = { user: 'root' };
  g.vrrp.garpMasterDelay = 10;
  g.vrrp.garpMasterRefresh = 60;
  g.vrrp.minGarp = true;
  g.vrrp.higherPrioSendAdvert = true;
  g.lvs.flush = true;
  // eth1–eth3 need not exist where the export is checked. The vrrp_script's
  // program must exist (keepalived -t checks it), hence /usr/bin/timeout.
  g.dynamicInterfaces = true;
  g.startupScript = { ...makeScript('/usr/local/sbin/fwmarks.sh start'), timeout: 20 };
  g.vrrpNotifyFifo = { path: '/run/haldir/vrrp.fifo', script: makeScript('/usr/local/bin/fifo-reader --vrrp') };
  g.lvs.flushOnStop = 'vs';
  g.lvs.syncDaemon = { interface: 'eth0', instance: 'VI_EXT', syncId: 60, port: 8848 };
  g.vrrp.garpLowerPrioRepeat = 2;
  g.lvs.timeouts = { tcp: 900, tcpfin: 120, udp: 300 };
  const m = newNodeModel('edge-1', g);

  m.vrrpScripts.push({
    name: 'chk_nginx',
    script: makeScript("/usr/bin/timeout 1 check-port 'local nginx' 80", 'root'),
    interval: 2,
    timeout: 1,
    weight: -20,
    weightReverse: false,
    rise: 2,
    fall: 3,
    initFail: true,
  });
  m.trackFiles.push({ name: 'maint', file: '/run/haldir/maint weight', weight: -50, weightReverse: false, initFile: { value: 0, overwrite: false } });

  const v4 = newVrrpInstance('VI_EXT', 'eth0', 60, g);
  v4.state = 'MASTER';
  v4.priority = 150;
  v4.advertInt = 2;
  v4.auth = { type: 'PASS', pass: 'p#ss w!' };
  const a = newVip('203.0.113.10/24');
  a.dev = 'eth0';
  a.label = 'eth0:ext';
  a.broadcast = '203.0.113.255';
  a.scope = 'global';
  v4.vips.push(a, newVip('203.0.113.11/24'));
  const ex = newVip('198.51.100.5/32');
  ex.dev = 'eth2';
  ex.noPrefixRoute = true;
  v4.excludedVips.push(ex);
  v4.trackInterfaces.push({ name: 'eth1', weight: -10 }, { name: 'eth2' });
  v4.trackScripts.push({ name: 'chk_nginx', weight: -30, weightReverse: false });
  v4.trackFiles.push({ name: 'maint', weight: -60, weightReverse: true });
  v4.preemptDelay = 0;
  v4.garpMasterRepeat = 2;
  v4.notify = {
    master: makeScript('/usr/local/bin/vrrp-notify.sh master VI_EXT'),
    backup: makeScript('/usr/local/bin/vrrp-notify.sh backup'),
    fault: makeScript('/usr/local/bin/vrrp-fault.sh', 'keepalived_script', 'nogroup'),
  };
  v4.notify.masterRxLowerPri = makeScript('/usr/local/bin/reclaim.sh');
  v4.notify.stop = makeScript('/usr/local/bin/vrrp-notify.sh stop');
  v4.notifyPriorityChanges = true;
  v4.mcastSrcIp = '203.0.113.2';
  v4.promoteSecondaries = true;
  v4.dontTrackPrimary = true;
  v4.skipCheckAdvAddr = true;
  v4.lowerPrioNoAdvert = true;
  v4.garpLowerPrioDelay = 3;
  v4.smtpAlert = true;

  const v6 = newVrrpInstance('VI_V6', 'eth1', 61, g);
  v6.version = 3;
  v6.family = 6;
  v6.priority = 120;
  v6.advertInt = 0.5;
  v6.nopreempt = true;
  v6.accept = true;
  v6.vips.push(newVip('fe80::1/64'), newVip('2001:db8:10::10/64'));
  v6.unicastSrcIp = '2001:db8:10::2';
  v6.unicastPeers.push({ address: '2001:db8:10::3' }, { address: '2001:db8:10::4', minTtl: 250, maxTtl: 255 });
  v6.unicastTtl = 255;
  v6.unicastFaultNoPeer = true;
  v6.downTimerAdverts = 4;
  v6.notify = { generic: makeScript('/usr/local/bin/notify-any'), deleted: makeScript('/usr/local/bin/notify-deleted') };
  v6.v3ChecksumAsV2 = true;
  v6.debug = 1;
  m.vrrpInstances.push(v4, v6);

  m.syncGroups.push({
    name: 'SG_EDGE',
    members: ['VI_EXT', 'VI_V6'],
    trackInterfaces: [{ name: 'eth3' }],
    trackScripts: [],
    trackFiles: [],
    notify: { master: makeScript('/usr/local/bin/sg-master.sh') },
    globalTracking: false,
    trackingWeight: true,
    notifyPriorityChanges: false,
  });

  // NAT with port mapping, persistence, quorum, sorry server, HTTP + SMTP + MISC checkers.
  const nat = newVirtualServer({ kind: 'ip', address: '203.0.113.10', family: 4, port: 80 });
  nat.delayLoop = 5;
  nat.scheduler = 'wlc';
  nat.forwarding = { kind: 'NAT' };
  nat.persistenceTimeout = 300;
  nat.persistenceGranularity = '255.255.255.0';
  nat.quorum = 2;
  nat.hysteresis = 1;
  nat.quorumUp = makeScript('/usr/local/bin/quorum.sh up');
  nat.quorumDown = makeScript('/usr/local/bin/quorum.sh down');
  nat.sorryServer = { address: '10.0.0.99', port: 8080, inhibit: true };
  nat.inhibitOnFailure = true;
  nat.virtualhost = 'www.example.com';
  for (const [i, addr] of ['10.0.0.21', '10.0.0.22'].entries()) {
    const rs = newRealServer(addr, 8080);
    rs.weight = 10 + i;
    rs.inhibitOnFailure = true;
    rs.upperThreshold = 1000;
    rs.lowerThreshold = 800;
    rs.notifyUp = makeScript(`/usr/local/bin/rs.sh up ${addr}`);
    rs.notifyDown = makeScript(`/usr/local/bin/rs.sh down ${addr}`);
    const http = checker('HTTP_GET', 5, { retry: 3, delayBeforeRetry: 2, connectTimeout: 3, rise: 2, fall: 3, httpProtocol: '1.1', fastRecovery: true }) as HttpChecker;
    http.urls.push(
      { path: '/healthz', statusCodes: [{ from: 200, to: 299 }, { from: 301, to: 301 }], regexNoMatch: false },
      { path: '/ready?x=1', statusCodes: [], digest: '9b3a0c85a887a256d6939da88aabd8cd', virtualhost: 'ready.example.com', regex: 'ok|ready', regexNoMatch: true, regexOptions: ['caseless'], regexMaxOffset: 1024 },
    );
    // As the front ends build it: virtualhost inherited down to the checker.
    rs.virtualhost = nat.virtualhost;
    http.virtualhost = nat.virtualhost;
    rs.checkers.push(http);
    rs.checkers.push(checker('SMTP_CHECK', 5, { heloName: 'lb.example.com', connectPort: 25, hosts: [{ connectIp: '10.0.0.50', connectPort: 587 }] }));
    rs.checkers.push(checker('MISC_CHECK', 5, { script: makeScript(`/usr/local/bin/deep-check ${addr} 'two words'`), timeout: 4, dynamic: true }));
    nat.realServers.push(rs);
  }

  // TUN over GUE, sh with flags, SSL_GET with SNI + DNS + UDP + PING checkers.
  const tun = newVirtualServer({ kind: 'ip', address: '203.0.113.11', family: 4, port: 443 });
  tun.delayLoop = 10;
  tun.scheduler = 'sh';
  tun.schedFlags = { shPort: true, shFallback: true };
  tun.forwarding = { kind: 'TUN', tunType: 'gue', tunPort: 6080, tunCsum: 'csum' };
  tun.alpha = true;
  tun.sorryServer = { address: '198.51.100.99', port: 443, inhibit: false, forwarding: { kind: 'TUN', tunType: 'gre' } };
  tun.smtpAlert = false;
  const t1 = newRealServer('198.51.100.21', 443);
  const ssl = checker('SSL_GET', 10, { enableSni: true, alpha: true }) as HttpChecker;
  ssl.virtualhost = 'api.example.com';
  ssl.urls.push({ path: '/', statusCodes: [{ from: 200, to: 204 }], regexNoMatch: false });
  t1.alpha = true;
  t1.checkers.push(ssl, checker('PING_CHECK', 10, { alpha: true }));
  const t2 = newRealServer('198.51.100.22', 443);
  t2.forwarding = { kind: 'TUN', tunType: 'ipip' };
  t2.alpha = true;
  t2.checkers.push(checker('TCP_CHECK', 10, { warmup: 0, alpha: true, bindTo: '203.0.113.2', logAllFailures: true }));
  tun.realServers.push(t1, t2);

  // UDP DNS service with DNS and UDP checkers, one-packet scheduling.
  const dns = newVirtualServer({ kind: 'ip', address: '203.0.113.10', family: 4, port: 53 });
  dns.protocol = 'UDP';
  dns.scheduler = 'rr';
  dns.forwarding = { kind: 'DR' };
  dns.ops = true;
  dns.delayLoop = 6;
  const d1 = newRealServer('203.0.113.31', 53);
  d1.checkers.push(
    checker('DNS_CHECK', 6, { queryType: 'A', name: 'probe.example.com' }),
    checker('UDP_CHECK', 6, { payload: 'deadbeef', requireReply: '', minReplyLength: 4, maxReplyLength: 512 }),
  );
  dns.realServers.push(d1);

  // fwmark service with persistence and a FILE_CHECK.
  const fw = newVirtualServer({ kind: 'fwmark', fwmark: 7, family: 4 });
  fw.scheduler = 'lc';
  fw.forwarding = { kind: 'DR' };
  fw.persistenceTimeout = 600;
  fw.delayLoop = 15;
  fw.persistenceGranularity = '255.255.255.0';
  fw.hysteresis = 0;
  fw.ipFamily = 4;
  const f1 = newRealServer('203.0.113.41', undefined);
  f1.virtualhost = 'fw.example.com';
  f1.smtpAlert = true;
  f1.checkers.push(checker('FILE_CHECK', 15, { trackFile: 'maint', weight: 2, weightReverse: false }));
  fw.realServers.push(f1);

  // virtual_server_group: an address, a range and an IPv6 VIP; IPv4 real servers use DR.
  m.virtualServerGroups.push({
    name: 'web_vips',
    entries: [
      { kind: 'ip', address: '203.0.113.20', family: 4, port: 8443 },
      { kind: 'range', address: '203.0.113.21', rangeEnd: 23, family: 4, port: 8443 },
    ],
  });
  const grp = newVirtualServer({ kind: 'group', group: 'web_vips' });
  grp.scheduler = 'wrr';
  grp.forwarding = { kind: 'DR' };
  grp.delayLoop = 4;
  grp.schedFlags = { hashed: true, flag1: true };
  grp.haSuspend = true;
  grp.omega = true;
  grp.alpha = true;
  grp.inhibitOnFailure = true;
  const g1 = newRealServer('10.0.1.11', 8443);
  g1.weight = 3;
  // Explicitly not what the virtual server sets: the export must say `no`.
  g1.alpha = false;
  g1.inhibitOnFailure = false;
  g1.checkers.push(checker('TCP_CHECK', 4, { connectIp: '10.0.1.111', connectPort: 9443, bindPort: 40000, bindIf: 'eth0', fwmark: 9, retry: 2 }));
  grp.realServers.push(g1);

  // IPv6 service.
  const six = newVirtualServer({ kind: 'ip', address: '2001:db8:10::10', family: 6, port: 80 });
  six.forwarding = { kind: 'DR' };
  six.delayLoop = 3;
  six.scheduler = 'mh';
  six.schedFlags = { mhPort: true };
  six.persistenceTimeout = 120;
  six.persistenceGranularity = '64';
  six.persistenceEngine = 'sip';
  six.protocol = 'UDP';
  const s1 = newRealServer('2001:db8:20::11', 80);
  s1.checkers.push(checker('UDP_CHECK', 3));
  six.realServers.push(s1);

  const services: VirtualServer[] = [nat, tun, dns, fw, grp, six];
  m.virtualServers.push(...services);
  return m;
}
