// `haldir export keepalived` writes one keyword per line, so keepalived reads
// the file as haldir does. Proved on every export haldir can make here (the
// seed's four keepalived.conf files and its cluster file, and every sample of
// keepalived's own corpus that loads): keepalived's reading (ka-reading.ts)
// finds nothing read differently and yields haldir's model; keepalived 2.2.7
// itself prints no parse message, accepts (-t, exit 0) every export of a
// configuration haldir validates, and its VRRP process dumps (-d) the
// authentication, password, priority and addresses of haldir's model.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Diagnostics } from '../../src/config/diagnostics.js';
import { exportKeepalived } from '../../src/config/keepalived/export.js';
import { divergent, narrateLine, readAsKeepalived } from '../../src/config/keepalived/ka-reading.js';
import { KeepalivedLexer } from '../../src/config/keepalived/lexer.js';
import { loadKeepalivedFile, loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { loadConfig } from '../../src/config/load.js';
import { stripSrc } from '../../src/model/compare.js';
import type { NodeModel } from '../../src/model/types.js';
import { validateNode } from '../../src/model/validate.js';
import { corpusDir, SEED } from '../helpers/paths.js';
import { KaHost, kaSkip } from './ka-host.js';

interface Export {
  name: string;
  model: NodeModel;
  text: string;
  /** haldir's validation of the source model finds no error. */
  valid: boolean;
}

function exportsToCheck(): Export[] {
  const out: Export[] = [];
  const add = (name: string, model: NodeModel) =>
    out.push({ name, model, text: exportKeepalived(model), valid: !validateNode(model).some((d) => d.severity === 'error') });
  for (const n of [1, 2, 3, 4]) add(`lb${n}.conf`, loadKeepalivedFile(`${SEED}lb${n}.conf`).model);
  const cluster = loadConfig([`${SEED}haldir.yaml`]);
  for (const n of cluster.nodes) add(`haldir.yaml:${n}`, cluster.models.get(n)!);
  const dir = corpusDir();
  const corpus = [...readdirSync(dir).filter((f) => f.startsWith('keepalived.conf')), ...readdirSync(`${dir}etc`).map((f) => `etc/${f}`)].sort();
  for (const f of corpus) {
    const r = loadKeepalivedFile(`${dir}${f}`, { configId: 'high' });
    // Files haldir refuses (unsupported keywords) have nothing to export.
    if (!r.diagnostics.some((d) => d.severity === 'error')) add(f, r.model);
  }
  return out;
}

const EXPORTS = exportsToCheck();

/** Interfaces a model names (instances, addresses, tracking): keepalived -t wants them to exist. */
function interfaces(m: NodeModel): string[] {
  const s = new Set<string>();
  for (const i of m.vrrpInstances) {
    if (i.interface) s.add(i.interface);
    for (const v of [...i.vips, ...i.excludedVips]) if (v.dev) s.add(v.dev);
    for (const t of i.trackInterfaces) s.add(t.name);
  }
  return [...s];
}

describe('export keepalived: one keyword per line, read by keepalived as by haldir', () => {
  it('covers the seed, its cluster file and the loadable corpus', () => {
    assert.ok(EXPORTS.length >= 26, `${EXPORTS.length} exports`);
    assert.ok(EXPORTS.filter((e) => e.valid).length >= 20);
  });

  it("keepalived's reading of every export finds nothing read differently", () => {
    for (const e of EXPORTS) {
      const lines = new KeepalivedLexer(new Diagnostics(), { configId: 'high' }).lexText(e.text, e.name);
      const odd = readAsKeepalived(lines).actions.filter(divergent);
      assert.deepEqual(odd.map((a) => `${a.at.line}: ${narrateLine([a])}`), [], e.name);
    }
  });

  it("loaded as keepalived reads it, every export gives haldir's own model of it, without a difference reported", () => {
    for (const e of EXPORTS) {
      const own = loadKeepalivedText(e.text, e.name, { configId: 'high' });
      const strict = loadKeepalivedText(e.text, e.name, { configId: 'high', strictKeepalived: true });
      assert.deepEqual(strict.diagnostics.filter((d) => d.code.startsWith('keepalived-') || d.severity === 'error'), [], e.name);
      assert.deepEqual(stripSrc(strict.model), stripSrc(own.model), e.name);
    }
  });
});

describe('export keepalived against keepalived 2.2.7', { skip: kaSkip() }, () => {
  let host: KaHost;
  const file = (e: Export) => join(host.dir, `${e.name.replace(/[^A-Za-z0-9.]/g, '_')}.conf`);
  before(() => {
    const names = new Set(EXPORTS.flatMap((e) => interfaces(e.model)));
    names.delete('eth0');
    names.delete('lo');
    host = new KaHost([...names].sort());
    for (const e of EXPORTS) writeFileSync(file(e), e.text);
  });
  after(() => host?.close());

  it('prints no parse message for any export, and accepts (-t exit 0) the export of every valid configuration', () => {
    let accepted = 0;
    for (const e of EXPORTS) {
      const t = host.configTest(file(e));
      assert.deepEqual(t.parse, [], `${e.name}\n${t.out}`);
      if (e.valid) {
        assert.equal(t.status, 0, `${e.name}: keepalived -t\n${t.out}`);
        accepted++;
      }
    }
    assert.ok(accepted >= 20);
  });

  it("keepalived's dump of the seed exports shows haldir's model: PASS with the 8 octets it sends, priority, addresses", async () => {
    for (const e of EXPORTS.filter((x) => /^(lb\d\.conf|haldir\.yaml:)/.test(x.name))) {
      const d = await host.vrrpDump(file(e));
      const i = e.model.vrrpInstances[0]!;
      assert.equal(d.instances.length, 1, `${e.name}\n${d.log.slice(-2000)}`);
      const k = d.instances[0]!;
      assert.deepEqual(
        [k.name, k.state, k.vrid, k.priority, k.auth, k.password, k.vips],
        [i.name, i.state, i.vrid, i.priority, 'SIMPLE_PASSWORD', 'supersec', ['192.168.2.100/24 dev eth0 scope global label eth0:vip']],
        e.name,
      );
    }
  });
});
