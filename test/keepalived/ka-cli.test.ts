// --strict-keepalived on the command line: validate reports the seed's
// authentication split as keepalived would run it, plan shows what keepalived
// would program, export refuses a file keepalived reads differently; without
// the option the same differences are warnings.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const tmp = mkdtempSync(join(tmpdir(), 'haldir-ka-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const seed = [1, 2, 3, 4].map((n) => `${SEED}lb${n}.conf`);

describe('haldir --strict-keepalived', () => {
  it('validate: without it the seed is valid, with warnings naming what keepalived reads differently', async () => {
    const r = await run('validate', ...seed);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`${SEED}lb2\\.conf:9:3: warning: keepalived reads one keyword per line: here it sees \`auth_type PASS\` and ignores \`auth_pass \\*{8}\` → VI_1 runs with no authentication`));
    assert.doesNotMatch(r.err, /cluster-auth-mismatch/);
  });

  it('validate: with it the files are invalid and the authentication split is reported as split brain', async () => {
    const r = await run('validate', '--strict-keepalived', ...seed);
    assert.equal(r.code, 1);
    assert.match(r.err, /lb1\.conf:13:5: error: LB1, LB2, LB3 and LB4 use different authentication for VRID 51 \(LB1: PASS vs LB2, LB3, LB4: none\).*split brain.*\[cluster-auth-mismatch\]/);
    assert.match(r.err, /lb2\.conf:9:3: error: keepalived reads one keyword per line/);
    assert.match(r.out, /INVALID keepalived configuration \(LB1, LB2, LB3, LB4\)/);
    assert.doesNotMatch(r.out + r.err, /supersec/);
    const j = JSON.parse((await run('validate', '--strict-keepalived', '--json', ...seed)).out) as { valid: boolean; diagnostics: { code: string }[] };
    assert.equal(j.valid, false);
    assert.ok(j.diagnostics.some((d) => d.code === 'keepalived-real-server-dropped'));
  });

  it('plan: shows what keepalived would program (no authentication, one real server on :443) and exits 1', async () => {
    const r = await run('plan', '--strict-keepalived', `${SEED}lb2.conf`);
    assert.equal(r.code, 1);
    assert.match(r.out, /TCP {2}192\.168\.2\.100:443 rr\n {2}-> 192\.168\.2\.11:443 +Route +1 +0 +0\n +no checker: always up\nTCP/);
    assert.doesNotMatch(r.out, /^\s+auth\s/m);
    assert.match(r.err, /this is what keepalived would program/);
    const meant = await run('plan', `${SEED}lb2.conf`);
    assert.equal(meant.code, 0);
    assert.match(meant.out, /^\s+auth\s+PASS/m);
    assert.match(meant.out, /192\.168\.2\.14:443/);
  });

  it('export keepalived: refuses a file keepalived reads differently; writes one that keepalived reads as haldir', async () => {
    const refused = await run('export', 'keepalived', '--strict-keepalived', `${SEED}lb2.conf`);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /nothing exported/);
    const out = join(tmp, 'lb2.conf');
    assert.equal((await run('export', 'keepalived', `${SEED}lb2.conf`, '-o', out)).code, 0);
    const again = await run('export', 'keepalived', '--strict-keepalived', out);
    assert.equal(again.code, 0, again.err);
    const back = loadKeepalivedText(readFileSync(out, 'utf8'), out, { strictKeepalived: true });
    assert.deepEqual(back.model.vrrpInstances[0]!.auth, { type: 'PASS', pass: 'supersec' });
    assert.deepEqual(back.model.virtualServers.map((v) => v.realServers.length), [4, 4, 4, 4]);
  });

  it('rules lists the new value checks', async () => {
    const r = JSON.parse((await run('rules', '--json')).out) as { code: string }[];
    for (const c of ['nopreempt-owner', 'preempt-delay-ignored', 'unicast-ttl-without-peers', 'mcast-dst-with-unicast', 'vip-count-excess', 'strict-mode-reset', 'vs-sorry-only']) {
      assert.ok(r.some((x) => x.code === c), c);
    }
  });
});
