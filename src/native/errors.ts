// Errno numbers ↔ names for the native layer: the addon returns -errno, and
// haldir reports failures by name ("EEXIST", "ENOBUFS"), as the kernel does.
import { getSystemErrorMap } from 'node:util';

const byNumber = getSystemErrorMap();

/** "EEXIST" for 17 (or -17); "E<n>" when the number is unknown. */
export function errnoName(errno: number): string {
  return byNumber.get(-Math.abs(errno))?.[0] ?? `E${Math.abs(errno)}`;
}

/** libuv's text for an errno, e.g. "file already exists". */
export function errnoText(errno: number): string {
  return byNumber.get(-Math.abs(errno))?.[1] ?? `errno ${Math.abs(errno)}`;
}

/** A failed syscall: `code` is the errno name, `errno` the positive number. */
export class NativeError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall}${detail ? ` ${detail}` : ''}: ${code} (${errnoText(errno)})`);
    this.name = 'NativeError';
    this.code = code;
    this.errno = Math.abs(errno);
    this.syscall = syscall;
  }
}

/** Throws a NativeError when a syscall result is negative; returns it otherwise. */
export function check(syscall: string, rc: number, detail?: string): number {
  if (rc < 0) throw new NativeError(syscall, rc, detail);
  return rc;
}
