// The daemon's HTTP API (node:http): routing, authentication, JSON errors, the SSE
// event stream and the dashboard's static files, on a unix socket (mode 0600: the
// file's permissions are the authentication) and optionally on TCP with bearer
// tokens (auth.ts). Every route is in ROUTES, the table test/api checks against
// src/api/openapi.json. Bad requests get a 4xx JSON error; a handler's failure a
// 500 — the daemon never goes down for a request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authorize, type Token } from './auth.js';
import { resumeAfter, sseFrame, type EventBus } from './events.js';
import type { ActionResult, ClusterView, ErrorBody, NodeStatus } from './types.js';

/** Where the dashboard's files are: src/api/dashboard, from src/api or dist/src/api. */
export const DASHBOARD_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../src/api/dashboard/' : './dashboard/', import.meta.url));
export const OPENAPI_FILE = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../src/api/openapi.json' : './openapi.json', import.meta.url));

export const DEFAULT_SOCKET = '/run/haldir/haldir.sock';
/** Request bodies larger than this are refused (413): actions take a few fields. */
const MAX_BODY = 64 * 1024;
const MAX_SSE_CLIENTS = 64;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Who asked: logged with every action. */
export interface Caller {
  transport: 'unix' | 'tcp';
  /** TCP: the peer's address and port. */
  remote?: string;
  /** TCP: the token's name from the token file. */
  token?: string;
}

export const callerText = (c: Caller): string => (c.transport === 'unix' ? 'unix socket' : `tcp ${c.remote ?? '?'} token ${c.token ?? '?'}`);

/** What the server asks of the daemon (api/node-api.ts). Action handlers throw ApiError for the caller's mistakes. */
export interface ApiHandlers {
  status(): Promise<NodeStatus>;
  cluster(): Promise<ClusterView>;
  metricsText(): Promise<string>;
  events: EventBus;
  keepalived(kind: 'data' | 'check-data' | 'stats' | 'json'): Promise<string | unknown[]>;
  drain(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  undrain(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  weight(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  failover(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  resume(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  reload(body: Record<string, unknown>, by: Caller): Promise<ActionResult>;
  /** Node name and version for the index. */
  info(): { node: string; version: string };
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  caller: Caller;
  params: Record<string, string>;
  body: () => Promise<Record<string, unknown>>;
}

export interface Route {
  method: 'GET' | 'POST';
  /** OpenAPI path template: `/dashboard/{file}`. */
  path: string;
  /** Open without a token on TCP (nothing in it is secret). */
  open?: boolean;
  /** Only when the dashboard is enabled. */
  dashboard?: boolean;
  handle(ctx: Ctx, h: ApiHandlers, srv: ApiServer): Promise<void> | void;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 1) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, type: string, text: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: string, hint?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body: ErrorBody = { error, ...(hint ? { hint } : {}) };
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, status, body);
}

const action = (fn: (h: ApiHandlers) => ApiHandlers['drain']) => async (ctx: Ctx, h: ApiHandlers) => sendJson(ctx.res, 200, await fn(h).call(h, await ctx.body(), ctx.caller));

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };

export const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/',
    open: true,
    handle: (ctx, h, srv) => sendJson(ctx.res, 200, { name: 'haldir', ...h.info(), openapi: '/openapi.json', dashboard: srv.dashboardEnabled ? '/dashboard/' : null }),
  },
  { method: 'GET', path: '/healthz', open: true, handle: (ctx) => sendJson(ctx.res, 200, { ok: true }) },
  { method: 'GET', path: '/openapi.json', open: true, handle: (ctx) => sendText(ctx.res, 200, 'application/json; charset=utf-8', readFileSync(OPENAPI_FILE)) },
  { method: 'GET', path: '/metrics', handle: async (ctx, h) => sendText(ctx.res, 200, 'text/plain; version=0.0.4; charset=utf-8', await h.metricsText()) },
  { method: 'GET', path: '/api/v1/status', handle: async (ctx, h) => sendJson(ctx.res, 200, await h.status()) },
  { method: 'GET', path: '/api/v1/vrrp', handle: async (ctx, h) => sendJson(ctx.res, 200, (await h.status()).vrrp) },
  { method: 'GET', path: '/api/v1/services', handle: async (ctx, h) => sendJson(ctx.res, 200, (await h.status()).services) },
  { method: 'GET', path: '/api/v1/cluster', handle: async (ctx, h) => sendJson(ctx.res, 200, await h.cluster()) },
  { method: 'GET', path: '/api/v1/events', handle: (ctx, h, srv) => srv.stream(ctx, h.events) },
  { method: 'GET', path: '/api/v1/keepalived/data', handle: async (ctx, h) => sendText(ctx.res, 200, 'text/plain; charset=utf-8', (await h.keepalived('data')) as string) },
  { method: 'GET', path: '/api/v1/keepalived/check-data', handle: async (ctx, h) => sendText(ctx.res, 200, 'text/plain; charset=utf-8', (await h.keepalived('check-data')) as string) },
  { method: 'GET', path: '/api/v1/keepalived/stats', handle: async (ctx, h) => sendText(ctx.res, 200, 'text/plain; charset=utf-8', (await h.keepalived('stats')) as string) },
  { method: 'GET', path: '/api/v1/keepalived/json', handle: async (ctx, h) => sendJson(ctx.res, 200, await h.keepalived('json')) },
  { method: 'POST', path: '/api/v1/drain', handle: action((h) => h.drain) },
  { method: 'POST', path: '/api/v1/undrain', handle: action((h) => h.undrain) },
  { method: 'POST', path: '/api/v1/weight', handle: action((h) => h.weight) },
  { method: 'POST', path: '/api/v1/failover', handle: action((h) => h.failover) },
  { method: 'POST', path: '/api/v1/resume', handle: action((h) => h.resume) },
  { method: 'POST', path: '/api/v1/reload', handle: action((h) => h.reload) },
  {
    method: 'GET',
    path: '/dashboard',
    open: true,
    dashboard: true,
    handle: (ctx) => {
      ctx.res.writeHead(301, { Location: '/dashboard/' });
      ctx.res.end();
    },
  },
  { method: 'GET', path: '/dashboard/', open: true, dashboard: true, handle: (ctx, _h, srv) => srv.staticFile(ctx.res, 'index.html') },
  { method: 'GET', path: '/dashboard/{file}', open: true, dashboard: true, handle: (ctx, _h, srv) => srv.staticFile(ctx.res, ctx.params.file ?? '') },
];

function match(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const m = /^\{(\w+)\}$/.exec(t[i]!);
    if (m) {
      if (p[i] === '') return undefined;
      params[m[1]!] = p[i]!;
    } else if (t[i] !== p[i]) return undefined;
  }
  return params;
}

export interface ListenOptions {
  /** Unix socket path; undefined: none. */
  socket?: string;
  /** TCP `ADDR:PORT` / `[V6]:PORT`. */
  tcp?: { host: string; port: number };
  tokens?: Token[];
  dashboard?: boolean;
}

export class ApiInUseError extends Error {}

/** `ADDR:PORT`, `[V6]:PORT` or `:PORT` (every address). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`--api-listen must be ADDR:PORT (e.g. 192.168.2.11:9440 or [fd00::11]:9440), not "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** True when something answers on the unix socket at `path`. */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(true); // a socket that accepts but is slow is still someone's
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly streams = new Set<ServerResponse>();
  private socketPath: string | undefined;
  private socketIno: number | undefined;
  private staticFiles = new Set<string>();
  dashboardEnabled = false;
  /** Where it listens, for logs: `unix:/run/haldir/haldir.sock`, `tcp:192.168.2.11:9440`. */
  readonly endpoints: string[] = [];

  constructor(
    private readonly h: ApiHandlers,
    private readonly onError: (msg: string) => void = () => {},
  ) {}

  async listen(o: ListenOptions): Promise<void> {
    this.dashboardEnabled = o.dashboard === true;
    if (this.dashboardEnabled) {
      this.staticFiles = new Set(readdirSync(DASHBOARD_DIR).filter((f) => statSync(join(DASHBOARD_DIR, f)).isFile()));
    }
    if (o.socket) await this.listenUnix(o.socket);
    if (o.tcp) {
      if (!o.tokens?.length) throw new Error('the TCP API needs tokens (--api-token-file)');
      const tokens = o.tokens;
      const srv = createServer((req, res) => void this.handle(req, res, tokens));
      this.tune(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(o.tcp!.port, o.tcp!.host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      this.servers.push(srv);
      const a = srv.address();
      const port = a && typeof a === 'object' ? a.port : o.tcp.port;
      this.endpoints.push(`tcp:${o.tcp.host.includes(':') ? `[${o.tcp.host}]` : o.tcp.host}:${port}`);
    }
  }

  /** The TCP port bound (for `:0` in tests). */
  tcpPort(): number | undefined {
    for (const s of this.servers) {
      const a = s.address();
      if (a && typeof a === 'object') return a.port;
    }
    return undefined;
  }

  private tune(srv: Server): void {
    srv.headersTimeout = 10_000;
    srv.requestTimeout = 30_000;
    srv.on('clientError', (_e, sock) => {
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else sock.destroy();
    });
  }

  private async listenUnix(path: string): Promise<void> {
    const dir = dirname(path);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new ApiInUseError(`${path} exists and is not a socket; remove it or give --api-socket another path`);
      if (await socketAnswers(path)) throw new ApiInUseError(`${path} is in use by another running process (another haldir?); give this one --api-socket PATH`);
      unlinkSync(path); // left by a haldir that died
    }
    const srv = createServer((req, res) => void this.handle(req, res, undefined));
    this.tune(srv);
    // The socket is created 0600 (umask for the bind), so no one else can connect even for an instant.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(path, () => {
          srv.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
    this.socketPath = path;
    this.socketIno = statSync(path).ino;
    this.servers.push(srv);
    this.endpoints.push(`unix:${path}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, tokens: Token[] | undefined): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://haldir');
    } catch {
      sendError(res, 400, 'malformed request URL');
      return;
    }
    const caller: Caller = tokens ? { transport: 'tcp', remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}` } : { transport: 'unix' };
    const candidates = ROUTES.map((r) => ({ r, params: match(r.path, url.pathname) })).filter((x) => x.params !== undefined && (!x.r.dashboard || this.dashboardEnabled));
    const found = candidates.find((x) => x.r.method === req.method || (req.method === 'HEAD' && x.r.method === 'GET'));
    if (!found) {
      req.resume();
      if (candidates.length) {
        sendError(res, 405, `${req.method} is not allowed on ${url.pathname}`, `use ${[...new Set(candidates.map((x) => x.r.method))].join(' or ')}`, { Allow: [...new Set(candidates.map((x) => x.r.method))].join(', ') });
      } else if (url.pathname.startsWith('/dashboard') && !this.dashboardEnabled) {
        sendError(res, 404, 'the dashboard is not enabled', 'start haldir run with --dashboard');
      } else {
        sendError(res, 404, `no such endpoint: ${url.pathname}`, 'see /openapi.json for the endpoints');
      }
      return;
    }
    if (tokens && !found.r.open) {
      const who = authorize(req.headers.authorization, tokens);
      if (who === undefined) {
        req.resume();
        sendError(res, 401, req.headers.authorization ? 'the bearer token is not valid' : 'a bearer token is required on TCP', 'send Authorization: Bearer TOKEN (a token from the --api-token-file of this haldir)', { 'WWW-Authenticate': 'Bearer realm="haldir"' });
        return;
      }
      caller.token = who;
    }
    let bodyRead: Promise<Record<string, unknown>> | undefined;
    const ctx: Ctx = { req, res, url, caller, params: found.params!, body: () => (bodyRead ??= readBody(req)) };
    try {
      await found.r.handle(ctx, this.h, this);
    } catch (e) {
      if (e instanceof ApiError) sendError(res, e.status, e.message, e.hint);
      else {
        this.onError(`API ${req.method} ${url.pathname}: ${(e as Error).stack ?? String(e)}`);
        sendError(res, 500, `internal error: ${(e as Error).message}`);
      }
    } finally {
      if (!bodyRead) req.resume();
    }
  }

  /** A dashboard file, from the files present at start (no path from the request reaches the file system). */
  staticFile(res: ServerResponse, name: string): void {
    if (!this.staticFiles.has(name)) {
      sendError(res, 404, `no such dashboard file: ${name}`);
      return;
    }
    let data: Buffer;
    try {
      data = readFileSync(join(DASHBOARD_DIR, name));
    } catch {
      sendError(res, 404, `no such dashboard file: ${name}`);
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(name)] ?? 'application/octet-stream', 'Content-Length': data.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    res.end(data);
  }

  /**
   * The event stream: `backlog=N` replays the last N events (at most 1000), a
   * Last-Event-ID header resumes after that event; then every new one as it happens.
   */
  stream(ctx: Ctx, bus: EventBus): void {
    const { req, res, url } = ctx;
    const b = url.searchParams.get('backlog');
    if (b !== null && !/^\d{1,4}$/.test(b)) throw new ApiError(400, `backlog must be a number of events 0–1000, not "${b}"`);
    const backlog = Math.min(1000, Number(b ?? 0));
    const lastHeader = req.headers['last-event-id'];
    const lastId = resumeAfter(typeof lastHeader === 'string' ? lastHeader : undefined, bus.boot);
    if (this.streams.size >= MAX_SSE_CLIENTS) throw new ApiError(503, `too many event-stream clients (${MAX_SSE_CLIENTS})`, 'close some and retry');
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 2000\n\n');
    for (const e of lastId !== undefined ? bus.after(lastId) : bus.last(backlog)) res.write(sseFrame(e, bus.boot));
    const unsub = bus.subscribe((e) => res.write(sseFrame(e, bus.boot)));
    // A comment every 15 s keeps proxies and idle timeouts from closing a quiet stream.
    const beat = setInterval(() => res.write(': keepalive\n\n'), 15_000);
    beat.unref();
    this.streams.add(res);
    const done = (): void => {
      clearInterval(beat);
      unsub();
      this.streams.delete(res);
    };
    res.on('close', done);
    req.socket.setTimeout(0);
  }

  async close(): Promise<void> {
    for (const r of this.streams) r.end();
    this.streams.clear();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
    // Remove the socket only if it is still ours (a successor may have taken the path).
    if (this.socketPath) {
      try {
        if (statSync(this.socketPath).ino === this.socketIno) unlinkSync(this.socketPath);
      } catch {
        /* already gone */
      }
      this.socketPath = undefined;
    }
  }
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY && !failed) {
        failed = true;
        reject(new ApiError(413, `request body larger than ${MAX_BODY} bytes`));
      }
      if (!failed) chunks.push(c);
    });
    req.on('error', (e) => reject(new ApiError(400, `request body: ${e.message}`)));
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') {
        resolve({});
        return;
      }
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (e) {
        reject(new ApiError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'send a JSON object, e.g. {"server": "lb3:80"}'));
        return;
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        reject(new ApiError(400, 'the request body must be a JSON object', 'e.g. {"server": "lb3:80"}'));
        return;
      }
      resolve(v as Record<string, unknown>);
    });
  });
}
