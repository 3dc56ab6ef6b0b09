// What the userspace data plane says when it cannot listen: the address, the
// port, the errno and the likely fix, in one sentence per service.
import type { ReconcileReport } from '../types.js';

/** `10.0.0.1:80` or `[fd00::1]:80`. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface ListenFailure {
  vsKey: string;
  protocol: 'tcp' | 'udp';
  /** The address the listener tried to bind. */
  address: string;
  port: number;
  /** errno name (EADDRINUSE, EACCES, EADDRNOTAVAIL, …) or `EUNKNOWN`. */
  code: string;
  /** The operator's sentence, naming the address, the port, the errno and the likely fix. */
  message: string;
}

function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

/** Describes a failed listen/bind of `protocol` on `address`:`port`. */
export function listenFailure(vsKey: string, protocol: 'tcp' | 'udp', address: string, port: number, err: unknown): ListenFailure {
  const code = errnoOf(err);
  const at = hostPort(address, port);
  const v = address.includes(':') ? 'ipv6' : 'ipv4';
  let message: string;
  switch (code) {
    case 'EADDRINUSE':
      message = `${protocol} ${at} is already in use by another process (EADDRINUSE): stop that process or move the virtual service`;
      break;
    case 'EACCES':
    case 'EPERM':
      message = `${protocol} port ${port} needs root or CAP_NET_BIND_SERVICE (${code} binding ${at}): grant the capability or lower net.ipv4.ip_unprivileged_port_start`;
      break;
    case 'EADDRNOTAVAIL':
      message = `${address} is not an address of this host (EADDRNOTAVAIL binding ${protocol} ${at}): add it to an interface first, or set net.${v}.ip_nonlocal_bind=1`;
      break;
    default: {
      const text = err instanceof Error ? err.message : String(err);
      message = `cannot listen on ${protocol} ${at} (${code}): ${text}`;
    }
  }
  return { vsKey, protocol, address, port, code, message };
}

/**
 * Thrown by reconcile after it applied everything it could: each failure names
 * its service; `report` holds the changes that did take effect.
 */
export class UserspaceReconcileError extends Error {
  override readonly name = 'UserspaceReconcileError';
  constructor(
    readonly failures: readonly ListenFailure[],
    readonly report: ReconcileReport,
    total: number,
  ) {
    const n = failures.length;
    const head =
      `userspace data plane: ${n} of ${total} service${total === 1 ? '' : 's'} could not be programmed` +
      (total > n ? ' (the others are programmed)' : '');
    super([head + ':', ...failures.map((f) => `  ${f.vsKey}: ${f.message}`)].join('\n'));
  }
}
