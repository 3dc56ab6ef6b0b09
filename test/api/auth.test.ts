// Bearer tokens: the token file's format and its errors (file:line, what to do), and
// authorization by the right token only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { authorize, parseTokens, readClientToken, readTokens, TokenFileError } from '../../src/api/auth.js';

const tmp = mkdtempSync(join(tmpdir(), 'haldir-auth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const A = 'a'.repeat(32);
const B = 'b0b0b0b0b0b0b0b0b0b0';

describe('API tokens', () => {
  it('named and unnamed tokens, comments and blank lines', () => {
    const t = parseTokens(`# ops tokens\nops ${A}\n\n${B}\n`, 'tok');
    assert.deepEqual(t.map((x) => x.name), ['ops', 'token2']);
    assert.equal(authorize(`Bearer ${A}`, t), 'ops');
    assert.equal(authorize(`bearer ${B}`, t), 'token2');
    assert.equal(authorize(`Bearer ${A}x`, t), undefined);
    assert.equal(authorize(`Bearer ${A.slice(1)}`, t), undefined);
    assert.equal(authorize(A, t), undefined, 'the scheme is required');
    assert.equal(authorize(undefined, t), undefined);
    assert.equal(authorize('Basic b3BzOnB3', t), undefined);
  });

  it('short tokens, extra words and empty files are refused with file:line', () => {
    assert.throws(() => parseTokens('short\n', '/etc/haldir/tok'), /\/etc\/haldir\/tok:1: the token is 5 characters; use at least 16/);
    assert.throws(() => parseTokens(`# c\nops ${A} extra\n`, 'f'), /f:2: a line is TOKEN or NAME TOKEN/);
    assert.throws(() => parseTokens('# nothing\n', 'f'), TokenFileError);
  });

  it('reading: a missing file names it; a world-readable one is warned about; the client takes the first token', () => {
    assert.throws(() => readTokens(join(tmp, 'none')), /cannot read the API token file .*none: ENOENT/);
    const f = join(tmp, 'tok');
    writeFileSync(f, `ops ${A}\n`);
    chmodSync(f, 0o644);
    const warned: string[] = [];
    readTokens(f, (m) => warned.push(m));
    assert.match(warned[0]!, /can be read by other users; chmod 600/);
    chmodSync(f, 0o600);
    warned.length = 0;
    readTokens(f, (m) => warned.push(m));
    assert.deepEqual(warned, []);
    assert.equal(readClientToken(f), A);
  });
});
