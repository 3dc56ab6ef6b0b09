// FILE_CHECK: a real server tracking a track_file (keepalived track_file.c,
// process_track_file): the file's first 127 bytes read as a C long (strtol base
// 0: decimal, 0x hex, 0 octal; garbage or a missing file count as 0).
//   weight 0: value 0 = up, anything else = down (reverse: the opposite).
//   weight w: value × w (× −1 with reverse) is a weight change for the real
//   server; at or below −65536 (IPVS_WEIGHT_FAULT) the server is down.
// The checker names a track_file; the file's path and default weight come from
// the model's trackFiles, so the engine builds its runCheck with
// createRunCheck({ trackFiles }). A trackFile that is already a path (starts
// with "/") works without that.
import { open } from 'node:fs/promises';
import type { FileChecker, TrackFile } from '../../model/types.js';
import type { CheckResult } from '../types.js';
import { done, now } from './common.js';

const IPVS_WEIGHT_FAULT = -65536;

/** strtol(buf, NULL, 0) on the file's text: leading number or 0; undefined when it overflows int32 (keepalived ignores such a value). */
export function parseTrackValue(text: string): number | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return 0;
  const digits = m[2]!;
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits.startsWith('0')) v = parseInt(digits, 8);
  else v = parseInt(digits, 10);
  if (m[1] === '-') v = -v;
  if (!Number.isSafeInteger(v) || v < -(2 ** 31) || v > 2 ** 31) return undefined;
  return v;
}

export interface ResolvedTrackFile {
  path: string;
  /** The track_file's own weight, used when the FILE_CHECK sets none (keepalived file_end_handler). */
  weight: number;
  weightReverse: boolean;
}

export async function readTrackFile(path: string): Promise<{ value: number } | { error: string }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    // A missing (or unreadable) file counts as 0, like keepalived.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') return { value: 0 };
    return { error: (err as Error).message };
  }
  try {
    const buf = Buffer.alloc(127);
    const { bytesRead } = await fh.read(buf, 0, 127, 0);
    const v = parseTrackValue(buf.subarray(0, bytesRead).toString('latin1'));
    return v === undefined ? { error: `invalid number in ${path}` } : { value: v };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await fh.close();
  }
}

/**
 * FILE_CHECK's weight is a change to the configured weight (keepalived
 * cur_weight), not the new weight that CheckResult.weight carries for
 * misc_dynamic, so it travels in its own field until the contract has one.
 */
export async function runFileCheck(c: FileChecker, file?: ResolvedTrackFile): Promise<CheckResult> {
  const t0 = now();
  const path = file?.path ?? (c.trackFile.startsWith('/') ? c.trackFile : undefined);
  if (!path) return done(false, `track_file "${c.trackFile}" not resolved to a file (engine: use createRunCheck({ trackFiles }))`, t0);
  const weight = c.weight ?? file?.weight ?? 1;
  const reverse = c.weight !== undefined ? c.weightReverse : (file?.weightReverse ?? c.weightReverse);
  const r = await readTrackFile(path);
  if ('error' in r) return done(false, r.error, t0);
  const v = r.value;
  if (weight === 0) {
    const down = reverse ? v === 0 : v !== 0;
    return done(!down, down ? `file value ${v}${reverse ? ' (reverse: 0 is down)' : ''}` : 'ok', t0);
  }
  const delta = v * weight * (reverse ? -1 : 1);
  if (delta <= IPVS_WEIGHT_FAULT) return done(false, `file value ${v} × weight ${weight}${reverse ? ' reversed' : ''} = ${delta} (fault)`, t0);
  return { ...done(true, `ok (weight change ${delta})`, t0), weightDelta: delta };
}

export function resolveTrackFile(name: string, trackFiles: readonly TrackFile[]): ResolvedTrackFile | undefined {
  const f = trackFiles.find((x) => x.name === name);
  return f ? { path: f.file, weight: f.weight, weightReverse: f.weightReverse } : undefined;
}
