// A client of the daemon's API, over the unix socket or TCP with a bearer token: for
// the CLI (cli/status.ts) and for a daemon asking its peers (cluster view). Errors
// come back as ApiClientError with the server's message and hint, or with what to
// check when nothing answers.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { SseParser } from './events.js';

export interface Endpoint {
  /** Unix socket path, or */
  socket?: string;
  /** `http://HOST:PORT` for TCP. */
  url?: string;
  token?: string;
}

export class ApiClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function describe(ep: Endpoint): string {
  return ep.socket ? `unix:${ep.socket}` : (ep.url ?? '?');
}

function open(ep: Endpoint, method: string, path: string, headers: Record<string, string>, timeoutMs: number | undefined, cb: (res: IncomingMessage) => void) {
  const h: Record<string, string> = { ...headers, ...(ep.token ? { Authorization: `Bearer ${ep.token}` } : {}) };
  if (ep.socket) return httpRequest({ socketPath: ep.socket, path, method, headers: h, ...(timeoutMs ? { timeout: timeoutMs } : {}) }, cb);
  const u = new URL(path, ep.url);
  return httpRequest({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: u.pathname + u.search, method, headers: h, ...(timeoutMs ? { timeout: timeoutMs } : {}) }, cb);
}

function connectError(ep: Endpoint, e: NodeJS.ErrnoException): ApiClientError {
  const where = describe(ep);
  if (e.code === 'ENOENT') return new ApiClientError(`no haldir API at ${where}`, undefined, 'is haldir run going? give its socket with --socket PATH (haldir run --api-socket)');
  if (e.code === 'EACCES') return new ApiClientError(`permission denied on ${where}`, undefined, 'the socket is mode 0600: run as the user haldir runs as (root)');
  if (e.code === 'ECONNREFUSED') return new ApiClientError(`nothing listens at ${where}`, undefined, 'is haldir run going with this --api-socket / --api-listen?');
  return new ApiClientError(`cannot reach ${where}: ${e.code ?? e.message}`);
}

/** One request; the parsed JSON (or text) body on 2xx, ApiClientError otherwise. */
export function call<T = unknown>(ep: Endpoint, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = open(ep, method, path, data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) } : {}, timeoutMs, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(new ApiClientError(`${describe(ep)}: ${e.message}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = /json/.test(res.headers['content-type'] ?? '');
        let v: unknown = text;
        if (json) {
          try {
            v = JSON.parse(text);
          } catch {
            reject(new ApiClientError(`${describe(ep)}: the answer is not JSON`, res.statusCode));
            return;
          }
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(v as T);
        else {
          const e = (json ? v : {}) as { error?: string; hint?: string };
          reject(new ApiClientError(e.error ?? `HTTP ${status}`, status, e.hint));
        }
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(ep, e)));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/**
 * Follows the event stream: `onEvent` for each event's JSON; resolves when the server
 * ends the stream or `signal` aborts. Reconnects are the caller's.
 */
export function follow(ep: Endpoint, path: string, onEvent: (data: string, id?: string) => void, signal?: AbortSignal, lastId?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = open(ep, 'GET', path, { Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) }, undefined, (res) => {
      if ((res.statusCode ?? 0) !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let e: { error?: string; hint?: string } = {};
          try {
            e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof e;
          } catch {
            /* not JSON */
          }
          reject(new ApiClientError(e.error ?? `HTTP ${res.statusCode}`, res.statusCode, e.hint));
        });
        return;
      }
      const p = new SseParser();
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        for (const f of p.push(c)) onEvent(f.data, f.id);
      });
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    signal?.addEventListener('abort', () => {
      req.destroy();
      resolve();
    });
    req.on('error', (e: NodeJS.ErrnoException) => (signal?.aborted ? resolve() : reject(connectError(ep, e))));
    req.end();
  });
}
