// keepalived's own sample configurations (shared/corpus): every file either
// loads or is refused with a precise error naming file, line and keyword.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadKeepalivedFile } from '../../src/config/keepalived/load.js';
import { corpusDir } from '../helpers/paths.js';

/** Expected outcome per file: 'loads', or the errors as "line:message". */
const EXPECTED: Record<string, 'loads' | string[]> = {
  'keepalived.conf.HTTP_GET.port': 'loads',
  'keepalived.conf.IPv6': 'loads',
  'keepalived.conf.PING_CHECK': 'loads',
  'keepalived.conf.SMTP_CHECK': 'loads',
  'keepalived.conf.SSL_GET': ['20:not supported: auth_type AH'],
  'keepalived.conf.UDP_CHECK': 'loads',
  'keepalived.conf.conditional_conf': ['3:not supported: net_namespace', '23:not supported: use_vmac'],
  'keepalived.conf.fwmark': 'loads',
  'keepalived.conf.inhibit': 'loads',
  'keepalived.conf.misc_check': 'loads',
  'keepalived.conf.misc_check_arg': 'loads',
  'keepalived.conf.quorum': 'loads',
  'keepalived.conf.sample': 'loads',
  'keepalived.conf.status_code': 'loads',
  'keepalived.conf.track_interface': ['7:not supported: static_routes', '28:not supported: virtual_routes'],
  'keepalived.conf.virtual_server_group': 'loads',
  'keepalived.conf.virtualhost': 'loads',
  'keepalived.conf.vrrp': 'loads',
  'keepalived.conf.vrrp.localcheck': 'loads',
  // keepalived itself says "Unknown keyword 'VI_2'" here: the members belong in group { }.
  'keepalived.conf.vrrp.lvs_syncd': ['3:vrrp_sync_group VG1 has no members', '4:unknown keyword "VI_2" in vrrp_sync_group', '5:unknown keyword "VI_3" in vrrp_sync_group'],
  'keepalived.conf.vrrp.routes': ['7:not supported: static_routes', '25:not supported: virtual_routes'],
  'keepalived.conf.vrrp.rules': ['9:not supported: static_rules', '24:not supported: virtual_rules'],
  'keepalived.conf.vrrp.scripts': 'loads',
  'keepalived.conf.vrrp.static_ipaddress': ['7:not supported: static_ipaddress', '21:not supported: virtual_routes'],
  'keepalived.conf.vrrp.sync': 'loads',
  'etc/keepalived.conf': 'loads',
  // @…@ build-time placeholders sit only in comments in this file.
  'etc/keepalived.conf.sample.in': 'loads',
};

describe('keepalived sample corpus', () => {
  const dir = corpusDir();
  const files = [...readdirSync(dir).filter((f) => f.startsWith('keepalived.conf')), ...readdirSync(`${dir}etc`).map((f) => `etc/${f}`)].sort();

  it('lists every corpus file with an expected outcome', () => {
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
  });

  for (const f of files) {
    it(f, () => {
      const r = loadKeepalivedFile(`${dir}${f}`, { configId: 'high' });
      const errors = r.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => {
          assert.equal(d.loc?.file, `${dir}${f}`, 'every error names its file');
          assert.ok(d.loc!.col > 0, 'and a column');
          return `${d.loc!.line}:${d.message}`;
        })
        .sort();
      const want = EXPECTED[f];
      if (want === 'loads') {
        assert.deepEqual(errors, []);
        assert.ok(r.model.vrrpInstances.length + r.model.virtualServers.length > 0, 'something was loaded');
      } else assert.deepEqual(errors, [...want!].sort());
    });
  }
});
