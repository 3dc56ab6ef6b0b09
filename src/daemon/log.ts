// The daemon's log: one line per event, readable by people and by machines
// (`2026-11-29T21:30:00.123Z info VI_1 BACKUP -> MASTER reason="master_down expired"`),
// on stdout for journald. Secrets never reach it: callers pass no passwords.

export type Level = 'debug' | 'info' | 'warn' | 'error';

export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  log(level: Level, msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
}

function fmt(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatLine(level: Level, msg: string, fields: Fields = {}, now = new Date()): string {
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fmt(v!)}`)
    .join(' ');
  return `${now.toISOString()} ${level} ${msg}${kv ? ' ' + kv : ''}\n`;
}

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l), minLevel: Level = 'info'): Logger {
  const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const log = (level: Level, msg: string, fields?: Fields) => {
    if (order[level] >= order[minLevel]) write(formatLine(level, msg, fields));
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    debug: (m, f) => log('debug', m, f),
  };
}
