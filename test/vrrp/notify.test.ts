// Scripts run without a shell and die at their timeout; notify scripts get
// keepalived's arguments; FIFO lines have keepalived's format.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, openSync, readSync, closeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultGlobals } from '../../src/model/defaults.js';
import { makeScript } from '../../src/model/script.js';
import { runScript } from '../../src/process/run.js';
import { fifoLine, Notifier } from '../../src/vrrp/notify.js';

const dir = mkdtempSync(join(tmpdir(), 'haldir-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Running, not a zombie: PID 1 here reaps orphans slowly, so a killed child may linger as <defunct>. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('runScript', () => {
  it('passes shell metacharacters as plain arguments', async () => {
    const out = join(dir, 'args.txt');
    const s = script('args.sh', `printf '%s|' "$@" > ${out}`);
    const r = await runScript(makeScript(`${s} 'a b' ; $(id) \`x\``));
    assert.equal(r.code, 0);
    assert.equal(readFileSync(out, 'utf8'), 'a b|;|$(id)|`x`|');
  });

  it('reports exit codes and a missing program', async () => {
    assert.equal((await runScript(makeScript(script('fail.sh', 'exit 3')))).code, 3);
    const r = await runScript(makeScript(join(dir, 'nope')));
    assert.match(r.error ?? '', /ENOENT/);
  });

  it('kills a hanging script and its children at the timeout', async () => {
    const pidFile = join(dir, 'child.pid');
    const s = script('hang.sh', `sleep 60 & echo $! > ${pidFile}; wait`);
    const r = await runScript(makeScript(s), [], 200);
    assert.equal(r.timedOut, true);
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
    const child = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(running(child), false, "the script's child is gone too");
  });
});

describe('notify', () => {
  it('FIFO lines as keepalived writes them', () => {
    assert.equal(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100), 'INSTANCE "VI_1" MASTER 100\n');
  });

  it('runs notify_<state>, then notify with INSTANCE name STATE priority, and writes the FIFO', async () => {
    const log = join(dir, 'calls.txt');
    const specific = script('master.sh', `echo "master $*" >> ${log}`);
    const generic = script('notify.sh', `echo "generic $*" >> ${log}`);
    const fifo = join(dir, 'notify.fifo');
    const g = defaultGlobals();
    g.notifyFifo = { path: fifo };
    const messages: string[] = [];
    const n = new Notifier(g, (m) => messages.push(m));
    // A reader must hold the FIFO open for the writer's non-blocking open to succeed.
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    n.notify('INSTANCE', 'VI_1', { master: makeScript(`${specific} x`), generic: makeScript(generic) }, 'MASTER', 150);
    await n.close();
    const buf = Buffer.alloc(256);
    const got = readSync(rfd, buf, 0, 256, null);
    closeSync(rfd);
    assert.equal(buf.subarray(0, got).toString(), 'INSTANCE "VI_1" MASTER 150\n');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['master x', 'generic INSTANCE VI_1 MASTER 150']);
    assert.deepEqual(messages, []);
    assert.equal(execFileSync('stat', ['-c', '%F', fifo], { encoding: 'utf8' }).trim(), 'fifo');
  });
});
