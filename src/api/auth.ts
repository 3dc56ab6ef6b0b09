// Bearer tokens for the API on TCP (RFC 6750 §2.1). The token file holds one token
// per line, optionally named (`NAME TOKEN`; `#` comments): the name is who asked in
// the action log, the token itself is never logged or echoed. Comparison is in
// constant time over digests, so neither the length nor a prefix leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export interface Token {
  name: string;
  digest: Buffer;
}

export class TokenFileError extends Error {}

/** Tokens shorter than this are refused: a bearer token must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function parseTokens(text: string, file: string): Token[] {
  const out: Token[] = [];
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length > 2) throw new TokenFileError(`${file}:${n + 1}: a line is TOKEN or NAME TOKEN (found ${parts.length} words)`);
    const [name, token] = parts.length === 2 ? [parts[0]!, parts[1]!] : [`token${out.length + 1}`, parts[0]!];
    if (token.length < MIN_TOKEN_LENGTH) throw new TokenFileError(`${file}:${n + 1}: the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
    out.push({ name, digest: digest(token) });
  });
  if (out.length === 0) throw new TokenFileError(`${file}: no token in the file (one per line: TOKEN or NAME TOKEN)`);
  return out;
}

/** Reads the token file; `warn` hears about a file others can read. */
export function readTokens(file: string, warn: (msg: string) => void = () => {}): Token[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    if ((statSync(file).mode & 0o077) !== 0) warn(`${file} can be read by other users; chmod 600 it`);
  } catch (e) {
    throw new TokenFileError(`cannot read the API token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseTokens(text, file);
}

/** The first token's text from a token file (a client's or a peer's side): the last word of its first line. */
export function readClientToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TokenFileError(`cannot read the API token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!line) throw new TokenFileError(`${file}: no token in the file`);
  return line.split(/\s+/).pop()!;
}

/** The name of the token an Authorization header carries, or undefined. */
export function authorize(header: string | undefined, tokens: readonly Token[]): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const d = digest(m[1]!);
  let found: string | undefined;
  // Every token is compared, so the time does not tell which one matched.
  for (const t of tokens) if (timingSafeEqual(d, t.digest) && found === undefined) found = t.name;
  return found;
}
