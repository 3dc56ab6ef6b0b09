// What a health check attempt reports, shared by the checkers (I/O), the pure
// scheduling and state logic, the engine and the `haldir check` command.
import type { Checker } from '../model/types.js';

/** Where a checker connects: the real server, unless connect_ip / connect_port say otherwise. */
export interface CheckTarget {
  address: string;
  /** Undefined for fwmark services without connect_port (validation refuses checkers that need one). */
  port: number | undefined;
  family: 4 | 6;
}

export interface CheckResult {
  ok: boolean;
  /**
   * Why, in words an operator reads: "ok", "connection refused", "timeout after 2000 ms",
   * "status 503 (expected 200)", "digest mismatch", "TLS handshake: …", "exit code 1".
   */
  reason: string;
  /** Time the attempt took. */
  latencyMs: number;
  /** MISC_CHECK with misc_dynamic: exit code − 2 (keepalived), the real server's new weight. */
  weight?: number;
  /** HTTP status when one was received. */
  status?: number;
  /** FILE_CHECK: value × weight, added to the real server's configured weight (keepalived track_file). */
  weightDelta?: number;
}

export interface AttemptOptions {
  /** HTTP_GET / SSL_GET: which url block this attempt checks (one per cycle, keepalived). */
  urlIndex?: number;
  /** Aborts the attempt (reload, shutdown). */
  signal?: AbortSignal;
}

/** Runs one attempt of one checker against one target. Never throws: failures are results. */
export type RunCheck = (c: Checker, target: CheckTarget, opts?: AttemptOptions) => Promise<CheckResult>;
