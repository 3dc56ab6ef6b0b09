// Tests for the plan module: the operator text (golden for the seed's lb1,
// ipvsadm -Ln layout), keepalived's master_down arithmetic, secrecy of
// passwords, and the JSON form scripts consume.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterDownMicros, planNode, renderPlan, skewMicros } from '../../src/model/plan.js';
import { richModel, SEED_PASSWORD, seedNode } from '../export/fixtures.js';

const SEED_LB1 = `# haldir plan for node lb1 (router_id LB1)

VRRP
vrrp_instance VI_1
  interface          eth0
  virtual_router_id  51
  version            2 (IPv4)
  initial state      MASTER
  priority           100
  advert_int         1s
  master_down        3.609s (3 x 1s + skew 0.609s)
  preempt            yes
  auth               PASS (password set, 11 chars)
  vip                192.168.2.100/24 dev eth0 label eth0:vip
  adverts            multicast to 224.0.0.18
  note               auth_pass has 11 chars; only the first 8 are sent

IPVS
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
${[80, 443, 6443, 8443]
  .map((port) =>
    [
      `TCP  192.168.2.100:${port} rr`,
      ...[11, 12, 13, 14].flatMap((n) => [
        `  -> ${`192.168.2.${n}:${port}`.padEnd(28)} Route   1      0          0`,
        port === 80
          ? `     check HTTP_GET http://192.168.2.${n}:80/healthz expect 200 timeout 2s retry 2 every 3s (+1s between retries)`
          : `     check TCP_CHECK 192.168.2.${n}:${port} timeout 2s retry 2 every 3s (+1s between retries)`,
      ]),
    ].join('\n'),
  )
  .join('\n')}
`;

describe('plan: seed lb1', () => {
  it('renders the golden text', () => {
    assert.equal(renderPlan(planNode(seedNode(1))), SEED_LB1);
  });

  it('lays real servers out in ipvsadm -Ln columns', () => {
    const text = renderPlan(planNode(seedNode(1)));
    assert.ok(text.includes('TCP  192.168.2.100:80 rr\n  -> 192.168.2.11:80              Route   1      0          0\n'));
    for (const line of text.split('\n').filter((l) => l.startsWith('  -> ') && !l.includes('RemoteAddress'))) {
      // "  -> %-28s %-7s %-6d %-10u %-10u": Forward at column 34, Weight at 42, ActiveConn at 49, InActConn at 60.
      assert.match(line.slice(34), /^(Masq|Route|Tunnel) +\d+ +0 {10}0$/);
      assert.equal(line.indexOf(' 0          0'), 48, line);
    }
  });

  it('orders services like ipvsadm (by port within an address)', () => {
    assert.deepEqual(planNode(seedNode(1)).ipvs.services.map((s) => s.port), [80, 443, 6443, 8443]);
  });

  it('computes priority and master_down per node', () => {
    const down = [1, 2, 3, 4].map((n) => renderPlan(planNode(seedNode(n as 1 | 2 | 3 | 4))).match(/master_down +(\S+)/)?.[1]);
    // (256 − P)/256 s of skew on top of 3 × 1 s.
    assert.deepEqual(down, ['3.609s', '3.613s', '3.617s', '3.621s']);
  });
});

describe('plan: master_down arithmetic', () => {
  it('uses (256 − P)/256 s for VRRPv2, independent of advert_int', () => {
    assert.equal(skewMicros(2, 100, 1), 609_375);
    assert.equal(skewMicros(2, 100, 5), 609_375);
    assert.equal(skewMicros(2, 255, 1), 3_906); // 1e6/256 truncated like the C
    assert.equal(masterDownMicros(2, 100, 1, 3), 3_609_375);
  });

  it('scales the VRRPv3 skew by advert_int in centiseconds', () => {
    assert.equal(skewMicros(3, 100, 1), 609_375);
    assert.equal(skewMicros(3, 120, 0.5), 265_625);
    assert.equal(skewMicros(3, 1, 0.01), 9_960); // (255 × 1 × 625)/16 = 9960.9 → 9960
    assert.equal(masterDownMicros(3, 120, 0.5, 4), 2_265_625);
  });

  it('shows the v3 instance of the rich model with its own down_timer_adverts', () => {
    const text = renderPlan(planNode(richModel()));
    assert.match(text, /vrrp_instance VI_V6\n(?: {2}.*\n)*? {2}master_down {8}2\.266s \(4 x 0\.5s \+ skew 0\.266s\)\n/);
  });
});

describe('plan: secrets', () => {
  it('never prints or serialises a password', () => {
    for (const [m, pass] of [[seedNode(1), SEED_PASSWORD], [richModel(), 'p#ss w!']] as const) {
      const plan = planNode(m);
      assert.ok(!renderPlan(plan).includes(pass));
      assert.ok(!JSON.stringify(plan).includes(pass));
      // Not even the 8 characters VRRP would send.
      assert.ok(!renderPlan(plan).includes(pass.slice(0, 8)));
    }
    assert.match(renderPlan(planNode(richModel())), /auth {15}PASS \(password set, 7 chars\)\n/);
  });
});

describe('plan: JSON form', () => {
  it('round-trips through JSON and carries explicit units', () => {
    const plan = planNode(seedNode(1));
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
    const vi = plan.vrrpInstances[0]!;
    assert.equal(vi.advertIntSec, 1);
    assert.equal(vi.skewSec, 0.609375);
    assert.equal(vi.masterDownSec, 3.609375);
    assert.deepEqual(vi.auth, { type: 'PASS', passwordSet: true, passwordChars: 11, passwordCharsUsed: 8 });
    const rs = plan.ipvs.services[0]!.realServers[0]!;
    assert.deepEqual(
      { endpoint: rs.endpoint, forward: rs.forward, weight: rs.weight, activeConn: rs.activeConn, inActConn: rs.inActConn },
      { endpoint: '192.168.2.11:80', forward: 'Route', weight: 1, activeConn: 0, inActConn: 0 },
    );
    assert.deepEqual(
      { type: rs.checkers[0]!.type, connectTimeoutSec: rs.checkers[0]!.connectTimeoutSec, retry: rs.checkers[0]!.retry, delayLoopSec: rs.checkers[0]!.delayLoopSec },
      { type: 'HTTP_GET', connectTimeoutSec: 2, retry: 2, delayLoopSec: 3 },
    );
  });

  it('leaves source maps out', () => {
    const m = seedNode(1);
    const loc = { file: 'keepalived.conf', line: 1, col: 1 };
    m.global.src = { '': loc };
    m.vrrpInstances[0]!.src = { '': loc, priority: loc };
    m.vrrpInstances[0]!.vips[0]!.src = { '': loc };
    m.virtualServers[0]!.src = { '': loc };
    m.virtualServers[0]!.realServers[0]!.checkers[0]!.src = { '': loc };
    assert.ok(!JSON.stringify(planNode(m)).includes('"src"'));
    assert.ok(!JSON.stringify(planNode(m)).includes('keepalived.conf'));
  });
});

describe('plan: rich model', () => {
  const plan = planNode(richModel());
  const text = renderPlan(plan);

  it('expands virtual_server_group entries to one service per address', () => {
    const fromGroup = plan.ipvs.services.filter((s) => s.group === 'web_vips');
    assert.deepEqual(fromGroup.map((s) => s.name), ['TCP  203.0.113.20:8443', 'TCP  203.0.113.21:8443', 'TCP  203.0.113.22:8443', 'TCP  203.0.113.23:8443']);
    assert.ok(text.includes('TCP  203.0.113.21:8443 wrr (flag-1)\n     from virtual_server_group web_vips\n  -> 10.0.1.11:8443               Route   3      0          0\n'));
  });

  it('prints forwarding, persistence, flags, IPv6 and fwmark services like ipvsadm', () => {
    assert.ok(text.includes('TCP  203.0.113.10:80 wlc persistent 300 mask 255.255.255.0\n'));
    assert.ok(text.includes('  -> 10.0.0.21:8080               Masq    10     0          0\n'));
    assert.ok(text.includes('TCP  203.0.113.11:443 sh (sh-fallback,sh-port)\n'));
    assert.ok(text.includes('  -> 198.51.100.21:443            Tunnel  1      0          0\n'));
    assert.ok(text.includes('UDP  203.0.113.10:53 rr ops\n'));
    assert.ok(text.includes('UDP  [2001:db8:10::10]:80 mh (mh-port) persistent 120 mask 64 pe sip\n  -> [2001:db8:20::11]:80         Route   1      0          0\n'));
    assert.ok(text.includes('FWM  7 lc persistent 600 mask 255.255.255.0\n  -> 203.0.113.41:0               Route   1      0          0\n'));
    // ipvsadm sorts fwmark services after address services, and TCP before UDP.
    assert.equal(plan.ipvs.services.at(-1)!.name, 'FWM  7');
    const names = plan.ipvs.services.map((s) => s.name);
    assert.ok(names.indexOf('UDP  203.0.113.10:53') > names.indexOf('TCP  203.0.113.23:8443'));
  });

  it('describes quorum, sorry server, inhibit and checkers with effective timings', () => {
    assert.ok(text.includes('     quorum 2 hysteresis 1 up: "/usr/local/bin/quorum.sh up" down: "/usr/local/bin/quorum.sh down"\n'));
    assert.ok(text.includes('     sorry_server 10.0.0.99:8080 Masq (when quorum is lost, inhibit)\n'));
    assert.ok(text.includes('     inhibit_on_failure (failed servers stay with weight 0)\n'));
    assert.match(text, /check HTTP_GET http:\/\/10\.0\.0\.21:8080\/healthz expect 200-299,301 host www\.example\.com, .* timeout 3s retry 3 every 5s \(\+2s between retries\) rise 2 fall 3\n/);
    assert.ok(text.includes("     check MISC_CHECK \"/usr/local/bin/deep-check 10.0.0.21 'two words'\" dynamic weight timeout 4s retry 0 every 5s\n"));
    assert.ok(text.includes('     check TCP_CHECK 10.0.1.111:9443 from *:40000%eth0 fwmark 9 timeout 5s retry 2 every 4s (+1s between retries)\n'));
    assert.ok(text.includes('     check DNS_CHECK A probe.example.com @203.0.113.31:53 timeout 5s retry 3 every 6s (+6s between retries)\n'));
    assert.ok(text.includes('     check FILE_CHECK track_file maint weight 2\n'));
    assert.ok(text.includes('     check TCP_CHECK 198.51.100.22:443 from 203.0.113.2 timeout 5s retry 1 every 10s (+1s between retries) warmup 0s alpha (starts down) log all failures\n'));
  });

  it('shows tracking with effective weights, unicast peers and notify scripts', () => {
    assert.ok(text.includes("  track              track_script chk_nginx weight -30 (-30 while down): \"/usr/bin/timeout 1 check-port 'local nginx' 80\" as root every 2s timeout 1s rise 2 fall 3\n"));
    assert.ok(text.includes('  track              track_interface eth2 weight 0 (FAULT while down)\n'));
    assert.ok(text.includes('  adverts            unicast from 2001:db8:10::2 ttl 255\n  unicast_peer       2001:db8:10::3\n  unicast_peer       2001:db8:10::4 (accept ttl 250-255)\n'));
    assert.ok(text.includes('  notify_master      "/usr/local/bin/vrrp-notify.sh master VI_EXT"\n'));
    assert.ok(text.includes('  notify_fault       /usr/local/bin/vrrp-fault.sh as keepalived_script:nogroup\n'));
    assert.ok(text.includes('vrrp_sync_group SG_EDGE\n  members            VI_EXT VI_V6\n'));
  });
});
