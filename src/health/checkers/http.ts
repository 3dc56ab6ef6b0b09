// HTTP_GET / SSL_GET: keepalived's request on a raw net/tls socket and a
// lenient response reader (node's http module would neither send exactly
// keepalived's request nor accept the malformed answers a broken server gives).
//
// keepalived (check_http.c http_request): "GET <path> HTTP/1.<0|1>\r\n",
// "User-Agent: KeepAliveClient\r\n", "Connection: close\r\n" for http_protocol
// 1.0C and 1.1, then "Host: <vhost>" or "Host: <ip>:<port>" ("[v6]:port").
// The vhost is the url's virtualhost, else the checker's, else the real or
// virtual server's (the model's inheritance fills the checker's).
// One deadline = connect_timeout covers connect, TLS handshake, request and the
// whole read (keepalived re-arms connect_timeout for each read; a trickling
// server can hold it much longer, we do not let it).
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { HttpChecker, HttpUrl, StatusRange } from '../../model/types.js';
import type { AttemptOptions, CheckResult, CheckTarget } from '../types.js';
import { rawHttpFetch } from './http-raw.js';
import { checkTlsContext } from './tls-context.js';
import { deadline, done, errorReason, localOf, now, targetPortMissing, timeoutOf, unsupportedOptions } from './common.js';

export type HttpProtocol = '1.0' | '1.0C' | '1.1';

/** Responses are buffered whole; a health page larger than this is refused. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The Host header value: the virtualhost as given, else the address and port (keepalived). */
export function hostHeader(vhost: string | undefined, address: string, port: number): string {
  if (vhost) return vhost;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** keepalived's request, byte for byte. */
export function buildRequest(path: string, host: string, protocol: HttpProtocol = '1.0'): string {
  return (
    `GET ${path} HTTP/1.${protocol === '1.1' ? 1 : 0}\r\n` +
    'User-Agent: KeepAliveClient\r\n' +
    (protocol === '1.0' ? '' : 'Connection: close\r\n') +
    `Host: ${host}\r\n\r\n`
  );
}

export interface HttpResponse {
  /** 0 when the status line is malformed (keepalived extract_status_code). */
  status: number;
  statusLine: string;
  headers: [string, string][];
  /** The header block as received, without the blank line. */
  rawHeader: string;
  /** The entity body: de-chunked for Transfer-Encoding: chunked, cut at Content-Length. */
  body: Buffer;
  /**
   * The bytes keepalived digests: everything after the header block, cut at
   * Content-Length, chunk framing included (keepalived never de-chunks).
   */
  keepalivedBody: Buffer;
  contentLength?: number;
  chunked: boolean;
  /** The body ended as framed (Content-Length reached, last chunk, or EOF without framing). */
  complete: boolean;
}

export interface HttpFetchOptions {
  address: string;
  port: number;
  family?: 4 | 6;
  path: string;
  host: string;
  protocol?: HttpProtocol;
  /**
   * Present for SSL_GET. servername: the SNI name, omitted = no SNI. context: trust and
   * client identity (tls-context.ts); verify: check the chain (and the SNI name when sent).
   */
  tls?: { servername?: string; context?: tls.SecureContext; verify?: boolean };
  localAddress?: string;
  localPort?: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type HttpFetchResult = { ok: true; response: HttpResponse; latencyMs: number } | { ok: false; reason: string; latencyMs: number };

const NO_BODY = (status: number) => (status >= 100 && status < 200) || status === 204 || status === 304;

/** Offset just past the blank line ending the header block; -1 when not there yet. Bare LF tolerated. */
export function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : -1;
}

/** keepalived: the 3 digits between the first space and the next one. */
export function statusOf(line: string): number {
  const m = /^\S+ (\d{3})(?: |$)/.exec(line);
  return m ? Number(m[1]) : 0;
}

interface Dechunked {
  body: Buffer;
  complete: boolean;
  error?: string;
}

/** RFC 9112 §7.1 chunked decoding, tolerant of a missing final CRLF. */
export function dechunk(raw: Buffer): Dechunked {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = raw.indexOf('\n', off);
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const sizeText = raw.subarray(off, eol).toString('latin1').replace(/\r$/, '').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return { body: Buffer.concat(parts), complete: false, error: `malformed chunk size "${sizeText.slice(0, 20)}"` };
    const size = parseInt(sizeText, 16);
    off = eol + 1;
    if (size === 0) {
      // Trailers, up to an empty line; EOF there is fine.
      return { body: Buffer.concat(parts), complete: true };
    }
    if (off + size > raw.length) {
      parts.push(raw.subarray(off));
      return { body: Buffer.concat(parts), complete: false };
    }
    parts.push(raw.subarray(off, off + size));
    off += size;
    if (raw[off] === 0x0d) off++;
    if (raw[off] === 0x0a) off++;
  }
}

export function parseResponse(buf: Buffer, end: number, eof: boolean): HttpResponse {
  const rawHeader = buf.subarray(0, end).toString('latin1').replace(/\r?\n\r?\n$/, '');
  const lines = rawHeader.split(/\r?\n/);
  const statusLine = lines[0] ?? '';
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
  }
  const status = statusOf(statusLine);
  const get = (name: string) => headers.find(([k]) => k.toLowerCase() === name)?.[1];
  const clText = get('content-length');
  const contentLength = clText !== undefined && /^\d+$/.test(clText) ? Number(clText) : undefined;
  const chunked = /(^|,)\s*chunked\s*$/i.test(get('transfer-encoding') ?? '');
  const after = buf.subarray(end);
  const keepalivedBody = contentLength !== undefined ? after.subarray(0, contentLength) : after;
  let body: Buffer;
  let complete: boolean;
  if (NO_BODY(status)) {
    body = Buffer.alloc(0);
    complete = true;
  } else if (chunked) {
    const d = dechunk(after);
    body = d.body;
    complete = d.complete;
  } else if (contentLength !== undefined) {
    body = keepalivedBody;
    complete = after.length >= contentLength;
  } else {
    body = after;
    complete = eof;
  }
  return { status, statusLine, headers, rawHeader, body, keepalivedBody, ...(contentLength !== undefined ? { contentLength } : {}), chunked, complete };
}

/** One GET with keepalived's request; never throws. */
export function httpFetch(o: HttpFetchOptions): Promise<HttpFetchResult> {
  // Plain HTTP goes over a bare socket (see http-raw.ts); TLS needs node's tls, below.
  if (!o.tls) return rawHttpFetch(o);
  const tlsOpts = o.tls;
  const t0 = now();
  return new Promise((resolve) => {
    let settled = false;
    let phase = 'connecting';
    let sock: tls.TLSSocket | undefined;
    let buf: Buffer = Buffer.alloc(0);
    let end = -1;
    /** The last parse, when it found the response complete: not parsed a second time. */
    let parsed: HttpResponse | undefined;
    const dl = deadline(o.timeoutMs, o.signal, () => phase);
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      dl.clear();
      sock?.destroy();
      resolve({ ok: false, reason, latencyMs: Math.round((now() - t0) * 10) / 10 });
    };
    const succeed = (eof: boolean) => {
      if (settled) return;
      settled = true;
      dl.clear();
      sock?.destroy();
      resolve({ ok: true, response: !eof && parsed?.complete ? parsed : parseResponse(buf, end, eof), latencyMs: Math.round((now() - t0) * 10) / 10 });
    };
    dl.onExpire(fail);
    const request = buildRequest(o.path, o.host, o.protocol);
    const onConnected = () => {
      phase = 'waiting for response';
      sock!.write(request, 'latin1');
    };
    try {
      const base = { host: o.address, port: o.port, ...(o.family ? { family: o.family } : {}), localAddress: o.localAddress, localPort: o.localPort };
      // keepalived never verifies (it loads a CA but never asks OpenSSL to check): neither
      // does haldir, unless a ca is configured — then the chain, and the name when SNI is sent.
      const opts: tls.ConnectionOptions = { ...base, rejectUnauthorized: tlsOpts.verify === true };
      if (tlsOpts.context) opts.secureContext = tlsOpts.context;
      if (tlsOpts.servername) opts.servername = tlsOpts.servername;
      if (tlsOpts.verify && !tlsOpts.servername) opts.checkServerIdentity = () => undefined;
      const s = tls.connect(opts);
      s.once('connect', () => (phase = 'TLS handshake'));
      s.once('secureConnect', onConnected);
      sock = s;
    } catch (err) {
      fail(errorReason(err));
      return;
    }
    sock.on('data', (d: Buffer) => {
      phase = 'reading response';
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (buf.length > MAX_RESPONSE_BYTES) return fail(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
      if (end < 0) end = headerEnd(buf);
      // Stop as soon as the message is complete: a server ignoring
      // "Connection: close" must not turn into a timeout.
      if (end >= 0 && (parsed = parseResponse(buf, end, false)).complete) succeed(false);
    });
    sock.once('end', () => {
      if (end >= 0) return succeed(true);
      fail(buf.length === 0 ? 'no reply' : `malformed response (no end of headers in ${buf.length} bytes)`);
    });
    sock.once('error', (err) => {
      const r = errorReason(err);
      const code = (err as NodeJS.ErrnoException).code;
      if (tlsOpts.verify && code && (/CERT|SIGNATURE|ISSUER/.test(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID')) {
        return fail(`TLS: certificate not trusted: ${code} (${(err as Error).message})`);
      }
      if (phase === 'TLS handshake') return fail(`TLS handshake: ${r}`);
      // A reset after a complete header block still delivered a response (keepalived
      // reports a read error; we judge what arrived only when it is complete).
      if (end >= 0 && (parsed = parseResponse(buf, end, false)).complete) return succeed(false);
      fail(phase === 'reading response' ? `${r} (reading response)` : r);
    });
    sock.once('close', () => {
      if (end >= 0) return succeed(true);
      fail(buf.length === 0 ? 'no reply' : 'connection closed');
    });
  });
}

export const md5hex = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

export function statusAccepted(status: number, ranges: StatusRange[]): boolean {
  if (ranges.length === 0) return status >= 200 && status <= 299;
  return ranges.some((r) => status >= r.from && status <= r.to);
}

export function describeRanges(ranges: StatusRange[]): string {
  if (ranges.length === 0) return '200-299';
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}

// keepalived's regex_options are PCRE2 flags. Those with a JavaScript equivalent are
// mapped; those that only tune PCRE2's optimiser or restrict features the pattern
// does not use change nothing; the rest change matching in ways RegExp cannot
// express and are refused (the check fails saying so, instead of matching differently).
const REGEX_FLAG: Record<string, string> = { caseless: 'i', multiline: 'm', dotall: 's', utf: 'u', ucp: 'u' };
const REGEX_NOOP = new Set([
  'allow_empty_class',
  'auto_callout',
  'dollar_endonly', // JS "$" without "m" already matches only at the very end
  'dupnames',
  'never_backslash_c',
  'never_ucp',
  'never_utf',
  'no_auto_capture',
  'no_auto_possess',
  'no_dotstar_anchor',
  'no_start_optimize',
  'use_offset_limit',
  'firstline', // implemented below by cutting the subject at the first newline
]);

export interface CompiledRegex {
  re: RegExp;
  firstline: boolean;
  utf: boolean;
}

export function compileRegex(pattern: string, options: string[] = []): CompiledRegex | string {
  let flags = 'g';
  for (const opt of options) {
    const o = opt.toLowerCase();
    const f = REGEX_FLAG[o];
    if (f) {
      if (!flags.includes(f)) flags += f;
    } else if (!REGEX_NOOP.has(o)) return `regex option ${opt} not supported`;
  }
  try {
    return { re: new RegExp(pattern, flags), firstline: options.includes('firstline'), utf: flags.includes('u') };
  } catch (err) {
    return `regex ${JSON.stringify(pattern)} invalid: ${(err as Error).message}`;
  }
}

/**
 * Whether the pattern matches the body with its start in [min_offset, max_offset]
 * (keepalived check_regex: the match may start at min_offset at the earliest and
 * must start at or before max_offset).
 */
export function regexMatches(r: CompiledRegex, body: Buffer, minOffset?: number, maxOffset?: number): boolean {
  let subject = body.toString(r.utf ? 'utf8' : 'latin1');
  if (r.firstline) {
    const nl = subject.indexOf('\n');
    if (nl >= 0) subject = subject.slice(0, nl);
  }
  r.re.lastIndex = minOffset ?? 0;
  const m = r.re.exec(subject);
  if (!m) return false;
  return maxOffset === undefined || m.index <= maxOffset;
}

/** Judges one response against one url block: status, then digest, then regex (keepalived's order). */
export function judgeResponse(res: HttpResponse, url: HttpUrl): { ok: boolean; reason: string } {
  if (!statusAccepted(res.status, url.statusCodes)) {
    const what = res.status === 0 ? `malformed status line "${res.statusLine.slice(0, 60)}"` : `status ${res.status}`;
    return { ok: false, reason: `${what} (expected ${describeRanges(url.statusCodes)})` };
  }
  if (url.digest) {
    const want = url.digest.toLowerCase();
    const got = md5hex(res.body);
    // A digest made by keepalived's genhash for a chunked answer covers the chunk
    // framing; accept that one too so migrated configurations keep passing.
    if (got !== want && !(res.chunked && md5hex(res.keepalivedBody) === want)) {
      return { ok: false, reason: `digest mismatch (got ${got}, expected ${want})` };
    }
  }
  if (url.regex !== undefined) {
    const r = compileRegex(url.regex, url.regexOptions);
    if (typeof r === 'string') return { ok: false, reason: r };
    const matched = regexMatches(r, res.body, url.regexMinOffset, url.regexMaxOffset);
    if (matched === url.regexNoMatch) {
      return { ok: false, reason: url.regexNoMatch ? `regex /${url.regex}/ matched (regex_no_match)` : `regex /${url.regex}/ did not match` };
    }
  }
  return { ok: true, reason: 'ok' };
}

export async function runHttpCheck(c: HttpChecker, t: CheckTarget, opts: AttemptOptions = {}): Promise<CheckResult> {
  const t0 = now();
  // keepalived enables a server whose checker has no url without checking it.
  if (c.urls.length === 0) return done(true, 'ok (no url to check)', t0);
  const missing = targetPortMissing(t);
  if (missing) return missing;
  const unsupported = unsupportedOptions(c);
  if (unsupported) return done(false, unsupported, t0);
  const url = c.urls[Math.abs(opts.urlIndex ?? 0) % c.urls.length]!;
  const vhost = url.virtualhost ?? c.virtualhost;
  let servername: string | undefined;
  if (c.type === 'SSL_GET' && (c.enableSni || c.sniName)) {
    // keepalived check_ssl.c: sni_name, else the url's, else the checker's virtualhost.
    servername = c.sniName ?? vhost;
    if (servername && net.isIP(servername)) servername = undefined; // SNI carries host names only (RFC 6066)
  }
  let tlsSettings: HttpFetchOptions['tls'];
  if (c.type === 'SSL_GET') {
    tlsSettings = servername ? { servername } : {};
    if (c.tls) {
      const ctx = checkTlsContext(c.tls);
      if ('error' in ctx) return done(false, ctx.error, t0);
      tlsSettings.context = ctx.context;
      tlsSettings.verify = c.tls.ca !== undefined;
    }
  }
  const r = await httpFetch({
    address: t.address,
    port: t.port!,
    family: t.family,
    path: url.path,
    host: hostHeader(vhost, t.address, t.port!),
    protocol: c.httpProtocol ?? '1.0',
    ...(tlsSettings ? { tls: tlsSettings } : {}),
    ...localOf(c),
    timeoutMs: timeoutOf(c.connectTimeout),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (!r.ok) return { ok: false, reason: r.reason, latencyMs: r.latencyMs };
  const j = judgeResponse(r.response, url);
  return { ok: j.ok, reason: j.reason, latencyMs: r.latencyMs, status: r.response.status };
}
