// The TLS context of SSL_GET checks with `tls` settings (a CA to verify against, a
// client certificate): built once per distinct setting and rebuilt when one of its files
// changes (a renewed certificate needs no reload), so thousands of checks a second do not
// each read and parse PEM files. Errors name the file, never the passphrase.
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import type { CheckTls } from '../../model/types.js';

interface Cached {
  stamp: string;
  context?: tls.SecureContext;
  error?: string;
}

const cache = new Map<string, Cached>();

/** Modification times of the files, the cache key's freshness (a missing file is part of it too). */
function stampOf(t: CheckTls): string {
  return [t.ca, t.certificate, t.key]
    .map((f) => {
      if (f === undefined) return '-';
      try {
        const s = statSync(f);
        return `${s.mtimeMs}/${s.size}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

function read(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`cannot read the ${what} file ${file}: ${code}`);
  }
}

/** The secure context for these settings, or the reason there is none. */
export function checkTlsContext(t: CheckTls): { context: tls.SecureContext } | { error: string } {
  const key = JSON.stringify([t.ca, t.certificate, t.key, t.password]);
  const stamp = stampOf(t);
  const hit = cache.get(key);
  if (hit && hit.stamp === stamp) return hit.context ? { context: hit.context } : { error: hit.error! };
  const entry: Cached = { stamp };
  try {
    if ((t.certificate === undefined) !== (t.key === undefined)) throw new Error('a client certificate needs both certificate and key');
    const opts: tls.SecureContextOptions = {};
    if (t.ca !== undefined) opts.ca = read('ca', t.ca);
    if (t.certificate !== undefined) opts.cert = read('certificate', t.certificate);
    if (t.key !== undefined) opts.key = read('key', t.key);
    if (t.password !== undefined) opts.passphrase = t.password;
    try {
      entry.context = tls.createSecureContext(opts);
    } catch (e) {
      // OpenSSL's words ("bad decrypt", "no start line"): they never contain the passphrase.
      throw new Error(`tls settings rejected (ca ${t.ca ?? '-'}, certificate ${t.certificate ?? '-'}, key ${t.key ?? '-'}): ${(e as Error).message}`);
    }
  } catch (e) {
    entry.error = (e as Error).message;
  }
  cache.set(key, entry);
  return entry.context ? { context: entry.context } : { error: entry.error! };
}
