// keepalived's own reading of a file (ka-reading.ts) and what haldir reports
// about it (ka-compare.ts): the seed's four files as keepalived 2.2.7 reads
// them (measured: the same messages at the same lines, see ka-binary.test.ts),
// warnings with file:line:col that say what keepalived runs instead, the
// --strict-keepalived model, and the compact forms keepalived reads
// differently. No password ever appears in a message.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Diagnostics, formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { divergent, readAsKeepalived, splitAtBraces } from '../../src/config/keepalived/ka-reading.js';
import { KeepalivedLexer } from '../../src/config/keepalived/lexer.js';
import { loadKeepalivedFile, loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { loadConfig } from '../../src/config/load.js';
import type { HttpChecker, NodeModel } from '../../src/model/types.js';
import { SEED } from '../helpers/paths.js';

const readText = (path: string) => readFileSync(path, 'utf8');
const lex = (text: string) => new KeepalivedLexer(new Diagnostics(), { configId: 'x' }).lexText(text, 'k.conf');
const seedFile = (n: number) => `${SEED}lb${n}.conf`;
const ka = (d: Diagnostic[]) => d.filter((x) => x.code.startsWith('keepalived-'));
const at = (d: Diagnostic) => `${d.loc!.line}:${d.loc!.col}`;
/** Real servers per service, "port: addresses". */
function pools(m: NodeModel): string[] {
  return m.virtualServers.map((v) => `${v.address.kind === 'ip' ? v.address.port : '?'}: ${v.realServers.map((r) => r.address.split('.')[3]).join(' ')}`);
}

/** Everything a report prints, to search for secrets. */
const printed = (ds: Diagnostic[]) => ds.map((d) => formatDiagnostic(d) + JSON.stringify(d.related ?? [])).join('\n');

describe("keepalived's reading: read_line splits at braces", () => {
  it('every { and } becomes a piece of its own, also glued to a word; quoted ones stay', () => {
    const p = splitAtBraces(lex('url { path /x status_code 200}}\nscript "/bin/{x}"\n'));
    assert.deepEqual(
      p.map((x) => x.map((t) => t.text).join(' ')),
      ['url', '{', 'path /x status_code 200', '}', '}', 'script /bin/{x}'],
    );
    // Columns of the split pieces point into the line.
    assert.deepEqual(p.map((x) => x[0]!.col), [1, 5, 7, 30, 31, 1]);
  });
});

describe('the seed as keepalived 2.2 reads it', () => {
  it('lb2: one-line authentication → auth_type PASS and nothing else; keepalived runs no authentication', () => {
    const r = loadKeepalivedFile(seedFile(2));
    assert.deepEqual(r.model.vrrpInstances[0]!.auth, { type: 'PASS', pass: 'supersecret' }, 'haldir reads what the author meant');
    assert.equal(r.keepalivedModel!.vrrpInstances[0]!.auth, undefined);
    const w = r.diagnostics.find((d) => d.code === 'keepalived-auth')!;
    assert.equal(w.severity, 'warning');
    assert.equal(`${w.loc!.file}:${at(w)}`, `${seedFile(2)}:9:3`);
    assert.equal(
      w.message,
      'keepalived reads one keyword per line: here it sees `auth_type PASS` and ignores `auth_pass ********` → VI_1 runs with no authentication ' +
        '(keepalived logs "(VI_1) Authentication specified but no password given. Ignoring") instead of PASS: nodes that read this block as ' +
        'written drop its adverts and it drops theirs (RFC 3768 §7.1), so each of them becomes MASTER',
    );
    assert.match(w.related![0]!.message, /keepalived reads line 9 as: `authentication`, \{, `auth_type PASS` \(ignoring `auth_pass \*\*\*\*\*\*\*\*`\), \} ends authentication/);
  });

  it('lb1: keepalived keeps 2 real servers on :80 and 1 on :443, :8443, :6443, the compact ones without checks', () => {
    const r = loadKeepalivedFile(seedFile(1));
    assert.deepEqual(pools(r.model), ['80: 11 12 13 14', '443: 11 12 13 14', '8443: 11 12 13 14', '6443: 11 12 13 14']);
    const k = r.keepalivedModel!;
    assert.deepEqual(pools(k), ['80: 11 12', '443: 11', '8443: 11', '6443: 11']);
    // The multi-line real server keeps its HTTP_GET, but `url { path /healthz status_code 200 }` loses the status code.
    const c = k.virtualServers[0]!.realServers[0]!.checkers[0] as HttpChecker;
    assert.deepEqual([c.type, c.urls[0]!.path, c.urls[0]!.statusCodes], ['HTTP_GET', '/healthz', []]);
    assert.deepEqual(k.virtualServers.map((v) => v.realServers.map((x) => x.checkers.length).join('')), ['10', '0', '0', '0']);
    // VRRP is read as written: lb1's authentication block is multi-line.
    assert.deepEqual(k.vrrpInstances[0]!.auth, { type: 'PASS', pass: 'supersecret' });
  });

  it('lb1: what keepalived logs, line by line (as keepalived 2.2.7 -t prints it)', () => {
    const lines = readAsKeepalived(lex(readText(seedFile(1))));
    const logs = (line: number) => lines.actions.filter((a) => a.at.line === line && a.configError).map((a) => a.log);
    assert.deepEqual(logs(38), ["Unexpected '{' - ignoring", "Unknown keyword 'url'", "Unexpected '{' - ignoring", "Unknown keyword 'path'", "Unknown keyword '}'"]);
    assert.deepEqual(logs(50), ["Unexpected '{' - ignoring"]);
    assert.deepEqual(logs(51), ["Unknown keyword 'real_server'", "Unexpected '{' - ignoring", "Unknown keyword 'weight'", "Unexpected '{' - ignoring", "Unknown keyword 'connect_timeout'", "Unknown keyword '}'", "Unknown keyword '}'"]);
    assert.deepEqual(logs(54), ["Unknown keyword '}'"]);
    assert.deepEqual(logs(12), []);
    // keepalived 2.2.7 -t prints 70 distinct line:message pairs for lb1.
    assert.equal(new Set(lines.actions.filter((a) => a.configError).map((a) => `${a.at.line}:${a.log}`)).size, 70);
  });

  it('lb1: warnings name file:line:col and what keepalived runs instead', () => {
    const r = loadKeepalivedFile(seedFile(1));
    const w = ka(r.diagnostics);
    assert.ok(w.every((d) => d.severity === 'warning' && d.loc?.file === seedFile(1) && d.hint));
    const byCode = (c: string) => w.filter((d) => d.code === c).map(at);
    assert.deepEqual(byCode('keepalived-real-server-dropped'), ['39:3', '40:3', '51:3', '52:3', '53:3', '64:3', '65:3', '66:3', '77:3', '78:3', '79:3']);
    assert.deepEqual(byCode('keepalived-check-dropped'), ['38:42', '50:43', '63:44', '76:44']);
    assert.deepEqual(byCode('keepalived-check'), ['32:27']);
    assert.deepEqual(byCode('keepalived-reads-differently'), ['41:1', '54:1', '67:1', '80:1']);
    const drop = w.find((d) => at(d) === '51:3')!;
    assert.equal(
      drop.message,
      "keepalived reads this real_server after a '}' on line 50 has already ended virtual_server 192.168.2.100 443 for it (\"Unknown keyword 'real_server'\"), and drops it → 192.168.2.100:443/TCP keeps 1 of its 4 real servers (192.168.2.11:443)",
    );
    assert.match(w.find((d) => at(d) === '50:43')!.message, /here it sees `weight 1` and ignores `TCP_CHECK` → real_server 192.168.2.11 443 runs without a health check/);
    assert.match(w.find((d) => at(d) === '32:27')!.message, /sees `path \/healthz` and ignores `status_code 200` → .* accepts status 200-299 \(the default\) for \/healthz instead of 200/);
  });

  it('lb1–lb4 as haldir reads them: one consistent cluster; as keepalived reads them: an authentication split', () => {
    const files = [1, 2, 3, 4].map(seedFile);
    const meant = loadConfig(files);
    assert.equal(meant.diagnostics.filter((d) => d.severity === 'error').length, 0);
    assert.ok(!meant.diagnostics.some((d) => d.code === 'cluster-auth-mismatch'));
    assert.ok(meant.diagnostics.some((d) => d.code === 'keepalived-auth' && d.severity === 'warning'));
    const real = loadConfig(files, { strictKeepalived: true });
    const split = real.diagnostics.find((d) => d.code === 'cluster-auth-mismatch')!;
    assert.equal(split.severity, 'error');
    assert.match(split.message, /LB1: PASS vs LB2, LB3, LB4: none.*split brain/);
    assert.deepEqual(
      [split.loc, ...(split.related ?? []).map((x) => x.loc)].map((l) => `${l!.file.split('/').pop()}:${l!.line}`).sort(),
      ['lb1.conf:13', 'lb2.conf:9', 'lb3.conf:9', 'lb4.conf:9'],
    );
    // Every difference is an error now, and the models are keepalived's.
    assert.ok(ka(real.diagnostics).length > 0 && ka(real.diagnostics).every((d) => d.severity === 'error'));
    assert.deepEqual(pools(real.models.get('LB3')!), ['80: 11 12', '443: 11', '8443: 11', '6443: 11']);
    assert.equal(real.models.get('LB2')!.vrrpInstances[0]!.auth, undefined);
  });

  it('never shows a password, not even its first 8 characters', () => {
    for (const n of [1, 2, 3, 4]) {
      for (const strict of [false, true]) {
        const text = printed(loadKeepalivedFile(seedFile(n), { strictKeepalived: strict }).diagnostics);
        assert.doesNotMatch(text, /supersec/);
      }
    }
    const r = loadKeepalivedText('vrrp_instance V {\n interface eth0\n virtual_router_id 3\n authentication { auth_pass t0p-s3cret auth_type PASS }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n', 'k.conf');
    assert.ok(ka(r.diagnostics).length > 0);
    assert.doesNotMatch(printed(r.diagnostics), /t0p-s3/);
  });
});

describe('compact forms keepalived reads differently', () => {
  const load = (text: string, strict = false) => loadKeepalivedText(text, 'k.conf', { configId: 'x', ...(strict ? { strictKeepalived: true } : {}) });

  it('a file with one keyword per line is read once: no second reading, no warning', () => {
    const r = load(readText(`${SEED}lb1.conf`).split('\n').slice(0, 20).join('\n'));
    assert.equal(r.keepalivedModel, undefined);
    assert.deepEqual(ka(r.diagnostics), []);
  });

  it('a real_server without its block takes the next lines as its block (and the next real_server is lost)', () => {
    const text = [
      'virtual_server 10.0.0.1 80 {',
      '  lb_algo rr',
      '  protocol TCP',
      '  real_server 10.0.0.11 80',
      '  real_server 10.0.0.12 80 {',
      '    weight 3',
      '  }',
      '}',
    ].join('\n');
    const r = load(text);
    assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
    const w = ka(r.diagnostics);
    assert.deepEqual(w.map((d) => `${d.code} ${at(d)}`).sort(), ['keepalived-real-server 4:3', 'keepalived-real-server-dropped 5:3']);
    assert.match(w.find((d) => d.code === 'keepalived-real-server')!.message, /"Missing '\{' at beginning of configuration block"\) → real_server 10\.0\.0\.11 80 runs with weight 3 instead of 1/);
    const k = load(text, true).model;
    assert.deepEqual(k.virtualServers[0]!.realServers.map((x) => [x.address, x.weight]), [['10.0.0.11', 3]]);
  });

  it('a one-line vrrp_instance: keepalived reads only its first keyword and its VRRP process refuses to start', () => {
    const r = load('vrrp_instance VI_3 { interface eth0 virtual_router_id 54 priority 80 virtual_ipaddress { 10.0.0.3 } }\n');
    const d = r.diagnostics.find((x) => x.code === 'keepalived-instance-dropped')!;
    assert.equal(at(d), '1:1');
    assert.match(d.message, /sees `interface eth0` and ignores `virtual_router_id 54 priority 80 virtual_ipaddress`.*"\(VI_3\) the virtual router id must be set"/);
    assert.deepEqual(load('vrrp_instance VI_3 { interface eth0 virtual_router_id 54 priority 80 virtual_ipaddress { 10.0.0.3 } }\n', true).model.vrrpInstances, []);
  });

  it('a compact virtual_server line: keepalived keeps delay_loop and runs UDP with wlc', () => {
    const r = load('virtual_server 10.0.0.1 80 { delay_loop 5 lb_algo rr lb_kind NAT protocol TCP\n  real_server 10.0.0.11 8080 {\n    weight 1\n  }\n}\n');
    const w = ka(r.diagnostics).map((d) => d.message);
    assert.ok(w.some((m) => /runs with lb_algo wlc instead of rr/.test(m)));
    assert.ok(w.some((m) => /runs with protocol UDP instead of TCP/.test(m)));
    const k = load('virtual_server 10.0.0.1 80 { delay_loop 5 lb_algo rr lb_kind NAT protocol TCP\n  real_server 10.0.0.11 8080 {\n    weight 1\n  }\n}\n', true).model.virtualServers[0]!;
    assert.deepEqual([k.delayLoop, k.scheduler, k.protocol, k.forwarding.kind], [5, 'wlc', 'UDP', 'NAT']);
  });

  it('value blocks: keepalived takes one entry per line', () => {
    const text = [
      'vrrp_script a {',
      '  script /bin/true',
      '}',
      'vrrp_script b {',
      '  script /bin/true',
      '}',
      'vrrp_instance VI_4 {',
      '  interface eth0',
      '  virtual_router_id 55',
      '  virtual_ipaddress { 10.0.0.4/24 10.0.0.5/24 }',
      '  track_script { a b }',
      '  unicast_peer { 10.0.0.12 10.0.0.13 }',
      '}',
    ].join('\n');
    const r = load(text);
    const w = ka(r.diagnostics).map((d) => `${at(d)} ${d.message}`);
    assert.ok(w.some((m) => /^10:\d+ keepalived reads one entry per line .* runs with virtual_ipaddress 10\.0\.0\.4 instead of 10\.0\.0\.4, 10\.0\.0\.5/.test(m)), w.join('\n'));
    assert.ok(w.some((m) => /^11:\d+ .*track_script none instead of a, b/.test(m)), w.join('\n'));
    assert.ok(w.some((m) => /^12:\d+ .*unicast_peer 10\.0\.0\.12 instead of 10\.0\.0\.12, 10\.0\.0\.13/.test(m)), w.join('\n'));
  });

  it('a compact vrrp_script: keepalived reads only its script line', () => {
    const r = load('vrrp_script chk { script "/bin/true" interval 2 weight -20 }\n');
    const w = ka(r.diagnostics).map((d) => d.message);
    assert.ok(w.some((m) => /sees `script \/bin\/true` and ignores `interval 2 weight -20` → vrrp_script chk runs with interval 1 instead of 2/.test(m)), w.join('\n'));
  });

  it('${_RANDOM} draws are the same in both readings: no difference is made up', () => {
    const text = '$P=${_RANDOM 1 250}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 9\n  priority $P\n  virtual_ipaddress { 10.0.0.9 }\n}\n';
    const r = loadKeepalivedText(text, 'k.conf', { configId: 'x' });
    assert.ok(r.keepalivedModel, 'the compact virtual_ipaddress block asks for the second reading');
    assert.equal(r.keepalivedModel!.vrrpInstances[0]!.priority, r.model.vrrpInstances[0]!.priority);
    assert.deepEqual(ka(r.diagnostics), []);
  });

  it("divergent() tells keepalived's surprises from its ordinary reading", () => {
    const acts = readAsKeepalived(lex('global_defs {\n  router_id A\n}\n')).actions;
    assert.deepEqual(acts.filter(divergent), []);
    assert.ok(readAsKeepalived(lex('global_defs { router_id A notification_email_from x@y }\n')).actions.some(divergent));
  });
});

describe('values keepalived 2.2 reads in another spelling or with another default', () => {
  const load = (text: string, strict = false) => loadKeepalivedText(text, 'k.conf', { configId: 'x', ...(strict ? { strictKeepalived: true } : {}) });
  const VI = 'vrrp_instance VI_1 {\n  state master\n  interface eth0\n  virtual_router_id 5\n  authentication {\n    auth_type pass\n    auth_pass abc\n  }\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n';

  it('state master and auth_type pass: keepalived knows only MASTER and PASS', () => {
    const r = load(VI);
    const w = r.diagnostics.filter((d) => d.code === 'keepalived-spelling');
    assert.deepEqual(w.map(at), ['2:9', '6:15']);
    assert.match(w[0]!.message, /"\(VI_1\) unknown state 'master', defaulting to BACKUP"/);
    assert.match(w[1]!.message, /runs without authentication/);
    assert.deepEqual([r.model.vrrpInstances[0]!.state, r.model.vrrpInstances[0]!.auth?.type], ['MASTER', 'PASS']);
    const k = load(VI, true);
    assert.deepEqual([k.model.vrrpInstances[0]!.state, k.model.vrrpInstances[0]!.auth], ['BACKUP', undefined]);
    assert.ok(k.diagnostics.some((d) => d.code === 'keepalived-auth' && d.severity === 'error'));
  });

  it('lb_kind dr, and a virtual_server without protocol or lb_algo', () => {
    const r = load('virtual_server 10.0.0.1 80 {\n  lb_kind dr\n  real_server 10.0.0.11 80 {\n    weight 1\n  }\n}\n');
    const codes = r.diagnostics.map((d) => `${d.code} ${at(d)}`);
    assert.deepEqual(codes.sort(), ['keepalived-default 1:1', 'keepalived-default 1:1', 'keepalived-spelling 2:11']);
    assert.ok(r.diagnostics.some((d) => /defaulting to UDP/.test(d.message)));
    const k = load('virtual_server 10.0.0.1 80 {\n  lb_kind dr\n  real_server 10.0.0.11 80 {\n    weight 1\n  }\n}\n', true).model.virtualServers[0]!;
    assert.deepEqual([k.forwarding.kind, k.protocol, k.scheduler], ['NAT', 'UDP', 'wlc']);
  });

  it('priority 300: keepalived runs 100 (it does not clamp)', () => {
    const r = load('vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  priority 300\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n');
    const e = r.diagnostics.find((d) => d.severity === 'error')!;
    assert.equal(at(e), '4:12');
    assert.match(e.hint!, /Using default 100" and run with priority 100/);
  });
});

describe('bad input', () => {
  it('mangled files (braces, quotes, words moved around) never make either reading throw', () => {
    const srcs = [1, 2].map((n) => readText(seedFile(n)));
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const bits = ['{', '}', ' ', '\n', 'real_server 1.2.3.4 80', 'auth_pass x', 'virtual_ipaddress', '"', "'", '#', 'vrrp_instance X', 'url', '}}', '{{'];
    for (let n = 0; n < 300; n++) {
      let t = srcs[Math.floor(rnd() * srcs.length)]!;
      for (let k = 0; k < 1 + rnd() * 6; k++) {
        const pos = Math.floor(rnd() * t.length);
        const op = rnd();
        if (op < 0.4) t = t.slice(0, pos) + bits[Math.floor(rnd() * bits.length)]! + t.slice(pos);
        else if (op < 0.7) t = t.slice(0, pos) + t.slice(pos + 1 + Math.floor(rnd() * 5));
        else t = t.slice(0, pos) + t.slice(pos).replace('\n', ' ');
      }
      for (const strict of [false, true]) {
        const r = loadKeepalivedText(t, 'f.conf', { configId: 'x', strictKeepalived: strict });
        assert.ok(Array.isArray(r.diagnostics));
      }
    }
  });
});
