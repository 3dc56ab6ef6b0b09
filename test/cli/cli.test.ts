// The command line: exit codes (0 valid, 1 invalid, 2 usage), messages that
// name the bad argument, JSON output, plan and export.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { SEED } from '../helpers/paths.js';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'haldir-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('haldir CLI', () => {
  it('validate: the seed files are valid (exit 0), with their warnings', async () => {
    const r = await run('validate', `${SEED}lb1.conf`, `${SEED}lb2.conf`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /valid keepalived configuration \(LB1, LB2\): 0 errors/);
    assert.match(r.err, /auth_pass is 11 characters long/);
  });

  it('validate: an invalid file exits 1 and names file:line:col', async () => {
    const f = join(tmp, 'bad.conf');
    writeFileSync(f, 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priorty 100\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n');
    const r = await run('validate', f);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${f}:4:3: error: unknown keyword "priorty"`));
    assert.match(r.err, /did you mean "priority"/);
  });

  it('validate --json: machine-readable diagnostics', async () => {
    const r = await run('validate', '--json', `${SEED}haldir.yaml`);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { valid: boolean; kind: string; nodes: string[]; diagnostics: { loc: { line: number } }[] };
    assert.equal(j.valid, true);
    assert.equal(j.kind, 'cluster');
    assert.deepEqual(j.nodes, ['lb1', 'lb2', 'lb3', 'lb4']);
    assert.ok(j.diagnostics.every((d) => d.loc.line > 0));
  });

  it('validate --node checks that node\'s view only', async () => {
    const f = join(tmp, 'nodes.yaml');
    writeFileSync(
      f,
      readFileSync(`${SEED}haldir.yaml`, 'utf8').replace('    master: lb1', '    master: lb1\n    priorities: { lb3: 255 }'),
    );
    const all = await run('validate', '--json', f);
    const lb3 = await run('validate', '--json', '--node', 'lb3', f);
    const lb1 = await run('validate', '--json', '--node', 'lb1', f);
    const codes = (r: { out: string }) => (JSON.parse(r.out) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code);
    assert.ok(codes(all).includes('priority-owner-unverified'));
    assert.ok(codes(lb3).includes('priority-owner-unverified'));
    assert.ok(!codes(lb1).includes('priority-owner-unverified'));
  });

  it('validate --strict turns warnings into failure', async () => {
    assert.equal((await run('validate', '--strict', `${SEED}lb1.conf`)).code, 1);
  });

  it('usage errors exit 2 and name the bad argument', async () => {
    let r = await run('validate', join(tmp, 'missing.conf'));
    assert.equal(r.code, 2);
    assert.match(r.err, /no such file: .*missing\.conf/);
    r = await run('validate', '--bogus', `${SEED}lb1.conf`);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown option '--bogus'/);
    r = await run('frobnicate');
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command 'frobnicate'/);
    r = await run('plan', `${SEED}haldir.yaml`);
    assert.equal(r.code, 2);
    assert.match(r.err, /4 nodes \(lb1, lb2, lb3, lb4\); choose one with --node/);
    r = await run('plan', `${SEED}haldir.yaml`, '--node', 'lb9');
    assert.equal(r.code, 2);
    assert.match(r.err, /no node "lb9"/);
    r = await run();
    assert.equal(r.code, 2);
  });

  it('--help and --version exit 0', async () => {
    assert.equal((await run('--help')).code, 0);
    assert.equal((await run('plan', '--help')).code, 0);
    assert.equal((await run('--version')).code, 0);
  });

  it('plan: ipvsadm -Ln layout, never the password', async () => {
    const r = await run('plan', `${SEED}haldir.yaml`, '--node', 'lb2');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Prot LocalAddress:Port Scheduler Flags\n {2}-> RemoteAddress:Port {11}Forward Weight ActiveConn InActConn/);
    assert.match(r.out, /TCP {2}192\.168\.2\.100:80 rr\n {2}-> 192\.168\.2\.11:80 {14}Route {3}1 {6}0 {10}0/);
    assert.match(r.out, /priority +99/);
    assert.doesNotMatch(r.out + r.err, /supersec/);
    const j = JSON.parse((await run('plan', '--json', `${SEED}lb1.conf`)).out) as object;
    assert.ok(j);
  });

  it('plan refuses an invalid configuration with exit 1', async () => {
    const f = join(tmp, 'dup.conf');
    writeFileSync(f, 'vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress { 10.0.0.1 }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress { 10.0.0.2 }\n}\n');
    const r = await run('plan', f);
    assert.equal(r.code, 1);
    assert.match(r.err, /vrid-duplicate/);
  });

  it('export keepalived: one node from the cluster file, readable back', async () => {
    const out = join(tmp, 'lb3.conf');
    const r = await run('export', 'keepalived', `${SEED}haldir.yaml`, '--node', 'lb3', '-o', out);
    assert.equal(r.code, 0, r.err);
    const back = loadKeepalivedText(readFileSync(out, 'utf8'), out);
    assert.deepEqual(back.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.equal(back.model.vrrpInstances[0]!.priority, 98);
  });

  it('export yaml: four keepalived files become one cluster file', async () => {
    const r = await run('export', 'yaml', ...['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${SEED}${n}.conf`));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /nodes:/);
    const f = join(tmp, 'cluster.yaml');
    writeFileSync(f, r.out);
    const v = await run('validate', '--json', f);
    assert.deepEqual((JSON.parse(v.out) as { nodes: string[] }).nodes, ['LB1', 'LB2', 'LB3', 'LB4']);
  });

  it('rules lists every semantic check', async () => {
    const r = await run('rules', '--json');
    const rules = JSON.parse(r.out) as { code: string }[];
    assert.ok(rules.length >= 25);
    assert.ok(rules.some((x) => x.code === 'vrid-duplicate'));
  });

  it('schema prints the JSON Schema', async () => {
    const r = await run('schema');
    assert.equal((JSON.parse(r.out) as { type: string }).type, 'object');
  });

  it('every command is registered: run, apply, dataplane show, check, demo', async () => {
    for (const argv of [['run', '--help'], ['apply', '--help'], ['dataplane', 'show', '--help'], ['check', '--help'], ['demo', '--help']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.out, new RegExp(`Usage: haldir ${argv.slice(0, -1).join(' ')}`));
    }
  });

  it('demo --local (what runs without root): traffic through haldir run, a backend out and back', async () => {
    const r = await run('demo', '--local');
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /30 requests: be1:10 be2:10 be3:10 {2}failed:0/);
    assert.match(r.out, /haldir took be2 out after/);
    assert.match(r.out, /30 requests: be1:15 be3:15 {2}failed:0/);
    assert.match(r.out, /be2 is back after/);
  });

  it('demo shows both front ends agree', async () => {
    const r = await run('demo', '--offline');
    assert.equal(r.code, 0, r.err);
    assert.equal((r.out.match(/: identical/g) ?? []).length, 4);
  });
});
