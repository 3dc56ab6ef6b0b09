// `haldir check --once` and `haldir genhash` against a real nginx: per real
// server up/down with the reason, exit 1 when one is down, JSON output, and a
// digest that makes HTTP_GET pass.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('haldir check --once and genhash against nginx', () => {
  let ng: Nginx;
  let closed: number;
  const dir = mkdtempSync(join(tmpdir(), 'haldir-check-'));
  const body = 'haldir digest body\n';
  before(async () => {
    ng = await startNginx(`  location /healthz { return 200 "ok\\n"; }\n  location /bad { return 503; }\n  location /body { default_type text/plain; return 200 "${body.replace('\n', '\\n')}"; }`);
    closed = await freePort();
  });
  after(async () => {
    await ng?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('genhash prints the MD5 of the body, like keepalived genhash', async () => {
    const r = await run('genhash', '--url', `http://127.0.0.1:${ng.port}/body`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `MD5SUM = ${createHash('md5').update(body).digest('hex')}\n`);
  });

  it('check --once: up, down with the reason, exit 1', async () => {
    const digest = createHash('md5').update(body).digest('hex');
    const conf = join(dir, 'k.conf');
    writeFileSync(
      conf,
      [
        'virtual_server 10.0.0.1 80 {',
        '  lb_kind NAT',
        `  real_server 127.0.0.1 ${ng.port} {`,
        '    HTTP_GET {',
        '      url {',
        '        path /healthz',
        '        status_code 200',
        '      }',
        '      url {',
        '        path /body',
        `        digest ${digest}`,
        '      }',
        '      connect_timeout 1',
        '    }',
        '  }',
        `  real_server 127.0.0.2 ${ng.port} {`,
        '    HTTP_GET {',
        '      url {',
        '        path /bad',
        '      }',
        '      connect_timeout 1',
        '    }',
        '  }',
        `  real_server 127.0.0.1 ${closed} {`,
        '    TCP_CHECK {',
        '      connect_timeout 1',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const r = await run('check', conf, '--once');
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, new RegExp(`-> 127\\.0\\.0\\.1:${ng.port} +UP`));
    assert.match(r.out, /status 503 \(expected 200-299\)/);
    assert.match(r.out, new RegExp(`-> 127\\.0\\.0\\.1:${closed} +DOWN`));
    assert.match(r.out, /connection refused/);
    assert.match(r.out, /1 of 3 real servers up/);
    const j = JSON.parse((await run('check', conf, '--once', '--json')).out) as { up: boolean; checks: { result: { latencyMs: number } }[] }[];
    assert.deepEqual(j.map((s) => s.up), [true, false, false]);
    assert.ok(j[0]!.checks.every((c) => c.result.latencyMs >= 0));
  });

  it('check without --once is a usage error', async () => {
    const conf = join(dir, 'k.conf');
    assert.equal((await run('check', conf)).code, 2);
  });
});
