// Semantic validation: every rule has a case that must trigger it (positive)
// and a near miss that must not (no false positive); the seed node is clean.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { makeScript } from '../../src/model/script.js';
import { newSyncGroup } from '../../src/model/construct.js';
import type { NodeModel, SyncGroup, VirtualServer } from '../../src/model/types.js';
import { RULES, validateNode, type ValidateOptions } from '../../src/model/validate.js';
import {
  addInstance,
  checker,
  FILE,
  firstCk,
  firstRs,
  newScript,
  newTrackFile,
  realServer,
  seedNode,
  seedOpts,
  service,
  src,
  VIP,
  vi1,
  vip,
  vsOn,
} from './fixtures.js';

interface Case {
  code: string;
  name: string;
  mutate(m: NodeModel, o: ValidateOptions): void;
  /** Extra checks on the diagnostics of `code` (positive cases). */
  expect?(ds: Diagnostic[]): void;
}

function run(c: Case): Diagnostic[] {
  const m = seedNode();
  const o = seedOpts();
  c.mutate(m, o);
  return validateNode(m, o).filter((d) => d.code === c.code);
}

function noOpts(o: ValidateOptions): void {
  delete o.interfaces;
  delete o.localAddresses;
}

function fwmarkService(m: NodeModel, withPort: boolean): VirtualServer {
  const vs = service(80);
  vs.address = { kind: 'fwmark', fwmark: 1 };
  vs.persistenceTimeout = 360;
  vs.realServers = [realServer('192.168.2.11', withPort ? 80 : undefined, checker('TCP_CHECK'))];
  m.virtualServers.push(vs);
  return vs;
}

function syncGroup(m: NodeModel, name: string, members: string[]): SyncGroup {
  const g: SyncGroup = { ...newSyncGroup(name, members), src: src('members') };
  m.syncGroups.push(g);
  return g;
}

function addVi2(m: NodeModel, iface = 'eth0', vrid = 52) {
  const i = addInstance(m, 'VI_2', iface, vrid);
  i.vips.push(vip('192.168.2.101/24'));
  return i;
}

const POSITIVE: Case[] = [
  { code: 'vrid-range', name: 'VRID 0', mutate: (m) => void (vi1(m).vrid = 0) },
  {
    code: 'vrid-duplicate',
    name: 'two instances with VRID 51 on eth0',
    mutate: (m) => void addVi2(m, 'eth0', 51),
    expect: (ds) => {
      assert.equal(ds.length, 1);
      assert.match(ds[0]!.message, /VI_1 and VI_2/);
      assert.equal(ds[0]!.block, 'vrrp_instance VI_2');
      assert.ok(ds[0]!.related?.[0]?.loc, 'points at the first instance');
    },
  },
  {
    code: 'instance-duplicate',
    name: 'VI_1 twice',
    mutate: (m) => void addInstance(m, 'VI_1', 'eth0', 52),
    expect: (ds) => assert.equal(ds[0]!.related?.length, 1),
  },
  { code: 'priority-range', name: 'priority 0', mutate: (m) => void (vi1(m).priority = 0) },
  { code: 'priority-range', name: 'priority 256', mutate: (m) => void (vi1(m).priority = 256) },
  {
    code: 'priority-owner-mismatch',
    name: 'priority 255, VIP not local',
    mutate: (m) => void (vi1(m).priority = 255),
    expect: (ds) => assert.match(ds[0]!.message, /192\.168\.2\.100/),
  },
  {
    code: 'priority-owner-mismatch',
    name: 'priority 255, only localAddresses known',
    mutate: (m, o) => {
      vi1(m).priority = 255;
      delete o.interfaces;
    },
  },
  {
    code: 'priority-owner-unverified',
    name: 'priority 255 with local addresses unknown',
    mutate: (m, o) => {
      noOpts(o);
      vi1(m).priority = 255;
    },
  },
  {
    code: 'owner-weighted-tracking',
    name: 'priority 255 tracking a script with weight -20',
    mutate: (m, o) => {
      vi1(m).priority = 255;
      o.localAddresses = [VIP];
    },
    expect: (ds) => assert.match(ds[0]!.message, /chk_nginx has weight -20/),
  },
  { code: 'nopreempt-master', name: 'nopreempt with MASTER', mutate: (m) => void (vi1(m).nopreempt = true) },
  { code: 'nopreempt-master', name: 'preempt_delay with MASTER', mutate: (m) => void (vi1(m).preemptDelay = 10) },
  { code: 'strict-mode-conflict', name: 'vrrp_strict with MASTER priority 100', mutate: (m) => Object.assign(vi1(m), { strictMode: true, auth: undefined }) },
  {
    code: 'strict-mode-conflict',
    name: 'vrrp_strict with unicast peers',
    mutate: (m) => Object.assign(vi1(m), { strictMode: true, state: 'BACKUP', auth: undefined, unicastPeers: [{ address: '192.168.2.12' }] }),
  },
  { code: 'strict-mode-auth', name: 'vrrp_strict with auth PASS', mutate: (m) => Object.assign(vi1(m), { strictMode: true, state: 'BACKUP' }) },
  { code: 'preempt-delay-range', name: 'preempt_delay 2000', mutate: (m) => void (vi1(m).preemptDelay = 2000) },
  { code: 'advert-int-range', name: 'v2 advert_int 300', mutate: (m) => void (vi1(m).advertInt = 300) },
  { code: 'advert-int-range', name: 'v2 advert_int 0.2', mutate: (m) => void (vi1(m).advertInt = 0.2) },
  {
    code: 'advert-int-range',
    name: 'v3 advert_int 50',
    mutate: (m) => Object.assign(vi1(m), { version: 3, advertInt: 50, auth: undefined }),
  },
  {
    code: 'advert-int-rounded',
    name: 'v2 advert_int 1.5',
    mutate: (m) => void (vi1(m).advertInt = 1.5),
    expect: (ds) => {
      assert.match(ds[0]!.message, /rounds it to 2 s/);
      assert.match(ds[0]!.hint!, /advert_int 2/);
    },
  },
  {
    code: 'advert-int-rounded',
    name: 'v3 advert_int 0.015',
    mutate: (m) => Object.assign(vi1(m), { version: 3, advertInt: 0.015, auth: undefined }),
  },
  {
    code: 'ipv6-needs-v3',
    name: 'IPv6 instance with version 2',
    mutate: (m) => Object.assign(vi1(m), { family: 6, vips: [vip('2001:db8::100/64')], auth: undefined }),
  },
  {
    code: 'auth-v3-ignored',
    name: 'auth with version 3',
    mutate: (m) => void (vi1(m).version = 3),
  },
  {
    code: 'auth-pass-truncated',
    name: 'auth_pass "supersecret" (11 chars)',
    mutate: (m) => void (vi1(m).auth = { type: 'PASS', pass: 'supersecret' }),
    expect: (ds) => {
      const text = ds.map(formatDiagnostic).join('\n');
      assert.match(text, /11 characters/);
      assert.doesNotMatch(text, /supersec/, 'the password, even truncated, never reaches the message');
    },
  },
  {
    code: 'vip-family-mixed',
    name: 'IPv6 VIP in an IPv4 instance',
    mutate: (m) => void vi1(m).vips.push(vip('2001:db8::100/64')),
    expect: (ds) => assert.match(ds[0]!.hint!, /virtual_ipaddress_excluded/),
  },
  {
    code: 'vip-outside-subnet',
    name: 'VIP 10.0.0.100 on eth0 (192.168.2.0/24)',
    mutate: (m) => void vi1(m).vips.push(vip('10.0.0.100/32')),
    expect: (ds) => assert.match(ds[0]!.message, /192\.168\.2\.11\/24/),
  },
  {
    code: 'interface-unknown',
    name: 'interface eht0',
    mutate: (m) => void (vi1(m).interface = 'eht0'),
    expect: (ds) => assert.match(ds[0]!.hint!, /did you mean eth0\?/),
  },
  {
    code: 'unicast-peer-self',
    name: 'peer equal to unicast_src_ip',
    mutate: (m, o) => {
      noOpts(o);
      Object.assign(vi1(m), { unicastSrcIp: '192.168.2.11', unicastPeers: [{ address: '192.168.2.11', src: src() }] });
    },
  },
  {
    code: 'unicast-peer-self',
    name: 'peer equal to a local address',
    mutate: (m) => void (vi1(m).unicastPeers = [{ address: '192.168.2.11', src: src() }, { address: '192.168.2.12', src: src() }]),
    expect: (ds) => assert.equal(ds.length, 1),
  },
  {
    code: 'unicast-peer-duplicate',
    name: 'peer listed twice (written differently)',
    mutate: (m) => {
      const i = vi1(m);
      i.family = 6;
      i.version = 3;
      i.vips = [vip('2001:db8::100/64')];
      i.unicastPeers = [{ address: '2001:db8::12', src: src() }, { address: '2001:0db8:0:0::12', src: src() }];
    },
  },
  {
    code: 'unicast-family-mismatch',
    name: 'IPv4 source, IPv6 peer',
    mutate: (m) => Object.assign(vi1(m), { unicastSrcIp: '192.168.2.11', unicastPeers: [{ address: 'fe80::12', src: src() }] }),
  },
  {
    code: 'unicast-family-mismatch',
    name: 'IPv6 source in an IPv4 instance',
    mutate: (m) => Object.assign(vi1(m), { unicastSrcIp: 'fe80::11', unicastPeers: [] }),
  },
  { code: 'script-duplicate', name: 'chk_nginx twice', mutate: (m) => void m.vrrpScripts.push(newScript('chk_nginx')) },
  {
    code: 'track-file-duplicate',
    name: 'track file twice',
    mutate: (m) => void m.trackFiles.push(newTrackFile('maint'), newTrackFile('maint')),
  },
  {
    code: 'sync-group-duplicate',
    name: 'group G twice',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1']);
      syncGroup(m, 'G', ['VI_2']);
    },
  },
  {
    code: 'track-unknown',
    name: 'track_script chk_ngnix (typo)',
    mutate: (m) => void (vi1(m).trackScripts[0]!.name = 'chk_ngnix'),
    expect: (ds) => assert.match(ds[0]!.hint!, /did you mean chk_nginx\?/),
  },
  {
    code: 'track-unknown',
    name: 'track_file with no vrrp_track_file',
    mutate: (m) => void vi1(m).trackFiles.push({ name: 'maint', src: src() }),
  },
  {
    code: 'track-unknown',
    name: 'FILE_CHECK naming no track file',
    mutate: (m) => {
      const ck = checker('FILE_CHECK');
      if (ck.type === 'FILE_CHECK') ck.trackFile = 'maint';
      firstRs(m, 443).checkers.push(ck);
    },
  },
  { code: 'script-unused', name: 'chk_nginx tracked by nothing', mutate: (m) => void (vi1(m).trackScripts = []) },
  {
    code: 'sync-member-unknown',
    name: 'member VI_3 does not exist',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_3']);
    },
    expect: (ds) => assert.match(ds[0]!.hint!, /did you mean VI_1\?/),
  },
  {
    code: 'sync-member-duplicate',
    name: 'VI_1 in two groups',
    mutate: (m) => {
      addVi2(m);
      addInstance(m, 'VI_3', 'eth0', 53);
      syncGroup(m, 'G1', ['VI_1', 'VI_2']);
      syncGroup(m, 'G2', ['VI_3', 'VI_1']);
    },
    expect: (ds) => assert.equal(ds[0]!.block, 'vrrp_sync_group G2'),
  },
  { code: 'sync-group-single', name: 'group with VI_1 only', mutate: (m) => void syncGroup(m, 'G', ['VI_1']) },
  {
    code: 'sync-group-weighted-tracking',
    name: 'VI_1 tracks chk_nginx (weight -20) inside a sync group',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_2']);
    },
  },
  { code: 'track-weight-range', name: 'vrrp_script weight 300', mutate: (m) => void (m.vrrpScripts[0]!.weight = 300) },
  { code: 'track-weight-range', name: 'track_script weight -254', mutate: (m) => void (vi1(m).trackScripts[0]!.weight = -254) },
  { code: 'script-interval', name: 'interval 0', mutate: (m) => void (m.vrrpScripts[0]!.interval = 0) },
  { code: 'script-timeout-exceeds-interval', name: 'timeout 5, interval 2', mutate: (m) => void (m.vrrpScripts[0]!.timeout = 5) },
  { code: 'rise-fall-range', name: 'vrrp_script rise 0', mutate: (m) => void (m.vrrpScripts[0]!.rise = 0) },
  { code: 'rise-fall-range', name: 'checker fall 0', mutate: (m) => void (firstCk(m, 443).fall = 0) },
  {
    code: 'script-shell-syntax',
    name: 'vrrp_script with ||',
    mutate: (m) => void (m.vrrpScripts[0]!.script = makeScript('pidof nginx || exit 1')),
    expect: (ds) => {
      assert.match(ds[0]!.message, /shell syntax "\|\|"/);
      assert.match(ds[0]!.hint!, /script "\/bin\/sh -c 'pidof nginx \|\| exit 1'"/);
    },
  },
  {
    code: 'script-shell-syntax',
    name: 'notify_master with a redirection',
    mutate: (m) => void (vi1(m).notify.master = makeScript('/usr/bin/logger master > /tmp/state')),
    expect: (ds) => assert.match(ds[0]!.message, /^notify_master/),
  },
  {
    code: 'script-shell-syntax',
    name: 'MISC_CHECK with $(...)',
    mutate: (m) => {
      const ck = checker('MISC_CHECK');
      if (ck.type === 'MISC_CHECK') ck.script = makeScript('/bin/kill -0 $(cat /run/nginx.pid)');
      firstRs(m, 443).checkers.push(ck);
    },
  },
  {
    code: 'vs-duplicate',
    name: 'VIP:80/TCP twice',
    mutate: (m) => void m.virtualServers.push(service(80)),
    expect: (ds) => assert.equal(ds[0]!.block, 'virtual_server 192.168.2.100 80'),
  },
  {
    code: 'vs-duplicate',
    name: 'fwmark 1 twice',
    mutate: (m) => {
      fwmarkService(m, false);
      fwmarkService(m, false);
    },
  },
  {
    code: 'rs-duplicate',
    name: '192.168.2.11:80 twice',
    mutate: (m) => void vsOn(m, 80).realServers.push(realServer('192.168.2.11', 80, checker('HTTP_GET'))),
  },
  {
    code: 'lb-algo-unknown',
    name: 'lb_algo wrrr',
    mutate: (m) => void (vsOn(m, 80).scheduler = 'wrrr'),
    expect: (ds) => assert.match(ds[0]!.hint!, /did you mean wrr\?/),
  },
  { code: 'sched-flag-mismatch', name: 'sh-port with rr', mutate: (m) => void (vsOn(m, 80).schedFlags.shPort = true) },
  { code: 'sched-flag-mismatch', name: 'mh-fallback with sh', mutate: (m) => Object.assign(vsOn(m, 80), { scheduler: 'sh', schedFlags: { mhFallback: true } }) },
  {
    code: 'port-remap-forbidden',
    name: 'DR real server on 8080 for VIP:80',
    mutate: (m) => void (firstRs(m, 80).port = 8080),
    expect: (ds) => {
      assert.equal(ds.length, 1);
      assert.match(ds[0]!.message, /^DR cannot remap ports \(192\.168\.2\.100:80 → 8080\)/);
      assert.match(ds[0]!.message, /silently resets/);
      assert.match(ds[0]!.hint!, /NAT/);
      assert.equal(ds[0]!.block, 'real_server 192.168.2.11 8080');
    },
  },
  {
    code: 'port-remap-forbidden',
    name: 'TUN real server on 8443 for VIP:443',
    mutate: (m) => {
      firstRs(m, 443).forwarding = { kind: 'TUN' };
      firstRs(m, 443).port = 8444;
    },
    expect: (ds) => assert.match(ds[0]!.message, /^TUN cannot remap/),
  },
  {
    code: 'port-remap-forbidden',
    name: 'DR sorry server on another port',
    mutate: (m) => void (vsOn(m, 80).sorryServer = { address: '192.168.2.20', port: 8080, inhibit: false }),
  },
  { code: 'fwmark-rs-port', name: 'DR fwmark service, real server with port', mutate: (m) => void fwmarkService(m, true) },
  {
    code: 'rs-family-mismatch',
    name: 'IPv6 real server in an IPv4 DR service',
    mutate: (m) => void vsOn(m, 443).realServers.push(realServer('2001:db8::15', 443, checker('TCP_CHECK'))),
  },
  {
    code: 'vs-port-zero',
    name: 'all-ports service without persistence',
    mutate: (m) => {
      const vs = service(0);
      vs.realServers = [realServer('192.168.2.11', undefined, checker('PING_CHECK'))];
      m.virtualServers.push(vs);
    },
  },
  { code: 'ops-not-udp', name: 'ops on TCP', mutate: (m) => void (vsOn(m, 80).ops = true) },
  {
    code: 'persistence-granularity-without-timeout',
    name: 'granularity without timeout',
    mutate: (m) => void (vsOn(m, 80).persistenceGranularity = '255.255.255.0'),
  },
  {
    code: 'quorum-unreachable',
    name: 'quorum 5 with four weight-1 servers',
    mutate: (m) => void (vsOn(m, 80).quorum = 5),
    expect: (ds) => assert.match(ds[0]!.hint!, /at most 4/),
  },
  { code: 'hysteresis-too-large', name: 'quorum 2, hysteresis 2', mutate: (m) => Object.assign(vsOn(m, 80), { quorum: 2, hysteresis: 2 }) },
  { code: 'vs-no-real-servers', name: 'service without servers', mutate: (m) => void (vsOn(m, 80).realServers = []) },
  {
    code: 'vs-vip-unmanaged',
    name: 'service on 192.168.2.200, which no instance carries',
    mutate: (m) => void m.virtualServers.push(service(80, '192.168.2.200')),
  },
  { code: 'rs-weight-range', name: 'weight 70000', mutate: (m) => void (firstRs(m, 80).weight = 70000) },
  { code: 'rs-weight-range', name: 'weight -1', mutate: (m) => void (firstRs(m, 80).weight = -1) },
  {
    code: 'rs-threshold-order',
    name: 'uthreshold 10 < lthreshold 20',
    mutate: (m) => Object.assign(firstRs(m, 80), { upperThreshold: 10, lowerThreshold: 20 }),
  },
  { code: 'checker-no-port', name: 'TCP_CHECK in a fwmark service, no port anywhere', mutate: (m) => void fwmarkService(m, false) },
  {
    code: 'checker-tls-port-mismatch',
    name: 'SSL_GET on port 80',
    mutate: (m) => void (firstRs(m, 80).checkers = [checker('SSL_GET')]),
  },
  {
    code: 'checker-tls-port-mismatch',
    name: 'HTTP_GET on port 443',
    mutate: (m) => void (firstRs(m, 443).checkers = [checker('HTTP_GET')]),
  },
  {
    code: 'http-no-url',
    name: 'HTTP_GET without url',
    mutate: (m) => {
      const ck = firstCk(m, 80);
      if (ck.type === 'HTTP_GET') ck.urls = [];
    },
  },
  {
    code: 'digest-invalid',
    name: 'digest "abc"',
    mutate: (m) => {
      const ck = firstCk(m, 80);
      if (ck.type === 'HTTP_GET') ck.urls[0]!.digest = 'abc';
    },
  },
  {
    code: 'connect-timeout-exceeds-delay-loop',
    name: 'connect_timeout 6 = delay_loop 6',
    mutate: (m) => void (firstCk(m, 443).connectTimeout = 6),
  },
  {
    code: 'tcp-check-on-udp',
    name: 'TCP_CHECK on a UDP service',
    mutate: (m) => void (vsOn(m, 443).protocol = 'UDP'),
  },
  // Values keepalived changes at start-up (vrrp.c, vrrp_parser.c, check_data.c).
  {
    code: 'auth-pass-truncated',
    name: 'auth_pass of 8 characters but 10 bytes of UTF-8',
    mutate: (m) => void (vi1(m).auth = { type: 'PASS', pass: 'pässwört' }),
    expect: (ds) => {
      const text = ds.map(formatDiagnostic).join('\n');
      assert.match(text, /8 characters \(10 bytes of UTF-8\)/);
      assert.doesNotMatch(text, /pässw/);
    },
  },
  { code: 'nopreempt-owner', name: 'priority 255 with nopreempt', mutate: (m) => void Object.assign(vi1(m), { state: 'BACKUP', priority: 255, nopreempt: true }) },
  { code: 'preempt-delay-ignored', name: 'preempt_delay with nopreempt', mutate: (m) => void Object.assign(vi1(m), { state: 'BACKUP', nopreempt: true, preemptDelay: 5 }) },
  { code: 'unicast-ttl-without-peers', name: 'unicast_ttl, multicast adverts', mutate: (m) => void (vi1(m).unicastTtl = 5) },
  {
    code: 'mcast-dst-with-unicast',
    name: 'mcast_dst_ip with a unicast peer',
    mutate: (m) => void Object.assign(vi1(m), { mcastDstIp: '224.0.0.19', unicastPeers: [{ address: '192.168.2.12' }] }),
  },
  {
    code: 'vip-count-excess',
    name: '256 IPv4 addresses in one v2 instance',
    mutate: (m) => void (vi1(m).vips = Array.from({ length: 256 }, (_, k) => vip(`10.1.${k >> 8}.${k & 255}/32`, 'eth0'))),
    expect: (ds) => assert.match(ds[0]!.message, /max 255 addresses/),
  },
  { code: 'strict-mode-reset', name: 'down_timer_adverts 5 under vrrp_strict', mutate: (m) => void Object.assign(vi1(m), { strictMode: true, downTimerAdverts: 5 }) },
  {
    code: 'vs-sorry-only',
    name: 'sorry server, no real server',
    mutate: (m) => Object.assign(vsOn(m, 80), { realServers: [], sorryServer: { address: '192.168.2.20', inhibit: false } }),
  },
];

const NEGATIVE: Case[] = [
  { code: 'vrid-range', name: 'VRID 255', mutate: (m) => void (vi1(m).vrid = 255) },
  { code: 'vrid-duplicate', name: 'VRID 51 on another interface', mutate: (m) => void addVi2(m, 'eth1', 51) },
  {
    code: 'vrid-duplicate',
    name: 'VRID 51 for IPv6 on eth0',
    mutate: (m) => Object.assign(addVi2(m, 'eth0', 51), { family: 6, version: 3, vips: [vip('2001:db8::100/64')] }),
  },
  { code: 'instance-duplicate', name: 'VI_1 and VI_2', mutate: (m) => void addVi2(m) },
  { code: 'priority-range', name: 'priority 254', mutate: (m) => void (vi1(m).priority = 254) },
  {
    code: 'priority-owner-mismatch',
    name: 'priority 255 on the address owner',
    mutate: (m, o) => {
      vi1(m).priority = 255;
      o.localAddresses = ['192.168.2.11', VIP];
    },
  },
  {
    code: 'priority-owner-unverified',
    name: 'priority 255 with local addresses known (checked instead)',
    mutate: (m, o) => {
      vi1(m).priority = 255;
      o.localAddresses = [VIP];
    },
  },
  {
    code: 'owner-weighted-tracking',
    name: 'priority 255 with weight 0 tracking',
    mutate: (m, o) => {
      vi1(m).priority = 255;
      vi1(m).trackScripts[0]!.weight = 0;
      o.localAddresses = [VIP];
    },
  },
  { code: 'strict-mode-conflict', name: 'vrrp_strict, BACKUP, multicast, no preempt_delay', mutate: (m) => Object.assign(vi1(m), { strictMode: true, state: 'BACKUP', auth: undefined }) },
  { code: 'strict-mode-auth', name: 'vrrp_strict without auth', mutate: (m) => Object.assign(vi1(m), { strictMode: true, state: 'BACKUP', auth: undefined }) },
  {
    code: 'nopreempt-master',
    name: 'nopreempt with BACKUP',
    mutate: (m) => Object.assign(vi1(m), { state: 'BACKUP', nopreempt: true, preemptDelay: 10 }),
  },
  { code: 'preempt-delay-range', name: 'preempt_delay 1000', mutate: (m) => Object.assign(vi1(m), { state: 'BACKUP', preemptDelay: 1000 }) },
  { code: 'advert-int-range', name: 'v2 advert_int 255', mutate: (m) => void (vi1(m).advertInt = 255) },
  {
    code: 'advert-int-range',
    name: 'v3 advert_int 40.95 and 0.01',
    mutate: (m) => {
      Object.assign(vi1(m), { version: 3, advertInt: 40.95, auth: undefined });
      Object.assign(addVi2(m), { version: 3, advertInt: 0.01 });
    },
  },
  {
    code: 'advert-int-rounded',
    name: 'v3 advert_int 0.29',
    mutate: (m) => Object.assign(vi1(m), { version: 3, advertInt: 0.29, auth: undefined }),
  },
  {
    code: 'ipv6-needs-v3',
    name: 'IPv6 instance with version 3',
    mutate: (m) => Object.assign(vi1(m), { family: 6, version: 3, vips: [vip('2001:db8::100/64')], auth: undefined }),
  },
  { code: 'auth-v3-ignored', name: 'version 3 without auth', mutate: (m) => Object.assign(vi1(m), { version: 3, auth: undefined }) },
  {
    code: 'auth-pass-truncated',
    name: 'long pass on v3 (reported as ignored, not truncated)',
    mutate: (m) => Object.assign(vi1(m), { version: 3, auth: { type: 'PASS', pass: 'supersecret' } }),
  },
  {
    code: 'vip-family-mixed',
    name: 'IPv6 address in virtual_ipaddress_excluded',
    mutate: (m) => void vi1(m).excludedVips.push(vip('2001:db8::100/64')),
  },
  {
    code: 'vip-outside-subnet',
    name: 'interfaces unknown',
    mutate: (m, o) => {
      noOpts(o);
      vi1(m).vips.push(vip('10.0.0.100/32'));
    },
  },
  {
    code: 'vip-outside-subnet',
    name: 'second VIP inside eth0 subnet',
    mutate: (m) => void vi1(m).vips.push(vip('192.168.2.254/24')),
  },
  {
    code: 'interface-unknown',
    name: 'dynamic_interfaces',
    mutate: (m) => {
      m.global.dynamicInterfaces = true;
      vi1(m).interface = 'eth9';
    },
  },
  {
    code: 'unicast-peer-self',
    name: 'peers are the other nodes',
    mutate: (m) =>
      Object.assign(vi1(m), {
        unicastSrcIp: '192.168.2.11',
        unicastPeers: ['192.168.2.12', '192.168.2.13', '192.168.2.14'].map((address) => ({ address, src: src() })),
      }),
  },
  {
    code: 'unicast-peer-duplicate',
    name: 'distinct peers',
    mutate: (m) => void (vi1(m).unicastPeers = [{ address: '192.168.2.12' }, { address: '192.168.2.13' }]),
  },
  {
    code: 'unicast-family-mismatch',
    name: 'IPv4 source and peers',
    mutate: (m) => Object.assign(vi1(m), { unicastSrcIp: '192.168.2.11', unicastPeers: [{ address: '192.168.2.12' }] }),
  },
  { code: 'script-duplicate', name: 'two distinct scripts', mutate: (m) => void m.vrrpScripts.push(newScript('chk_haproxy')) },
  { code: 'track-file-duplicate', name: 'distinct track files', mutate: (m) => void m.trackFiles.push(newTrackFile('a'), newTrackFile('b')) },
  {
    code: 'sync-group-duplicate',
    name: 'distinct groups',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G1', ['VI_1']);
      syncGroup(m, 'G2', ['VI_2']);
    },
  },
  {
    code: 'track-unknown',
    name: 'track_file with its vrrp_track_file',
    mutate: (m) => {
      m.trackFiles.push(newTrackFile('maint'));
      vi1(m).trackFiles.push({ name: 'maint', src: src() });
    },
  },
  { code: 'script-unused', name: 'script tracked by a sync group only', mutate: (m) => {
    vi1(m).trackScripts = [];
    addVi2(m);
    syncGroup(m, 'G', ['VI_1', 'VI_2']).trackScripts.push({ name: 'chk_nginx', src: src() });
  } },
  {
    code: 'sync-member-unknown',
    name: 'members exist',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_2']);
    },
  },
  {
    code: 'sync-member-duplicate',
    name: 'disjoint groups',
    mutate: (m) => {
      addVi2(m);
      addInstance(m, 'VI_3', 'eth0', 53);
      addInstance(m, 'VI_4', 'eth0', 54);
      syncGroup(m, 'G1', ['VI_1', 'VI_2']);
      syncGroup(m, 'G2', ['VI_3', 'VI_4']);
    },
  },
  {
    code: 'sync-group-single',
    name: 'two members',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_2']);
    },
  },
  {
    code: 'sync-group-weighted-tracking',
    name: 'sync_group_tracking_weight set',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_2']).trackingWeight = true;
    },
  },
  {
    code: 'sync-group-weighted-tracking',
    name: 'weight 0 in a sync group',
    mutate: (m) => {
      addVi2(m);
      syncGroup(m, 'G', ['VI_1', 'VI_2']);
      vi1(m).trackScripts[0]!.weight = 0;
    },
  },
  {
    code: 'track-weight-range',
    name: 'weights at the limits',
    mutate: (m) => {
      m.vrrpScripts[0]!.weight = -253;
      m.trackFiles.push(newTrackFile('maint'));
      vi1(m).trackFiles.push({ name: 'maint', weight: -254, src: src('weight') });
    },
  },
  { code: 'script-interval', name: 'interval 0.5', mutate: (m) => void (m.vrrpScripts[0]!.interval = 0.5) },
  { code: 'script-timeout-exceeds-interval', name: 'timeout = interval', mutate: (m) => void (m.vrrpScripts[0]!.timeout = 2) },
  { code: 'rise-fall-range', name: 'rise 1, fall 1', mutate: (m) => Object.assign(m.vrrpScripts[0]!, { rise: 1, fall: 1 }) },
  {
    code: 'script-shell-syntax',
    name: 'shell run explicitly, quoted operators',
    mutate: (m) => {
      m.vrrpScripts[0]!.script = makeScript("/bin/sh -c 'pidof nginx || exit 1'");
      vi1(m).notify.master = makeScript('/usr/bin/logger "state > master"');
    },
  },
  { code: 'vs-duplicate', name: 'same address and port over UDP', mutate: (m) => void m.virtualServers.push(Object.assign(service(80), { protocol: 'UDP' as const })) },
  {
    code: 'rs-duplicate',
    name: 'a fifth server',
    mutate: (m) => void vsOn(m, 80).realServers.push(realServer('192.168.2.15', 80, checker('HTTP_GET'))),
  },
  { code: 'lb-algo-unknown', name: 'lb_algo mh', mutate: (m) => void (vsOn(m, 80).scheduler = 'mh') },
  { code: 'sched-flag-mismatch', name: 'sh-port with sh', mutate: (m) => Object.assign(vsOn(m, 80), { scheduler: 'sh', schedFlags: { shPort: true, shFallback: true } }) },
  {
    code: 'port-remap-forbidden',
    name: 'NAT real server on 8080',
    mutate: (m) => {
      vsOn(m, 80).forwarding = { kind: 'NAT' };
      firstRs(m, 80).port = 8080;
    },
  },
  {
    code: 'fwmark-rs-port',
    name: 'fwmark service, checkers with connect_port',
    mutate: (m) => {
      const vs = fwmarkService(m, false);
      vs.realServers[0]!.checkers[0]!.connectPort = 80;
    },
  },
  {
    code: 'rs-family-mismatch',
    name: 'IPv6 real server through a tunnel',
    mutate: (m) => {
      const rs = realServer('2001:db8::15', 443, checker('TCP_CHECK'));
      rs.forwarding = { kind: 'TUN' };
      vsOn(m, 443).realServers.push(rs);
    },
  },
  {
    code: 'vs-port-zero',
    name: 'persistent all-ports service',
    mutate: (m) => {
      const vs = service(0);
      vs.persistenceTimeout = 360;
      vs.realServers = [realServer('192.168.2.11', undefined, checker('PING_CHECK'))];
      m.virtualServers.push(vs);
    },
  },
  { code: 'ops-not-udp', name: 'ops on UDP', mutate: (m) => Object.assign(vsOn(m, 443), { ops: true, protocol: 'UDP' }) },
  {
    code: 'persistence-granularity-without-timeout',
    name: 'granularity with timeout',
    mutate: (m) => Object.assign(vsOn(m, 80), { persistenceGranularity: '255.255.255.0', persistenceTimeout: 360 }),
  },
  { code: 'quorum-unreachable', name: 'quorum 4 with four servers', mutate: (m) => void (vsOn(m, 80).quorum = 4) },
  { code: 'hysteresis-too-large', name: 'quorum 3, hysteresis 1', mutate: (m) => Object.assign(vsOn(m, 80), { quorum: 3, hysteresis: 1 }) },
  {
    code: 'vs-no-real-servers',
    name: 'sorry server only',
    mutate: (m) => Object.assign(vsOn(m, 80), { realServers: [], sorryServer: { address: '192.168.2.20', inhibit: false } }),
  },
  {
    code: 'vs-vip-unmanaged',
    name: 'address carried as an excluded VIP',
    mutate: (m) => {
      m.virtualServers.push(service(80, '192.168.2.200'));
      vi1(m).excludedVips.push(vip('192.168.2.200/24'));
    },
  },
  {
    code: 'vs-vip-unmanaged',
    name: 'address is a local address',
    mutate: (m) => void m.virtualServers.push(service(80, '192.168.2.11')),
  },
  { code: 'rs-weight-range', name: 'weights 0 and 65535', mutate: (m) => {
    firstRs(m, 80).weight = 65535;
    firstRs(m, 443).weight = 0;
  } },
  {
    code: 'rs-threshold-order',
    name: 'uthreshold 20 > lthreshold 10, and lthreshold without uthreshold',
    mutate: (m) => {
      Object.assign(firstRs(m, 80), { upperThreshold: 20, lowerThreshold: 10 });
      Object.assign(firstRs(m, 443), { upperThreshold: 0, lowerThreshold: 10 });
    },
  },
  {
    code: 'checker-no-port',
    name: 'fwmark service with connect_port',
    mutate: (m) => void (fwmarkService(m, false).realServers[0]!.checkers[0]!.connectPort = 80),
  },
  {
    code: 'checker-tls-port-mismatch',
    name: 'SSL_GET on 443, HTTP_GET on 80',
    mutate: (m) => void (firstRs(m, 443).checkers = [checker('SSL_GET')]),
  },
  { code: 'http-no-url', name: 'HTTP_GET with url', mutate: () => undefined },
  {
    code: 'digest-invalid',
    name: 'MD5 digest',
    mutate: (m) => {
      const ck = firstCk(m, 80);
      if (ck.type === 'HTTP_GET') ck.urls[0]!.digest = '9b3a0c85a887a256d6939da88aabd8cd';
    },
  },
  { code: 'connect-timeout-exceeds-delay-loop', name: 'connect_timeout 5 < delay_loop 6', mutate: (m) => void (firstCk(m, 443).connectTimeout = 5) },
  {
    code: 'tcp-check-on-udp',
    name: 'deliberate TCP check via connect_port',
    mutate: (m) => {
      vsOn(m, 443).protocol = 'UDP';
      for (const rs of vsOn(m, 443).realServers) rs.checkers[0]!.connectPort = 443;
    },
  },
  { code: 'auth-pass-truncated', name: 'auth_pass of 8 ASCII characters', mutate: (m) => void (vi1(m).auth = { type: 'PASS', pass: 'k33pal1v' }) },
  { code: 'nopreempt-owner', name: 'priority 254 with nopreempt', mutate: (m) => void Object.assign(vi1(m), { state: 'BACKUP', priority: 254, nopreempt: true }) },
  { code: 'preempt-delay-ignored', name: 'preempt_delay without nopreempt', mutate: (m) => void Object.assign(vi1(m), { state: 'BACKUP', preemptDelay: 5 }) },
  { code: 'unicast-ttl-without-peers', name: 'unicast_ttl with a peer', mutate: (m) => void Object.assign(vi1(m), { unicastTtl: 5, unicastPeers: [{ address: '192.168.2.12' }] }) },
  { code: 'mcast-dst-with-unicast', name: 'mcast_dst_ip, multicast adverts', mutate: (m) => void (vi1(m).mcastDstIp = '224.0.0.19') },
  {
    code: 'vip-count-excess',
    name: '255 IPv4 addresses in one v2 instance',
    mutate: (m) => void (vi1(m).vips = Array.from({ length: 255 }, (_, k) => vip(`10.1.${k >> 8}.${k & 255}/32`, 'eth0'))),
  },
  { code: 'strict-mode-reset', name: 'vrrp_strict with the default down_timer_adverts', mutate: (m) => void (vi1(m).strictMode = true) },
  { code: 'vs-sorry-only', name: 'sorry server beside real servers', mutate: (m) => void (vsOn(m, 80).sorryServer = { address: '192.168.2.20', inhibit: false }) },
];

describe('validateNode', () => {
  it('finds nothing in the seed node, with and without host information', () => {
    assert.deepEqual(validateNode(seedNode(), seedOpts()), []);
    assert.deepEqual(validateNode(seedNode()), []);
  });

  describe('reports', () => {
    for (const c of POSITIVE)
      it(`${c.code}: ${c.name}`, () => {
        const ds = run(c);
        assert.ok(ds.length > 0, `expected ${c.code}`);
        const rule = RULES.find((r) => r.code === c.code)!;
        for (const d of ds) {
          assert.equal(d.severity, rule.severity);
          assert.equal(d.loc?.file, FILE, `${c.code} names a location`);
          assert.ok(d.block, `${c.code} names a block`);
          assert.ok(d.hint, `${c.code} says how to fix it`);
        }
        c.expect?.(ds);
      });
  });

  describe('does not report', () => {
    for (const c of NEGATIVE)
      it(`${c.code}: ${c.name}`, () => {
        assert.deepEqual(run(c), []);
      });
  });

  it('has a positive and a negative case for every rule', () => {
    for (const r of RULES) {
      assert.ok(POSITIVE.some((c) => c.code === r.code), `no positive case for ${r.code}`);
      assert.ok(NEGATIVE.some((c) => c.code === r.code), `no negative case for ${r.code}`);
    }
    for (const c of [...POSITIVE, ...NEGATIVE]) assert.ok(RULES.some((r) => r.code === c.code), `unknown code ${c.code}`);
  });

  it('lists each rule once with a description', () => {
    assert.equal(new Set(RULES.map((r) => r.code)).size, RULES.length);
    assert.ok(RULES.length >= 25);
    for (const r of RULES) assert.ok(r.describe.length > 0);
  });

  it('formats a diagnostic with file:line:col', () => {
    const m = seedNode();
    firstRs(m, 80).port = 8080;
    const d = validateNode(m).find((x) => x.code === 'port-remap-forbidden')!;
    assert.match(formatDiagnostic(d), /^seed\.conf:\d+:\d+: error: DR cannot remap ports/);
  });
});
