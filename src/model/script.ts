// Script command lines: keepalived keeps a script as one string and splits it
// into arguments on unquoted white space, single quotes grouping (keepalived.conf(5),
// "Quoted strings"). haldir executes the argv directly, never through a shell.
import type { Script } from './types.js';

export function splitCommand(cmd: string): string[] {
  const argv: string[] = [];
  let cur = '';
  let inArg = false;
  let quote: string | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inArg = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      inArg = true;
    } else if (c === ' ' || c === '\t') {
      if (inArg) argv.push(cur);
      cur = '';
      inArg = false;
    } else {
      cur += c;
      inArg = true;
    }
  }
  if (inArg) argv.push(cur);
  return argv;
}

export function makeScript(cmd: string, user?: string, group?: string): Script {
  const s: Script = { cmd, argv: splitCommand(cmd) };
  if (user !== undefined) s.user = user;
  if (group !== undefined) s.group = group;
  return s;
}

/** Shell syntax that only works through /bin/sh, which haldir does not use. */
export function shellOnlySyntax(cmd: string): string | undefined {
  const m = /(^|\s)(<|>|\||&&|;|\$\(|`)/.exec(cmd);
  return m ? m[2] : undefined;
}
