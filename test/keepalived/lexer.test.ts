// The keepalived.conf lexical layer: comments, quoting, includes, parameters,
// conditionals and ~SEQ/~LST, each against keepalived.conf(5)'s description.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Diagnostics } from '../../src/config/diagnostics.js';
import { KeepalivedLexer, globFiles, tokenize, type LexOptions } from '../../src/config/keepalived/lexer.js';

function lex(text: string, opts: LexOptions = {}) {
  const d = new Diagnostics();
  const lines = new KeepalivedLexer(d, opts).lexText(text, 'test.conf');
  return { lines: lines.map((l) => l.tokens.map((t) => t.text)), diags: d.items, raw: lines };
}

describe('keepalived lexer', () => {
  it('strips # and ! comments but not inside double quotes, and honours \\#', () => {
    const r = lex('a b # c\nd ! e\nscript "x # y"\nf \\# g');
    assert.deepEqual(r.lines, [['a', 'b'], ['d'], ['script', 'x # y'], ['f', '#', 'g']]);
  });

  it('joins quoted parts into one word and decodes escapes in double quotes', () => {
    const d = new Diagnostics();
    const t = tokenize('abcd" efg h jkl "mnop \'a b\' "t\\tx\\x41\\101\\"q"', 'f', 1, 1, d);
    assert.deepEqual(
      t.map((x) => x.text),
      ['abcd efg h jkl mnop', 'a b', 't\tx' + 'AA"q'],
    );
    assert.ok(t.every((x) => x.quoted));
  });

  it('reports an unterminated quote with its position', () => {
    const r = lex('  script "abc');
    assert.equal(r.diags[0]?.code, 'unterminated-quote');
    assert.deepEqual(r.diags[0]?.loc, { file: 'test.conf', line: 1, col: 10 });
  });

  it('records file, line and 1-based column of every token', () => {
    const r = lex('\n  priority   100');
    assert.deepEqual(r.raw[0]!.tokens.map((t) => [t.loc.line, t.loc.col]), [[2, 3], [2, 14]]);
  });

  it('substitutes $NAME and ${NAME}, and leaves unknown names alone', () => {
    const r = lex('$PRIO=150\npriority $PRIO\nweight ${PRIO}0\nx $UNKNOWN');
    assert.deepEqual(r.lines, [['priority', '150'], ['weight', '1500'], ['x', '$UNKNOWN']]);
  });

  it('expands a multi-line definition into several lines (a block template)', () => {
    const text = ['$RS=real_server 10.0.0.1 80 { \\', '  weight 2 \\', '}', '$RS'].join('\n');
    assert.deepEqual(lex(text).lines, [['real_server', '10.0.0.1', '80', '{'], ['weight', '2'], ['}']]);
  });

  it('provides ${_HASH}, ${_BANG}, ${_ENV VAR}, ${_INSTANCE} and ${_RANDOM}', () => {
    const r = lex('a ${_HASH} ${_BANG} ${_ENV HALDIR_T} ${_INSTANCE} ${_RANDOM 5 5}', {
      env: { HALDIR_T: 'envval' },
      configId: 'lb7',
    });
    assert.deepEqual(r.lines, [['a', '#', '!', 'envval', 'lb7', '5']]);
  });

  it('selects @id lines and drops the others; @^id inverts', () => {
    const text = '@lb1 priority 100\n@lb2 priority 99\n@^lb1 state BACKUP\n@^lb2 state MASTER';
    assert.deepEqual(lex(text, { configId: 'lb1' }).lines, [['priority', '100'], ['state', 'MASTER']]);
    assert.deepEqual(lex(text, { configId: 'lb2' }).lines, [['priority', '99'], ['state', 'BACKUP']]);
  });

  it('repeats a line with ~SEQ, ~SEQx and ~LST', () => {
    assert.deepEqual(lex('~SEQ(i, 1, 2, 5) real_server 10.0.0.$i 80').lines, [
      ['real_server', '10.0.0.1', '80'],
      ['real_server', '10.0.0.3', '80'],
      ['real_server', '10.0.0.5', '80'],
    ]);
    assert.deepEqual(lex('~SEQ(i, 3) x $i').lines, [['x', '1'], ['x', '2'], ['x', '3']]);
    assert.deepEqual(lex('~SEQx(i, 9, 11) x ae00::$i').lines, [['x', 'ae00::9'], ['x', 'ae00::a'], ['x', 'ae00::b']]);
    assert.deepEqual(lex('~LST(h, a, b) host $h').lines, [['host', 'a'], ['host', 'b']]);
  });

  it('refuses a ~SEQ whose step never reaches the end', () => {
    const r = lex('~SEQ(i, 1, -1, 5) x $i');
    assert.equal(r.diags[0]?.code, 'seq-syntax');
    assert.equal(r.lines.length, 0);
  });

  describe('include', () => {
    const dir = mkdtempSync(join(tmpdir(), 'haldir-inc-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'conf.d', 'a.conf'), 'from_a 1\ninclude ../leaf.conf\n');
    writeFileSync(join(dir, 'conf.d', 'b.conf'), 'from_b 2\n');
    writeFileSync(join(dir, 'leaf.conf'), 'leaf 3\n');
    writeFileSync(join(dir, 'main.conf'), 'top 0\ninclude conf.d/*.conf\nincludea missing/*.conf\nincluder missing2/*.conf\n');
    writeFileSync(join(dir, 'loop.conf'), 'include loop.conf\n');

    it('globs relative to the including file, in sorted order, recursively', () => {
      const d = new Diagnostics();
      const lines = new KeepalivedLexer(d).lexFile(join(dir, 'main.conf'));
      assert.deepEqual(
        lines.map((l) => [l.tokens[0]!.text, l.loc.file.slice(dir.length + 1)]),
        [['top', 'main.conf'], ['from_a', 'conf.d/a.conf'], ['leaf', 'leaf.conf'], ['from_b', 'conf.d/b.conf']],
      );
      // includea wants a match (error); includer tolerates none (warning).
      assert.deepEqual(d.items.map((x) => [x.severity, x.code, x.loc?.line]), [
        ['error', 'include-missing', 3],
        ['warning', 'include-missing', 4],
      ]);
    });

    it('stops an include loop with an error instead of recursing forever', () => {
      const d = new Diagnostics();
      new KeepalivedLexer(d).lexFile(join(dir, 'loop.conf'));
      assert.ok(d.items.some((x) => x.code === 'include-depth'));
    });

    it('expands csh-style braces in globs', () => {
      assert.deepEqual(
        globFiles(join(dir, '{conf.d/b,leaf}.conf')).map((f) => f.slice(dir.length + 1)),
        ['conf.d/b.conf', 'leaf.conf'],
      );
    });
  });
});
