// Plain-HTTP transport for HTTP_GET on a bare non-blocking socket (connect.ts):
// connect, poll writable, send keepalived's request, poll
// readable until the response is complete or the server closes. Thousands of
// checks a second must not each build a node stream (measured: the stream
// machinery cost more than the check). The parsing is http.ts's.
import { isIP } from 'node:net';
import { UV_READABLE, UV_WRITABLE } from '../../native/constants.js';
import { connectError, errnoWords, openConnection } from './connect.js';
import { buildRequest, headerEnd, MAX_RESPONSE_BYTES, parseResponse, type HttpFetchOptions, type HttpFetchResult, type HttpResponse } from './http.js';

const EAGAIN = 11;
const CHUNK = 64 * 1024;
/** One receive buffer for every check: reads are synchronous and copied out at once. */
const RBUF = Buffer.allocUnsafe(CHUNK);

const words = errnoWords;

export function rawHttpFetch(o: HttpFetchOptions): Promise<HttpFetchResult> {
  const t0 = performance.now();
  const latency = () => Math.round((performance.now() - t0) * 10) / 10;
  const family: 4 | 6 = o.family ?? (isIP(o.address) === 6 ? 6 : 4);
  const src = { ...(o.localAddress ? { bindTo: o.localAddress } : {}), ...(o.localPort ? { bindPort: o.localPort } : {}) };
  const opened = openConnection(o.address, o.port, family, src);
  if ('error' in opened) return Promise.resolve({ ok: false, reason: opened.error, latencyMs: latency() });
  const { A, fd } = opened;
  return new Promise((resolve) => {
    let settled = false;
    let phase = 'connecting';
    let request: Buffer | undefined = Buffer.from(buildRequest(o.path, o.host, o.protocol), 'latin1');
    const chunks: Buffer[] = [];
    let size = 0;
    let buf = Buffer.alloc(0);
    let end = -1;
    const finish = (r: HttpFetchResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      poller.close();
      A.close(fd);
      resolve(r);
    };
    const fail = (reason: string) => finish({ ok: false, reason, latencyMs: latency() });
    const succeed = (response: HttpResponse) => finish({ ok: true, response, latencyMs: latency() });
    /** The response if it is complete (parsed once, then handed over as is). */
    const complete = (): HttpResponse | undefined => {
      if (end < 0) return undefined;
      const r = parseResponse(buf, end, false);
      return r.complete ? r : undefined;
    };
    const joined = () => {
      if (chunks.length) {
        buf = Buffer.concat([buf, ...chunks]);
        chunks.length = 0;
      }
      return buf;
    };
    const onReadable = () => {
      for (;;) {
        const r = A.recvmsg(fd, RBUF, null, null);
        if (typeof r === 'number') {
          if (r === -EAGAIN) break;
          joined();
          // A reset after a complete header block still delivered a response.
          const resp = complete();
          if (resp) return succeed(resp);
          return fail(`${words(-r)} (reading response)`);
        }
        const n = r[0];
        if (n === 0) {
          joined();
          if (end >= 0 || (end = headerEnd(buf)) >= 0) return succeed(parseResponse(buf, end, true));
          return fail(buf.length === 0 ? 'no reply' : `malformed response (no end of headers in ${buf.length} bytes)`);
        }
        phase = 'reading response';
        chunks.push(Buffer.from(RBUF.subarray(0, n)));
        size += n;
        if (size > MAX_RESPONSE_BYTES) return fail(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      joined();
      if (end < 0) end = headerEnd(buf);
      // Stop as soon as the message is complete: a server ignoring "Connection: close" is no timeout.
      const resp = complete();
      if (resp) succeed(resp);
    };
    const poller = new A.Poller(fd, (status, events) => {
      if (settled) return;
      if (request) {
        // Connected (or failed): SO_ERROR says which.
        const errno = connectError(A, fd);
        if (errno !== 0) return fail(words(errno));
        if (status < 0) return fail(`poll error ${status}`);
        phase = 'waiting for response';
        const n = A.sendto(fd, request, null);
        if (n < 0) return fail(words(-n));
        // keepalived's request is a few hundred bytes: a short write is rare but handled.
        request = n < request.length ? request.subarray(n) : undefined;
        if (!request) poller.start(UV_READABLE);
        return;
      }
      if (events & UV_READABLE || status < 0) onReadable();
    });
    const timer = setTimeout(() => fail(`timeout after ${o.timeoutMs} ms (${phase})`), o.timeoutMs);
    const onAbort = () => fail('aborted');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) return onAbort();
    // Already connected (the handshake finished inside connect()): send at once and wait
    // only for the answer, saving a poll round.
    if (opened.connected) {
      phase = 'waiting for response';
      const n = A.sendto(fd, request!, null);
      if (n < 0) return fail(words(-n));
      request = n < request!.length ? request!.subarray(n) : undefined;
    }
    poller.start(request ? UV_WRITABLE : UV_READABLE);
  });
}
