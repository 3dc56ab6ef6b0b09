// genhash: the MD5 digest of a page, for HTTP_GET / SSL_GET `digest` lines
// (keepalived's genhash tool). Same request and response reader as the
// checker (checkers/http.ts), so the digest printed is the digest checked.
// The CLI command (`haldir genhash --url URL [--virtualhost H] [--ssl]`) is
// wired by the lead; this module does the work and the formatting.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { buildRequest, hostHeader, httpFetch, md5hex, type HttpProtocol } from './checkers/http.js';

export interface GenhashOptions {
  /** http://host[:port]/path or https://…; a host name is resolved once. */
  url: string;
  /** Host header (and SNI name with sni). Default: the address and port, as keepalived. */
  virtualhost?: string;
  /** Force TLS (also implied by an https URL). */
  ssl?: boolean;
  /** Send SNI: this name, or the virtualhost when only `sni` is set (genhash -I). */
  sniName?: string;
  sni?: boolean;
  protocol?: HttpProtocol;
  /** Whole request deadline (default 5000 ms, keepalived's connect_timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface GenhashResult {
  address: string;
  port: number;
  ssl: boolean;
  request: string;
  status: number;
  statusLine: string;
  headers: [string, string][];
  bodyLength: number;
  /** MD5 of the entity body (de-chunked): what a `digest` line must hold. */
  md5: string;
  /** keepalived's digest when it differs (chunked answers: keepalived digests the chunk framing too). */
  keepalivedMd5?: string;
  latencyMs: number;
}

/** Fetches the page and digests it; throws an Error whose message is the reason on failure. */
export async function genhash(o: GenhashOptions): Promise<GenhashResult> {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new Error(`bad url ${JSON.stringify(o.url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported scheme ${u.protocol} (http or https)`);
  const ssl = o.ssl === true || u.protocol === 'https:';
  const port = u.port ? Number(u.port) : ssl ? 443 : 80;
  let address = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!net.isIP(address)) {
    try {
      address = (await lookup(address)).address;
    } catch (err) {
      throw new Error(`cannot resolve ${u.hostname}: ${(err as Error).message}`, { cause: err });
    }
  }
  const path = `${u.pathname || '/'}${u.search}`;
  const host = hostHeader(o.virtualhost, address, port);
  const protocol = o.protocol ?? '1.0';
  let servername = o.sniName ?? (o.sni ? o.virtualhost : undefined);
  if (servername && net.isIP(servername)) servername = undefined;
  const r = await httpFetch({
    address,
    port,
    family: net.isIPv6(address) ? 6 : 4,
    path,
    host,
    protocol,
    ...(ssl ? { tls: servername ? { servername } : {} } : {}),
    timeoutMs: o.timeoutMs ?? 5000,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!r.ok) throw new Error(r.reason);
  const res = r.response;
  const md5 = md5hex(res.body);
  const kaMd5 = md5hex(res.keepalivedBody);
  return {
    address,
    port,
    ssl,
    request: buildRequest(path, host, protocol),
    status: res.status,
    statusLine: res.statusLine,
    headers: res.headers,
    bodyLength: res.body.length,
    md5,
    ...(kaMd5 !== md5 ? { keepalivedMd5: kaMd5 } : {}),
    latencyMs: r.latencyMs,
  };
}

/**
 * keepalived genhash's summary line "MD5SUM = <hex>"; verbose adds the request,
 * the response head and sizes, like genhash -v's header dump.
 */
export function formatGenhash(r: GenhashResult, opts: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  if (opts.verbose) {
    const where = r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
    out.push(`----- request to ${where}${r.ssl ? ' (TLS)' : ''} -----`);
    out.push(...r.request.replace(/\r\n\r\n$/, '').split('\r\n'));
    out.push('----- response header -----');
    out.push(r.statusLine);
    for (const [k, v] of r.headers) out.push(`${k}: ${v}`);
    out.push('----- body -----');
    out.push(`status ${r.status}, ${r.bodyLength} bytes, ${r.latencyMs} ms`);
    if (r.keepalivedMd5) out.push(`keepalived digest (chunk framing included) = ${r.keepalivedMd5}`);
  }
  out.push(`MD5SUM = ${r.md5}`);
  return `${out.join('\n')}\n`;
}
