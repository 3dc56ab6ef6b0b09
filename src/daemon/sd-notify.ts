// systemd's notify protocol (sd_notify(3)) without libsystemd: one datagram per state
// change to the AF_UNIX socket named in $NOTIFY_SOCKET (a path, or '@' for the abstract
// namespace), sent through the native addon (Node has no Unix datagram sockets). Used by
// `haldir run` for Type=notify: READY=1, RELOADING=1, STOPPING=1, STATUS=…, and the
// watchdog (WATCHDOG=1 at half of $WATCHDOG_USEC, from the main thread, so a stalled
// main loop is noticed and restarted).
import { addon } from '../native/addon.js';
import { SOCK_DGRAM } from '../native/constants.js';

const AF_UNIX = 1;

/** sockaddr_un for a path or an abstract name ('@name'). */
export function sockaddrUn(name: string): Buffer {
  const abstract = name.startsWith('@');
  const path = Buffer.from(abstract ? name.slice(1) : name);
  if (path.length > 107) throw new Error(`NOTIFY_SOCKET path too long: ${name}`);
  // Abstract names are length-delimited (leading NUL); paths are NUL-terminated.
  const b = Buffer.alloc(2 + (abstract ? 1 + path.length : path.length + 1));
  b.writeUInt16LE(AF_UNIX, 0);
  path.copy(b, abstract ? 3 : 2);
  return b;
}

export class SdNotify {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly fd: number,
    private readonly addr: Buffer,
  ) {}

  /** The notifier systemd asked for, or undefined when not run by systemd with Type=notify. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SdNotify | undefined {
    const name = env['NOTIFY_SOCKET'];
    if (!name) return undefined;
    const fd = addon().socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) return undefined;
    return new SdNotify(fd, sockaddrUn(name));
  }

  /** Sends `KEY=value` lines; false when systemd's socket did not take them. */
  send(...lines: string[]): boolean {
    return addon().sendto(this.fd, Buffer.from(lines.join('\n')), this.addr) >= 0;
  }

  /** Pings the watchdog at half the interval systemd set ($WATCHDOG_USEC, for this PID). */
  startWatchdog(env: NodeJS.ProcessEnv = process.env): number | undefined {
    const usec = Number(env['WATCHDOG_USEC']);
    const pid = env['WATCHDOG_PID'];
    if (!(usec > 0) || (pid !== undefined && Number(pid) !== process.pid)) return undefined;
    const everyMs = Math.max(1, Math.floor(usec / 2000));
    this.timer = setInterval(() => this.send('WATCHDOG=1'), everyMs);
    this.timer.unref();
    return everyMs;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    addon().close(this.fd);
  }
}
