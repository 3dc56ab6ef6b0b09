// haldir's model of keepalived's reading (ka-reading.ts) against the real
// keepalived 2.2.7, in a throwaway network namespace with an eth0: for the
// seed's four files and compact variants, keepalived -t logs exactly the
// parse messages haldir predicts at the same lines, keepalived's VRRP process
// dumps (-d) the instances of haldir's keepalived model (state, VRID,
// priority, authentication and password on the wire, addresses), and its
// checker process lists the real servers of haldir's keepalived model.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Diagnostics } from '../../src/config/diagnostics.js';
import { readAsKeepalived } from '../../src/config/keepalived/ka-reading.js';
import { KeepalivedLexer } from '../../src/config/keepalived/lexer.js';
import { loadKeepalivedFile } from '../../src/config/keepalived/load.js';
import type { NodeModel } from '../../src/model/types.js';
import { passAuthData } from '../../src/vrrp/packet.js';
import { SEED } from '../helpers/paths.js';
import { KaHost, kaSkip } from './ka-host.js';

/** Compact forms keepalived reads differently (each loads in haldir; most with warnings). */
export const VARIANTS: Record<string, string> = {
  'rs-without-block.conf': [
    'vrrp_instance VI_2 {',
    '  state BACKUP',
    '  interface eth0',
    '  virtual_router_id 53',
    '  priority 90',
    '  virtual_ipaddress {',
    '    192.168.2.102/24',
    '  }',
    '}',
    'virtual_server 192.168.2.102 80 {',
    '  lb_algo rr',
    '  lb_kind DR',
    '  protocol TCP',
    '  real_server 192.168.2.11 80',
    '  real_server 192.168.2.12 80 {',
    '    weight 3',
    '  }',
    '  real_server 192.168.2.13 80 { weight 2',
    '    TCP_CHECK { connect_timeout 3 }',
    '  }',
    '  real_server 192.168.2.15 80 {',
    '    HTTP_GET {',
    '      url { path / status_code 200 }',
    '    } }',
    '} virtual_server 192.168.2.102 81 {',
    '  lb_kind DR',
    '  real_server 192.168.2.11 81 {',
    '    weight 1',
    '  }',
    '}',
    '}',
  ].join('\n'),
  'one-line-blocks.conf': [
    'virtual_server 192.168.2.103 80 { delay_loop 5 lb_algo rr lb_kind NAT protocol TCP',
    '  real_server 192.168.2.11 8080 { weight 1 }',
    '  real_server 192.168.2.12 8080 {',
    '    weight 1',
    '    MISC_CHECK { misc_path "/bin/true" misc_timeout 3 }',
    '  }',
    '}',
    'vrrp_instance VI_3 { interface eth0 virtual_router_id 54 priority 80 virtual_ipaddress { 192.168.2.103 } }',
  ].join('\n'),
  'value-blocks.conf': [
    'global_defs { router_id V4 }',
    'vrrp_script chk1 {',
    '  script "/bin/true"',
    '}',
    'vrrp_script chk2 { script "/bin/true" interval 2 weight -20 }',
    'vrrp_instance VI_4 {',
    '  state master',
    '  interface eth0',
    '  virtual_router_id 55',
    '  priority 90 advert_int 2',
    '  virtual_ipaddress {',
    '    192.168.2.104/24 192.168.2.105/24',
    '  }',
    '  track_script {',
    '    chk1 chk2',
    '  }',
    '  unicast_peer {',
    '    192.168.2.12 192.168.2.13',
    '  }',
    '  authentication {',
    '    auth_type pass',
    '    auth_pass abc',
    '  }',
    '}',
  ].join('\n'),
  'auth-one-line-v3.conf': [
    'vrrp_instance VI_5 {',
    '  interface eth0',
    '  virtual_router_id 56',
    '  priority 300',
    '  advert_int 1.5',
    '  authentication { auth_pass 0123456789 auth_type PASS }',
    '  virtual_ipaddress { 192.168.2.106/24 dev eth0 }',
    '}',
    'vrrp_instance VI_6 {',
    '  interface eth0',
    '  virtual_router_id 57',
    '  authentication {',
    '    auth_type PASS',
    '    auth_pass 0123456789',
    '  }',
    '  virtual_ipaddress {',
    '    192.168.2.107/24',
    '  }',
    '}',
  ].join('\n'),
};

/** keepalived's parse messages that ka-reading predicts for a file, as keepalived -t prints them. */
function predicted(file: string): string[] {
  const lines = new KeepalivedLexer(new Diagnostics(), { configId: 'x' }).lexFile(file);
  return [...new Set(readAsKeepalived(lines).actions.filter((a) => a.configError).map((a) => `${a.at.line}:${a.log}`))].sort();
}

/** The instances of a model as keepalived's dump shows them. */
function asDump(m: NodeModel) {
  return m.vrrpInstances.map((i) => {
    const auth = i.auth && i.version === 2 && !i.strictMode;
    return {
      name: i.name,
      state: i.state,
      vrid: i.vrid,
      priority: i.priority,
      advert: i.version === 2 ? `${Math.max(1, Math.round(i.advertInt))} sec` : `${Math.round(i.advertInt * 1000)} milli-sec`,
      auth: auth ? 'SIMPLE_PASSWORD' : 'none',
      // keepalived prints the 8 octets it sends.
      password: auth ? Buffer.from(passAuthData(i.auth!.pass)).toString('utf8').replace(/\0+$/, '') : undefined,
      vips: i.vips.map((v) => `${v.address}/${v.prefix}`),
    };
  });
}

function pools(m: NodeModel): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const v of m.virtualServers) {
    const a = v.address;
    if (a.kind !== 'ip') continue;
    out.set(`${a.address}:${a.port}/${v.protocol}`, v.realServers.map((r) => `${r.address}:${r.port ?? a.port}`));
  }
  return out;
}

describe('haldir’s model of keepalived against keepalived 2.2.7 itself', { skip: kaSkip() }, () => {
  let host: KaHost;
  const files: string[] = [];
  before(() => {
    host = new KaHost();
    for (const n of [1, 2, 3, 4]) files.push(`${SEED}lb${n}.conf`);
    for (const [name, text] of Object.entries(VARIANTS)) {
      const f = join(host.dir, name);
      writeFileSync(f, text + '\n');
      files.push(f);
    }
  });
  after(() => host?.close());

  it('keepalived -t logs exactly the parse messages haldir predicts, at the same lines', () => {
    for (const f of files) {
      const t = host.configTest(f);
      assert.deepEqual(predicted(f), t.parse, `${f}\n${t.out}`);
      // -t fails on every file keepalived reads differently (exit 5 for configuration errors).
      assert.notEqual(t.status, 0, f);
    }
  });

  it("keepalived's VRRP process runs the instances of haldir's keepalived model", async () => {
    for (const f of files) {
      // keepalived's VRRP process idles without instances: only files that have some.
      if (loadKeepalivedFile(f, { configId: 'x' }).model.vrrpInstances.length === 0) continue;
      const r = loadKeepalivedFile(f, { configId: 'x', strictKeepalived: true });
      const d = await host.vrrpDump(f);
      const got = d.instances.map((i) => ({ name: i.name, state: i.state, vrid: i.vrid, priority: i.priority, advert: i.advert, auth: i.auth, password: i.password, vips: i.vips.map((v) => v.split(' ')[0]) }));
      assert.deepEqual(got, asDump(r.model), `${f}\n${d.log.slice(-3000)}`);
    }
  });

  it("keepalived's checker process has the real servers of haldir's keepalived model", async () => {
    for (const f of files) {
      if (loadKeepalivedFile(f, { configId: 'x' }).model.virtualServers.length === 0) continue;
      const r = loadKeepalivedFile(f, { configId: 'x', strictKeepalived: true });
      const c = await host.checkerServices(f);
      assert.deepEqual(c.services, pools(r.model), `${f}\n${c.log.slice(-3000)}`);
    }
  });

  it('the seed as keepalived runs it: lb1 with PASS "supersec", lb2–lb4 without authentication; :80 keeps two real servers, the others one', async () => {
    const lb1 = await host.vrrpDump(`${SEED}lb1.conf`);
    assert.deepEqual([lb1.instances[0]!.auth, lb1.instances[0]!.password], ['SIMPLE_PASSWORD', 'supersec']);
    for (const n of [2, 3, 4]) {
      const d = await host.vrrpDump(`${SEED}lb${n}.conf`);
      assert.equal(d.instances[0]!.auth, 'none');
      assert.match(d.log, /\(VI_1\) Authentication specified but no password given\. Ignoring/);
    }
    const c = await host.checkerServices(`${SEED}lb2.conf`);
    assert.deepEqual([...c.services].map(([k, v]) => `${k} ${v.join(' ')}`), [
      '192.168.2.100:80/TCP 192.168.2.11:80 192.168.2.12:80',
      '192.168.2.100:443/TCP 192.168.2.11:443',
      '192.168.2.100:8443/TCP 192.168.2.11:8443',
      '192.168.2.100:6443/TCP 192.168.2.11:6443',
    ]);
  });
});
