// The served API against src/api/openapi.json: every route the server has is
// documented and every documented route is served; then real daemons (lab.ts) are
// asked every route — over the unix socket, and over TCP from another namespace with
// and without the token — and each answer's status must be one the document lists for
// that route and its body must validate against the documented schema (Ajv, JSON
// Schema 2020-12 as OpenAPI 3.1 uses). Finally every documented status of every route
// must have been seen, except the few listed in UNTESTED with the reason.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { canBuildLabs } from '../../src/lab/netns.js';
import { OPENAPI_FILE, ROUTES } from '../../src/api/server.js';
import { SseParser } from '../../src/api/events.js';
import { ApiLab, unixRequest, type Reply } from './lab.js';

type Op = { responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown; 'x-event-data'?: unknown }> }>; operationId: string; security?: unknown[] };
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Op>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
}

const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(doc as object, 'openapi.json');

const ptr = (...parts: string[]): string => 'openapi.json#/' + parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** The documented response of an operation for a status, with the JSON pointer to its content. */
function documented(method: string, path: string, status: number): { where: string[]; content?: Record<string, { schema?: unknown; 'x-event-data'?: unknown }> } | undefined {
  const r = doc.paths[path]?.[method.toLowerCase()]?.responses[String(status)];
  if (!r) return undefined;
  if (r.$ref) {
    const name = r.$ref.replace('#/components/responses/', '');
    return { where: ['components', 'responses', name], content: doc.components.responses[name]!.content };
  }
  return { where: ['paths', path, method.toLowerCase(), 'responses', String(status)], content: r.content };
}

function validate(where: string[], type: string, value: unknown, what: string): void {
  const v = ajv.getSchema(ptr(...where, 'content', type, 'schema'));
  assert.ok(v, `${what}: no schema at ${where.join('/')} for ${type}`);
  if (!v(value)) assert.fail(`${what}: the body does not match the documented schema: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 600)}`);
}

const observed = new Map<string, Set<number>>();

/** Checks one reply against the document: a listed status, a body of the listed type and schema. */
function conforms(method: string, path: string, r: Reply, what: string): void {
  const d = documented(method, path, r.status);
  assert.ok(d, `${what}: status ${r.status} is not documented for ${method} ${path}: ${r.body.slice(0, 300)}`);
  const key = `${method} ${path}`;
  observed.set(key, (observed.get(key) ?? new Set()).add(r.status));
  const ct = String(r.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!d.content) {
    assert.ok(r.body === '' || r.status === 301, `${what}: a body where none is documented`);
    return;
  }
  assert.ok(ct in d.content, `${what}: content type ${ct || '(none)'}, documented ${Object.keys(d.content).join(', ')}`);
  if (ct === 'application/json') validate(d.where, ct, JSON.parse(r.body), what);
  else if (ct === 'text/event-stream') {
    const frames = new SseParser().push(r.body);
    const ev = ajv.getSchema(ptr(...d.where, 'content', ct, 'x-event-data'));
    assert.ok(ev, 'the event schema');
    for (const f of frames) if (!ev(JSON.parse(f.data))) assert.fail(`${what}: event ${f.data} does not match: ${ajv.errorsText(ev.errors)}`);
  } else assert.equal(typeof r.body, 'string');
}

/** Statuses the document lists that this test cannot provoke on demand, and why. */
const UNTESTED: Record<string, number[]> = {
  // 409 there: a node that balances nothing (--vrrp-only); the lab's nodes all balance.
  'POST /api/v1/drain': [409],
  'POST /api/v1/undrain': [409],
  'POST /api/v1/weight': [409],
  // 503: the VRRP thread not answering within 2 s.
  'POST /api/v1/failover': [503],
  // 409: a node without VRRP instances; 503 as above.
  'POST /api/v1/resume': [409, 503],
};

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 with unique operation ids, resolvable references, and an answer for every operation', () => {
    assert.equal(doc.openapi, '3.1.0');
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    assert.equal(new Set(ids).size, ids.length);
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const r of refs) {
      const p = JSON.parse(`{${r}}`).$ref as string;
      const target = p.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      assert.ok(target, `unresolved ${p}`);
    }
    for (const [p, ops] of Object.entries(doc.paths)) for (const [m, o] of Object.entries(ops)) assert.ok(Object.keys(o.responses).some((s) => /^[23]/.test(s)), `${m} ${p}`);
    // Every schema compiles.
    for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(ptr('components', 'schemas', name)), name);
  });

  it('documents exactly the routes the server serves', () => {
    const served = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    const docd = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    assert.deepEqual(docd, served);
    // Open routes (no token on TCP) are exactly those documented with `security: []`.
    const open = ROUTES.filter((r) => r.open).map((r) => `${r.method} ${r.path}`).sort();
    const docOpen = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.entries(ops).filter(([, o]) => Array.isArray(o.security) && o.security.length === 0).map(([m]) => `${m.toUpperCase()} ${p}`))
      .sort();
    assert.deepEqual(docOpen, open);
  });
});

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;

describe('the served API conforms to the document (two daemons in a lab)', { skip }, () => {
  let L: ApiLab;
  before(async () => {
    L = new ApiLab();
    await L.start();
    await L.until('lb1 MASTER, both servers up on lb1, lb2 BACKUP', async () => {
      try {
        const s = JSON.parse((await unixRequest(L.node('lb1').sock, 'GET', '/api/v1/status')).body) as { vrrp: { state: string }[]; services: { realServers: { healthy: boolean }[] }[] };
        const b = JSON.parse((await unixRequest(L.node('lb2').sock, 'GET', '/api/v1/status')).body) as { vrrp: { state: string }[] };
        return s.vrrp[0]?.state === 'MASTER' && s.services[0]!.realServers.every((r) => r.healthy) && b.vrrp[0]?.state === 'BACKUP';
      } catch {
        return false;
      }
    }, 25000);
  });
  after(async () => {
    await L?.close();
  });

  const u = async (node: string, method: string, path: string, want: number, body?: unknown, opts: { raw?: string; headers?: Record<string, string>; streamMs?: number } = {}): Promise<Reply> => {
    const r = await unixRequest(L.node(node).sock, method, path, { ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}), ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.streamMs ? { streamMs: opts.streamMs } : {}) });
    const template = ROUTES.find((x) => x.method === method && new RegExp(`^${x.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(path.replace(/\?.*$/, '')))?.path ?? path;
    conforms(method, template, r, `${node} ${method} ${path}`);
    assert.equal(r.status, want, `${node} ${method} ${path}: ${r.body.slice(0, 400)}`);
    return r;
  };

  it('reads: index, liveness, the document, metrics, status, instances, services, cluster, keepalived dumps', async () => {
    await u('lb1', 'GET', '/', 200);
    await u('lb1', 'GET', '/healthz', 200);
    assert.deepEqual(JSON.parse((await u('lb1', 'GET', '/openapi.json', 200)).body), doc);
    assert.match((await u('lb1', 'GET', '/metrics', 200)).body, /^haldir_vrrp_state\{instance="VI_1",state="MASTER"\} 1$/m);
    await u('lb1', 'GET', '/api/v1/status', 200);
    await u('lb1', 'GET', '/api/v1/vrrp', 200);
    await u('lb1', 'GET', '/api/v1/services', 200);
    const c = JSON.parse((await u('lb1', 'GET', '/api/v1/cluster', 200)).body) as { nodes: { name: string; ok: boolean; api: string }[] };
    assert.deepEqual(c.nodes.map((n) => `${n.name} ${n.ok} ${n.api}`), ['lb1 true local', 'lb2 true http://10.97.0.12:9440']);
    for (const k of ['data', 'check-data', 'stats']) await u('lb1', 'GET', `/api/v1/keepalived/${k}`, 200);
    await u('lb1', 'GET', '/api/v1/keepalived/json', 200);
  });

  it('the event stream: frames of documented events; a bad backlog is 400; the 65th client 503', async () => {
    const r = await u('lb1', 'GET', '/api/v1/events?backlog=50', 200, undefined, { streamMs: 400 });
    assert.ok(new SseParser().push(r.body).length >= 2, r.body);
    await u('lb1', 'GET', '/api/v1/events?backlog=lots', 400);
    // 64 streams open (the limit), then the 65th.
    const streams = Array.from({ length: 64 }, () => unixRequest(L.node('lb2').sock, 'GET', '/api/v1/events', { streamMs: 2000 }));
    await new Promise((res) => setTimeout(res, 500));
    await u('lb2', 'GET', '/api/v1/events', 503);
    await Promise.all(streams);
  });

  it('actions: drain, undrain, weight — done, and refused with 400/404/413 for bad requests', async () => {
    const big = JSON.stringify({ server: 'x'.repeat(70 * 1024) });
    for (const a of ['drain', 'undrain']) {
      await u('lb1', 'POST', `/api/v1/${a}`, 200, { server: '10.97.0.12:8080' });
      await u('lb1', 'POST', `/api/v1/${a}`, 400, {});
      await u('lb1', 'POST', `/api/v1/${a}`, 400, undefined, { raw: '{"server": ' });
      await u('lb1', 'POST', `/api/v1/${a}`, 400, ['10.97.0.12:8080']);
      await u('lb1', 'POST', `/api/v1/${a}`, 400, { server: 'lb2:http' });
      await u('lb1', 'POST', `/api/v1/${a}`, 404, { server: '10.97.0.99:8080' });
      await u('lb1', 'POST', `/api/v1/${a}`, 404, { server: '10.97.0.12:8080', service: '10.97.0.100:81' });
      await u('lb1', 'POST', `/api/v1/${a}`, 413, undefined, { raw: big });
    }
    await u('lb1', 'POST', '/api/v1/weight', 200, { server: '10.97.0.12:8080', weight: 3 });
    await u('lb1', 'POST', '/api/v1/weight', 200, { server: '10.97.0.12:8080', weight: null });
    await u('lb1', 'POST', '/api/v1/weight', 400, { server: '10.97.0.12:8080', weight: -1 });
    await u('lb1', 'POST', '/api/v1/weight', 400, { server: '10.97.0.12:8080', weight: '3' });
    await u('lb1', 'POST', '/api/v1/weight', 400, { server: '10.97.0.12:8080' });
    await u('lb1', 'POST', '/api/v1/weight', 404, { server: '10.97.0.12:9999', weight: 2 });
    await u('lb1', 'POST', '/api/v1/weight', 413, undefined, { raw: big });
  });

  it('actions: failover refused on a BACKUP (409), bad instances 400/404; done on the MASTER; resume', async () => {
    await u('lb2', 'POST', '/api/v1/failover', 409, {});
    await u('lb1', 'POST', '/api/v1/failover', 400, { instances: 'VI_1' });
    await u('lb1', 'POST', '/api/v1/failover', 404, { instances: ['VI_9'] });
    await u('lb1', 'POST', '/api/v1/failover', 413, undefined, { raw: JSON.stringify({ instances: ['x'.repeat(70000)] }) });
    await u('lb1', 'POST', '/api/v1/resume', 400, { instances: [1] });
    await u('lb1', 'POST', '/api/v1/resume', 404, { instances: ['VI_9'] });
    await u('lb1', 'POST', '/api/v1/resume', 413, undefined, { raw: JSON.stringify({ instances: ['x'.repeat(70000)] }) });
    await u('lb1', 'POST', '/api/v1/failover', 200, { instances: ['VI_1'] });
    await L.until('lb2 holds the VIP', () => L.holders().join() === 'lb2', 5000);
    await u('lb1', 'POST', '/api/v1/resume', 200, {});
    await L.until('lb1 MASTER again', () => L.holders().join() === 'lb1', 10000);
  });

  it('reload: applied (200), refused for a broken file (422, the running configuration stays)', async () => {
    await u('lb2', 'POST', '/api/v1/reload', 200, {});
    const n = L.node('lb2');
    const good = readFileSync(n.conf, 'utf8');
    const bad = good.replace(/lb_algo \w+/, 'lb_algo nosuch');
    assert.notEqual(bad, good);
    writeFileSync(n.conf, bad);
    try {
      await u('lb2', 'POST', '/api/v1/reload', 422);
    } finally {
      writeFileSync(n.conf, good);
    }
    await u('lb2', 'POST', '/api/v1/reload', 413, undefined, { raw: JSON.stringify({ x: 'x'.repeat(70000) }) });
    await u('lb2', 'GET', '/api/v1/status', 200);
  });

  it('the dashboard: served on lb1 (--dashboard), 404 with the reason on lb2', async () => {
    assert.equal((await u('lb1', 'GET', '/dashboard', 301)).headers.location, '/dashboard/');
    assert.match((await u('lb1', 'GET', '/dashboard/', 200)).body, /<title>haldir<\/title>/);
    await u('lb1', 'GET', '/dashboard/app.js', 200);
    await u('lb1', 'GET', '/dashboard/style.css', 200);
    await u('lb1', 'GET', '/dashboard/..%2Fserver.js', 404);
    await u('lb1', 'GET', '/dashboard/nope.js', 404);
    for (const p of ['/dashboard', '/dashboard/', '/dashboard/app.js']) assert.match((await u('lb2', 'GET', p, 404)).body, /start haldir run with --dashboard/);
  });

  it('unknown routes are 404 and wrong methods 405, as JSON errors', async () => {
    for (const [m, p, want] of [
      ['GET', '/nope', 404],
      ['GET', '/api/v1/drain', 405],
      ['DELETE', '/api/v1/status', 405],
      ['PUT', '/api/v1/weight', 405],
    ] as const) {
      const r = await unixRequest(L.node('lb1').sock, m, p);
      assert.equal(r.status, want, `${m} ${p}`);
      validate(['components', 'responses', 'Error404'], 'application/json', JSON.parse(r.body), `${m} ${p}`);
      if (want === 405) assert.ok(r.headers.allow);
    }
  });

  it('TCP: every route but the open ones refuses a missing or wrong token (401); with the token it answers', () => {
    for (const r of ROUTES) {
      const path = r.path.replace('{file}', 'app.js');
      const body = r.method === 'POST' ? '{}' : undefined;
      const none = L.tcp('lb1', r.method, path, { token: null, ...(body ? { body } : {}) });
      if (r.open) {
        assert.ok(none.status < 400, `${r.method} ${path} is open: ${none.status}`);
        conforms(r.method, r.path, none, `tcp ${r.method} ${path} without token`);
        continue;
      }
      assert.equal(none.status, 401, `${r.method} ${path} without a token`);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="haldir"');
      conforms(r.method, r.path, none, `tcp ${r.method} ${path}`);
      const wrong = L.tcp('lb1', r.method, path, { token: 'f'.repeat(48), ...(body ? { body } : {}) });
      assert.equal(wrong.status, 401, `${r.method} ${path} with a wrong token`);
      assert.match(wrong.body, /the bearer token is not valid/);
    }
    const ok = L.tcp('lb1', 'GET', '/api/v1/status');
    conforms('GET', '/api/v1/status', ok, 'tcp status with the token');
    assert.equal(ok.status, 200);
  });

  it('every documented status of every route was seen (except UNTESTED, with reasons)', () => {
    const missing: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, o] of Object.entries(ops)) {
        const key = `${m.toUpperCase()} ${p}`;
        for (const s of Object.keys(o.responses).map(Number)) {
          if (UNTESTED[key]?.includes(s)) continue;
          if (!observed.get(key)?.has(s)) missing.push(`${key} ${s}`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});
