// SSL_GET with `tls` settings against real nginx on loopback: a CA made here signs the
// server's and a client's certificate. Without a ca nothing is verified (keepalived's
// behaviour); with one the chain is, and the name when SNI is sent; a server asking for a
// client certificate gets the configured one, whose key may be encrypted (the passphrase
// never appears in a reason). The keepalived SSL block and the YAML `tls` field reach the
// checker and survive export.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckerCommon, CheckTls, HttpChecker } from '../../src/model/types.js';
import { runCheck } from '../../src/health/checkers/index.js';
import { loadConfig } from '../../src/config/load.js';
import { exportKeepalived } from '../../src/config/keepalived/export.js';
import { exportClusterYaml } from '../../src/config/cluster/export.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';

const LO = '127.0.0.1';
const PASS = 's3cret-Passphrase';
const dir = mkdtempSync(join(tmpdir(), 'haldir-tls-'));
chmodSync(dir, 0o755);
const f = (n: string): string => join(dir, n);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });

const common: Omit<CheckerCommon, 'src'> = { connectTimeout: 2, retry: 0, delayBeforeRetry: 1, delayLoop: 5, warmup: 0, alpha: false, logAllFailures: false, rise: 1, fall: 1 };
const ssl = (more: Partial<HttpChecker> = {}): HttpChecker => ({
  ...common,
  type: 'SSL_GET',
  urls: [{ path: '/healthz', statusCodes: [{ from: 200, to: 200 }], regexNoMatch: false }],
  enableSni: false,
  fastRecovery: false,
  tlsCompliant: false,
  ...more,
});

let nginx: Nginx | undefined;
let ports: { signed: number; clientAuth: number; selfSigned: number };
const at = (port: number) => ({ address: LO, port, family: 4 as const });

before(async () => {
  // A CA, a server certificate for good.test and 127.0.0.1, a client certificate with an encrypted key, an unrelated CA.
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=haldir test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other CA', '-keyout', f('other.key'), '-out', f('other.pem'));
  writeFileSync(f('srv.ext'), 'subjectAltName=DNS:good.test,IP:127.0.0.1\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=good.test', '-keyout', f('srv.key'), '-out', f('srv.csr'));
  openssl('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('srv.ext'), '-out', f('srv.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=checker', '-keyout', f('cli.key'), '-out', f('cli.csr'));
  openssl('x509', '-req', '-in', f('cli.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f('cli.pem'));
  openssl('pkey', '-in', f('cli.key'), '-aes256', '-passout', `pass:${PASS}`, '-out', f('cli-enc.key'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=self', '-keyout', f('self.key'), '-out', f('self.pem'));
  ports = { signed: await freePort(), clientAuth: await freePort(), selfSigned: await freePort() };
  // startNginx's own server listens on a plain port; these three servers carry the TLS cases.
  nginx = await startNginx(`  location / { return 200 "plain\\n"; }
 }
 server {
  listen ${LO}:${ports.signed} ssl;
  ssl_certificate ${f('srv.pem')}; ssl_certificate_key ${f('srv.key')};
  location /healthz { return 200 "ok\\n"; }
 }
 server {
  listen ${LO}:${ports.clientAuth} ssl;
  ssl_certificate ${f('srv.pem')}; ssl_certificate_key ${f('srv.key')};
  ssl_client_certificate ${f('ca.pem')}; ssl_verify_client on;
  location /healthz { return 200 "ok\\n"; }
 }
 server {
  listen ${LO}:${ports.selfSigned} ssl;
  ssl_certificate ${f('self.pem')}; ssl_certificate_key ${f('self.key')};
  location /healthz { return 200 "ok\\n"; }`);
});

after(async () => {
  await nginx?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const check = (port: number, tls?: CheckTls, more: Partial<HttpChecker> = {}) => runCheck(ssl({ ...(tls ? { tls } : {}), ...more }), at(port));

describe('SSL_GET certificate verification', () => {
  it('without a ca nothing is verified (keepalived): the self-signed server passes', async () => {
    const r = await check(ports.selfSigned);
    assert.equal(r.ok, true, r.reason);
  });

  it('with the ca: the signed server passes, the self-signed one and an unrelated CA fail with the reason', async () => {
    const good = await check(ports.signed, { ca: f('ca.pem') });
    assert.equal(good.ok, true, good.reason);
    const self = await check(ports.selfSigned, { ca: f('ca.pem') });
    assert.equal(self.ok, false);
    assert.match(self.reason, /^TLS: certificate not trusted: DEPTH_ZERO_SELF_SIGNED_CERT/);
    const other = await check(ports.signed, { ca: f('other.pem') });
    assert.equal(other.ok, false);
    assert.match(other.reason, /^TLS: certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('with the ca and SNI: the name is checked too', async () => {
    const ok = await check(ports.signed, { ca: f('ca.pem') }, { enableSni: true, sniName: 'good.test' });
    assert.equal(ok.ok, true, ok.reason);
    const bad = await check(ports.signed, { ca: f('ca.pem') }, { enableSni: true, sniName: 'evil.test' });
    assert.equal(bad.ok, false);
    assert.match(bad.reason, /^TLS: certificate not trusted: ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('a server that asks for a client certificate: refused without one, served with it (encrypted key)', async () => {
    const without = await check(ports.clientAuth, { ca: f('ca.pem') });
    assert.equal(without.ok, false);
    assert.match(without.reason, /status 400/);
    const withCert = await check(ports.clientAuth, { ca: f('ca.pem'), certificate: f('cli.pem'), key: f('cli-enc.key'), password: PASS });
    assert.equal(withCert.ok, true, withCert.reason);
    const plainKey = await check(ports.clientAuth, { certificate: f('cli.pem'), key: f('cli.key') });
    assert.equal(plainKey.ok, true, plainKey.reason);
  });

  it('a wrong passphrase, a missing file, a certificate without key: clear reasons, never the passphrase', async () => {
    const wrong = await check(ports.clientAuth, { certificate: f('cli.pem'), key: f('cli-enc.key'), password: 'not-the-' + PASS });
    assert.equal(wrong.ok, false);
    assert.match(wrong.reason, /^tls settings rejected \(ca -, certificate .*cli\.pem, key .*cli-enc\.key\): /);
    assert.doesNotMatch(wrong.reason, new RegExp(PASS));
    const missing = await check(ports.signed, { ca: f('nope.pem') });
    assert.equal(missing.reason, `cannot read the ca file ${f('nope.pem')}: ENOENT`);
    const half = await check(ports.signed, { certificate: f('cli.pem') });
    assert.equal(half.reason, 'a client certificate needs both certificate and key');
  });

  it('a renewed CA file is picked up without a reload', async () => {
    writeFileSync(f('rotating.pem'), '');
    const before = await check(ports.signed, { ca: f('rotating.pem') });
    assert.equal(before.ok, false);
    await new Promise((r) => setTimeout(r, 20));
    execFileSync('cp', [f('ca.pem'), f('rotating.pem')]);
    const afterRenewal = await check(ports.signed, { ca: f('rotating.pem') });
    assert.equal(afterRenewal.ok, true, afterRenewal.reason);
  });
});

describe('tls settings in the configuration', () => {
  const conf = (ssl: string) => `${ssl}
virtual_server 10.0.0.1 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /healthz
            }
        }
    }
    real_server 10.0.0.3 443 {
        TCP_CHECK {
        }
    }
}
`;

  it("keepalived's SSL block reaches every SSL_GET and is written back by export", () => {
    const file = f('ka.conf');
    writeFileSync(file, conf(`SSL {\n    password ${PASS}\n    ca ${f('ca.pem')}\n    certificate ${f('cli.pem')}\n    key ${f('cli-enc.key')}\n}`));
    const cfg = loadConfig([file]);
    assert.deepEqual(cfg.diagnostics.filter((d) => d.severity === 'error'), []);
    const m = cfg.models.get(cfg.nodes[0]!)!;
    const c = m.virtualServers[0]!.realServers[0]!.checkers[0] as HttpChecker;
    assert.deepEqual(c.tls, { password: PASS, ca: f('ca.pem'), certificate: f('cli.pem'), key: f('cli-enc.key') });
    const out = exportKeepalived(m);
    assert.match(out, new RegExp(`^SSL \\{\\n    password ${PASS}\\n    ca ${f('ca.pem')}\\n`, 'm'));
    // And haldir reads its export the same way.
    writeFileSync(f('ka2.conf'), out);
    const again = loadConfig([f('ka2.conf')]);
    const c2 = again.models.get(again.nodes[0]!)!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpChecker;
    assert.deepEqual(c2.tls, c.tls);
    // The password is config, not a diagnostic: nothing printed carries it.
    assert.doesNotMatch(JSON.stringify(cfg.diagnostics), new RegExp(PASS));
  });

  it('an SSL block without ca warns that nothing is verified', () => {
    const file = f('ka-noca.conf');
    writeFileSync(file, conf(`SSL {\n    certificate ${f('cli.pem')}\n    key ${f('cli.key')}\n}`));
    const cfg = loadConfig([file]);
    assert.ok(cfg.diagnostics.some((d) => d.code === 'ssl-no-verify' && d.severity === 'warning'));
  });

  it('the cluster file: tls on an SSL_GET check, round trip through export yaml', () => {
    const file = f('c.yaml');
    writeFileSync(
      file,
      `cluster: t
nodes: [{ name: n1, address: 10.0.0.9 }]
checks:
  https: { type: SSL_GET, url: [{ path: /healthz }], tls: { ca: ${f('ca.pem')} } }
services:
  - { vip: 10.0.0.1, port: 443, protocol: tcp, scheduler: rr, mode: dr, real_servers: [{ address: 10.0.0.2 }], checks: [https] }
`,
    );
    const cfg = loadConfig([file]);
    assert.deepEqual(cfg.diagnostics.filter((d) => d.severity === 'error'), []);
    const c = cfg.models.get('n1')!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpChecker;
    assert.deepEqual(c.tls, { ca: f('ca.pem') });
    const yaml = exportClusterYaml([...cfg.models.values()]);
    assert.match(yaml, /tls:/);
    writeFileSync(f('c2.yaml'), yaml);
    const back = loadConfig([f('c2.yaml')]);
    assert.deepEqual((back.models.get('n1')!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpChecker).tls, { ca: f('ca.pem') });
  });
});
