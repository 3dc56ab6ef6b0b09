// keepalived.conf keywords: errors name file:line:col and the fix; compact
// one-line blocks read as written; values are range-checked; inheritance
// virtual_server → real_server → checker follows keepalived.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import type { HttpChecker } from '../../src/model/types.js';
import { SEED } from '../helpers/paths.js';

const load = (text: string) => loadKeepalivedText(text, 'k.conf', { configId: 'x' });
const errs = (text: string) => load(text).diagnostics.filter((d) => d.severity === 'error');

const VI = (body: string) => `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 10.0.0.1 }\n${body}\n}\n`;

describe('keepalived keywords', () => {
  it('an unknown keyword is an error with position, block and suggestion', () => {
    const e = errs(VI(' prompte_secondaries'));
    assert.equal(e.length, 1);
    assert.equal(e[0]!.code, 'unknown-keyword');
    assert.deepEqual(e[0]!.loc, { file: 'k.conf', line: 5, col: 2 });
    assert.equal(e[0]!.block, 'vrrp_instance VI_1');
    assert.match(e[0]!.hint ?? '', /promote_secondaries/);
  });

  it('a keepalived keyword haldir lacks is refused by name with the reason', () => {
    const e = errs(VI(' use_vmac'));
    assert.equal(e[0]!.code, 'unsupported-keyword');
    assert.equal(e[0]!.message, 'not supported: use_vmac');
    assert.match(e[0]!.hint ?? '', /gratuitous ARP/);
  });

  it('a keyword in the wrong block says where it belongs', () => {
    const e = errs('global_defs {\n virtual_router_id 5\n}');
    assert.equal(e[0]!.code, 'misplaced-keyword');
    assert.match(e[0]!.message, /belongs in vrrp_instance/);
  });

  it('a deprecated spelling is accepted with a warning naming the replacement', () => {
    const r = load('virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url { path / }\n   nb_get_retry 4\n  }\n }\n}');
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0);
    const w = r.diagnostics.find((d) => d.code === 'deprecated-keyword');
    assert.match(w?.message ?? '', /use retry/);
    assert.equal(r.model.virtualServers[0]!.realServers[0]!.checkers[0]!.retry, 4);
  });

  it("'{' glued to a keyword gets a hint to add a space", () => {
    const e = errs('global_defs{\n}');
    assert.match(e[0]!.hint ?? '', /put a space before/);
  });

  it('missing and surplus braces are reported where they are', () => {
    const a = errs('vrrp_instance VI_1 {\n interface eth0\n');
    assert.equal(a.find((d) => d.code === 'missing-close-brace')?.loc?.line, 1);
    const b = errs('}\n');
    assert.equal(b[0]!.code, 'unexpected-close-brace');
  });

  it('checks argument counts', () => {
    assert.equal(errs(VI(' priority'))[0]!.code, 'missing-argument');
    const e = errs(VI(' interface eth0 eth1'));
    assert.equal(e[0]!.code, 'too-many-arguments');
    assert.equal(e[0]!.loc?.col, 17);
  });

  it('checks value ranges and syntax', () => {
    const cases: [string, RegExp][] = [
      [' priority 256', /between 1 and 255/],
      [' virtual_router_id 0', /between 1 and 255/],
      [' advert_int fast', /number of seconds/],
      [' state LEADER', /MASTER, BACKUP/],
      [' unicast_src_ip 10.0.0.300', /not an IPv4 or IPv6/],
      [' virtual_ipaddress { 10.0.0.2/33 }', /prefix length must be between 0 and 32/],
      [' skip_check_adv_addr maybe', /on\|off/],
    ];
    for (const [body, re] of cases) {
      const e = errs(VI(body));
      assert.ok(e.some((d) => re.test(d.message)), `${body}: ${JSON.stringify(e.map((d) => d.message))}`);
    }
  });

  it('requires interface, virtual_router_id and an address in a vrrp_instance', () => {
    const codes = errs('vrrp_instance V {\n priority 100\n}').map((d) => d.code);
    assert.deepEqual(codes.sort(), ['missing-interface', 'missing-vip', 'missing-vrid']);
  });

  it('reads the compact one-line forms as their author meant them', () => {
    const r = load(
      'global_defs { router_id LB2 }\n' +
        VI(' authentication { auth_type PASS auth_pass supersecret }') +
        'virtual_server 10.0.0.1 80 {\n real_server 10.0.0.12 80 { weight 3 HTTP_GET { url { path /healthz status_code 200-204 301 } connect_timeout 2 nb_get_retry 2 delay_before_retry 1 } }\n}',
    );
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0);
    assert.equal(r.model.global.routerId, 'LB2');
    assert.deepEqual(r.model.vrrpInstances[0]!.auth, { type: 'PASS', pass: 'supersecret' });
    const rs = r.model.virtualServers[0]!.realServers[0]!;
    assert.equal(rs.weight, 3);
    const c = rs.checkers[0] as HttpChecker;
    assert.deepEqual(c.urls[0]!.statusCodes, [{ from: 200, to: 204 }, { from: 301, to: 301 }]);
    assert.deepEqual([c.connectTimeout, c.retry, c.delayBeforeRetry], [2, 2, 1]);
  });

  it('applies inheritance virtual_server → real_server → checker, and checker defaults', () => {
    const r = load(
      'virtual_server 10.0.0.1 80 {\n delay_loop 7\n retry 5\n connect_timeout 4\n' +
        ' real_server 10.0.0.2 80 {\n  delay_before_retry 9\n  TCP_CHECK {\n  }\n  HTTP_GET {\n   url { path / }\n   retry 0\n  }\n }\n' +
        ' real_server 10.0.0.3 {\n  DNS_CHECK {\n  }\n }\n}',
    );
    const [a, b] = r.model.virtualServers[0]!.realServers;
    const [tcp, http] = a!.checkers;
    assert.deepEqual([tcp!.delayLoop, tcp!.retry, tcp!.connectTimeout, tcp!.delayBeforeRetry, tcp!.warmup], [7, 5, 4, 9, 7]);
    assert.equal(http!.retry, 0);
    // A real server without a port takes the virtual server's.
    assert.equal(b!.port, 80);
    const dns = b!.checkers[0]!;
    // DNS_CHECK's delay_before_retry defaults to delay_loop; retry comes from the virtual server.
    assert.deepEqual([dns.retry, dns.delayBeforeRetry], [5, 7]);
  });

  it('uses keepalived defaults when nothing is set', () => {
    const r = load(VI('') + 'virtual_server 10.0.0.1 443 {\n real_server 10.0.0.2 443 {\n  SSL_GET {\n   url { path / }\n  }\n }\n}');
    const inst = r.model.vrrpInstances[0]!;
    assert.deepEqual([inst.state, inst.priority, inst.advertInt, inst.version, inst.garpMasterDelay, inst.garpMasterRepeat], ['BACKUP', 100, 1, 2, 5, 5]);
    const vs = r.model.virtualServers[0]!;
    assert.deepEqual([vs.scheduler, vs.forwarding.kind, vs.protocol, vs.delayLoop], ['rr', 'NAT', 'TCP', 60]);
    const c = vs.realServers[0]!.checkers[0]!;
    assert.deepEqual([c.connectTimeout, c.retry, c.delayBeforeRetry], [5, 1, 3]);
  });

  it('global_defs VRRP defaults apply to instances wherever global_defs is written', () => {
    const r = load(VI('') + 'global_defs {\n vrrp_version 3\n vrrp_garp_master_delay 1\n}');
    assert.deepEqual([r.model.vrrpInstances[0]!.version, r.model.vrrpInstances[0]!.garpMasterDelay], [3, 1]);
  });

  it('parses virtual_ipaddress options, unicast peers and tracking weights', () => {
    const r = load(
      VI(
        ' virtual_ipaddress {\n  192.168.2.100/24 dev eth0 label eth0:vip brd 192.168.2.255 scope global\n  fe80::1/64 dev eth1 -nodad\n }\n' +
          ' unicast_src_ip 10.0.0.11\n unicast_peer {\n  10.0.0.12 min_ttl 250\n  10.0.0.13\n }\n' +
          ' track_interface {\n  eth1 weight -10\n  eth2\n }\n track_script {\n  chk weight 5 reverse\n }',
      ) + 'vrrp_script chk {\n script "/bin/true arg"\n weight -20\n}',
    );
    const i = r.model.vrrpInstances[0]!;
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(r.diagnostics));
    assert.deepEqual(
      i.vips.map((v) => [v.address, v.prefix, v.dev, v.label, v.broadcast, v.noDad]),
      [['10.0.0.1', 32, undefined, undefined, undefined, undefined], ['192.168.2.100', 24, 'eth0', 'eth0:vip', '192.168.2.255', undefined], ['fe80::1', 64, 'eth1', undefined, undefined, true]],
    );
    assert.deepEqual(i.unicastPeers.map((p) => [p.address, p.minTtl]), [['10.0.0.12', 250], ['10.0.0.13', undefined]]);
    assert.deepEqual(i.trackInterfaces.map((t) => [t.name, t.weight]), [['eth1', -10], ['eth2', undefined]]);
    assert.deepEqual([i.trackScripts[0]!.weight, i.trackScripts[0]!.weightReverse], [5, true]);
    assert.deepEqual(r.model.vrrpScripts[0]!.script.argv, ['/bin/true', 'arg']);
  });

  it('parses lb_kind TUN options, fwmark and group services, sorry servers and groups', () => {
    const r = load(
      'virtual_server_group G {\n 10.0.0.1 80\n 10.0.0.5-9 80\n fwmark 3\n}\n' +
        'virtual_server group G {\n lb_kind TUN type gue port 6080 remcsum\n lb_algo mh\n mh-port\n sorry_server 10.0.1.1 80\n real_server 10.0.0.2 80\n}\n' +
        'virtual_server fwmark 7 {\n lb_kind DR\n persistence_timeout\n real_server 10.0.0.3\n}',
    );
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(r.diagnostics));
    const g = r.model.virtualServerGroups[0]!;
    assert.deepEqual(g.entries.map((e) => [e.kind, e.address ?? e.fwmark, e.rangeEnd]), [['ip', '10.0.0.1', undefined], ['range', '10.0.0.5', 9], ['fwmark', 3, undefined]]);
    const [vs1, vs2] = r.model.virtualServers;
    assert.deepEqual(vs1!.forwarding, { kind: 'TUN', tunType: 'gue', tunPort: 6080, tunCsum: 'remcsum' });
    assert.deepEqual(vs1!.schedFlags, { mhPort: true });
    assert.deepEqual(vs1!.sorryServer, { inhibit: false, address: '10.0.1.1', port: 80 });
    assert.deepEqual(vs2!.address, { kind: 'fwmark', fwmark: 7 });
    assert.equal(vs2!.persistenceTimeout, 360);
    assert.equal(vs2!.realServers[0]!.port, undefined);
  });

  it('refuses auth_type AH, an unknown scheduler and a bad digest', () => {
    assert.equal(errs(VI(' authentication {\n auth_type AH\n auth_pass x\n }'))[0]!.message, 'not supported: auth_type AH');
    assert.equal(errs('virtual_server 10.0.0.1 80 {\n lb_algo rrr\n}')[0]!.code, 'unknown-scheduler');
    assert.match(errs('virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest xyz\n   }\n  }\n }\n}')[0]!.message, /32 hexadecimal/);
  });

  it('sync group members outside group { } get a hint', () => {
    const e = errs('vrrp_sync_group G {\n VI_1\n}');
    assert.match(e[0]!.hint ?? '', /inside group/);
  });

  it('never throws on garbage input', () => {
    const inputs = ['constructor', '__proto__ {', 'global_defs {\n toString 1\n hasOwnProperty\n}', 'vrrp_instance V {\n valueOf {\n }\n}', '{{{{', '}}}}', 'virtual_server', 'real_server 1 2 3 4 {', '"', "'", '$', '${', '~SEQ(', '@', '\\', 'vrrp_instance {', 'virtual_server 10.0.0.1 80 { real_server { } }'];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const words = ['{', '}', 'vrrp_instance', 'virtual_server', 'real_server', 'HTTP_GET', 'url', 'path', '10.0.0.1', '80', '"x y"', '$A', '@b', '#', 'weight', '-1', '\n'];
    for (let i = 0; i < 300; i++) inputs.push(Array.from({ length: 30 }, () => words[Math.floor(rnd() * words.length)]).join(' '));
    for (const text of inputs) assert.doesNotThrow(() => load(text), text);
  });

  it('never throws on mutations of a real file', () => {
    const base = readFileSync(`${SEED}lb1.conf`, 'utf8');
    let seed = 11;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor((seed / 2 ** 31) * n));
    const junk = ['{', '}', '"', "'", '$X', '\\', '\n', ' ', '#', '@a ', '~SEQ(i,1,3) ', '-', '0', 'ffff'];
    for (let i = 0; i < 200; i++) {
      let t = base;
      for (let k = 0; k < 5; k++) {
        const at = rnd(t.length);
        t = rnd(2) ? t.slice(0, at) + t.slice(at + 1 + rnd(20)) : t.slice(0, at) + junk[rnd(junk.length)] + t.slice(at);
      }
      assert.doesNotThrow(() => load(t), t);
    }
  });
});
