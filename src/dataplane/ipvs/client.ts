// The IPVS generic netlink family spoken over a Genetlink socket: resolve "IPVS"
// (loading ip_vs once with modprobe when the kernel has it as a module), read services,
// destinations, timeouts, sync daemons and info back, and apply a list of diff.ts
// commands in batches. Synchronous like the other netlink clients: the kernel answers
// inside sendmsg. No ipvsadm anywhere.
import { execFileSync } from 'node:child_process';
import { Genetlink, type GenlFamily } from '../../netlink/genetlink.js';
import { NetlinkError } from '../../netlink/rtnetlink.js';
import {
  daemonAttr,
  decodeDaemon,
  decodeDest,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  destAttr,
  IPVS_CMD,
  IPVS_GENL_NAME,
  ipvsMessage,
  serviceAttr,
  serviceKey,
  destKey,
  timeoutAttrs,
  type IpvsDaemon,
  type IpvsDest,
  type IpvsInfo,
  type IpvsService,
  type IpvsServiceId,
  type IpvsTimeouts,
} from './codec.js';
import { describeService, type IpvsOp } from './diff.js';
import type { IpvsTable } from './objects.js';

/** IPVS is missing or refused us; the message says what to do. */
export class IpvsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IpvsError';
  }
}

function hint(e: NetlinkError): string {
  switch (e.code) {
    case 'EPERM':
    case 'EACCES':
      return 'programming IPVS needs CAP_NET_ADMIN (run haldir as root)';
    case 'ENOENT':
      return 'the kernel has no scheduler or persistence engine of that name (modprobe ip_vs_<name>; twos needs Linux 6.2)';
    case 'ESRCH':
      return 'no such service in the kernel (removed meanwhile?)';
    case 'EEXIST':
      return 'it exists already (added meanwhile?)';
    case 'EINVAL':
      return e.extack ?? 'the kernel refused the settings (mixed address families need TUN and no sync daemon; gue/gre need Linux 5.3/5.7)';
    default:
      return e.extack ?? '';
  }
}

const opWhat = (op: IpvsOp): string => {
  const s = describeService(op.svc);
  switch (op.cmd) {
    case 'add-service':
      return `add service ${s} (${op.svc.scheduler})`;
    case 'edit-service':
      return `edit service ${s}`;
    case 'del-service':
      return `delete service ${s}`;
    default:
      return `${op.cmd === 'add-dest' ? 'add' : op.cmd === 'edit-dest' ? 'edit' : 'delete'} destination ${destKey(op.dest)} of ${s}`;
  }
};

export class IpvsNetlink {
  private readonly nl: Genetlink;
  readonly family: GenlFamily;
  /** Change messages sent (service/destination/daemon/config commands): a no-op reconcile sends none. */
  changeMessages = 0;
  /** Read requests (dumps and gets). */
  readMessages = 0;

  /** Opens a socket and resolves the family, loading ip_vs once when it is missing. */
  static open(): IpvsNetlink {
    const nl = Genetlink.open({ bufferBytes: 4 << 20 });
    try {
      let family: GenlFamily;
      try {
        family = nl.family(IPVS_GENL_NAME);
      } catch (e) {
        if (!(e instanceof NetlinkError) || e.code !== 'ENOENT') throw e;
        // ip_vs is usually a module nothing has loaded yet (ipvsadm does the same).
        try {
          execFileSync('modprobe', ['-q', 'ip_vs'], { stdio: 'ignore', timeout: 10000 });
        } catch {
          /* reported below */
        }
        try {
          family = nl.family(IPVS_GENL_NAME);
        } catch (e2) {
          throw new IpvsError('the kernel has no IPVS (no generic netlink family "IPVS", and modprobe ip_vs did not load it): use --dataplane nftables, or a kernel with CONFIG_IP_VS', { cause: e2 });
        }
      }
      return new IpvsNetlink(nl, family);
    } catch (e) {
      nl.close();
      throw e;
    }
  }

  private constructor(nl: Genetlink, family: GenlFamily) {
    this.nl = nl;
    this.family = family;
  }

  /** Runs a request, turning a kernel refusal into an IpvsError that says what to do. */
  private wrap<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof NetlinkError) {
        const h = hint(e);
        throw new IpvsError(`${e.message}${h && !e.message.includes(h) ? `: ${h}` : ''}`, { cause: e });
      }
      throw e;
    }
  }

  info(): IpvsInfo {
    let info: IpvsInfo = { version: 0, connTabSize: 0 };
    this.readMessages++;
    this.wrap(() => this.nl.request('get IPVS info', this.family, IPVS_CMD.GET_INFO, [], { reply: true, onMsg: (m) => (info = decodeInfo(m.payload)) }));
    return info;
  }

  services(): IpvsService[] {
    const out: IpvsService[] = [];
    this.readMessages++;
    this.wrap(() =>
      this.nl.request('dump IPVS services', this.family, IPVS_CMD.GET_SERVICE, [], {
        dump: true,
        onMsg: (m) => {
          const s = decodeService(m.payload);
          if (s) out.push(s);
        },
        onRestart: () => void (out.length = 0),
      }),
    );
    return out;
  }

  dests(svc: IpvsServiceId): IpvsDest[] {
    const out: IpvsDest[] = [];
    this.readMessages++;
    this.wrap(() =>
      this.nl.request(`dump destinations of ${serviceKey(svc)}`, this.family, IPVS_CMD.GET_DEST, [serviceAttr(svc, false)], {
        dump: true,
        onMsg: (m) => {
          const d = decodeDest(m.payload, svc.af);
          if (d) out.push(d);
        },
        onRestart: () => void (out.length = 0),
      }),
    );
    return out;
  }

  /** Every service with its destinations (one dump for the services, one per service for its destinations). */
  table(): IpvsTable {
    const t: IpvsTable = new Map();
    for (const svc of this.services()) t.set(serviceKey(svc), { svc, dests: new Map(this.dests(svc).map((d) => [destKey(d), d])) });
    return t;
  }

  /** The genetlink message of one diff command (`ids`: service identities already encoded, by key). */
  message(op: IpvsOp, ids = new Map<string, Buffer>()): Buffer {
    const f = this.family;
    const id = (): Buffer => {
      let b = ids.get(op.key);
      if (!b) ids.set(op.key, (b = serviceAttr(op.svc, false)));
      return b;
    };
    switch (op.cmd) {
      case 'add-service':
        return ipvsMessage(f, IPVS_CMD.NEW_SERVICE, [serviceAttr(op.svc, true)]);
      case 'edit-service':
        return ipvsMessage(f, IPVS_CMD.SET_SERVICE, [serviceAttr(op.svc, true)]);
      case 'del-service':
        return ipvsMessage(f, IPVS_CMD.DEL_SERVICE, [id()]);
      case 'add-dest':
        return ipvsMessage(f, IPVS_CMD.NEW_DEST, [id(), destAttr(op.dest, true)]);
      case 'edit-dest':
        return ipvsMessage(f, IPVS_CMD.SET_DEST, [id(), destAttr(op.dest, true)]);
      case 'del-dest':
        return ipvsMessage(f, IPVS_CMD.DEL_DEST, [id(), destAttr(op.dest, false)]);
    }
  }

  /**
   * Sends the commands in order, batched; returns the refused ones (the rest were
   * applied: IPVS has no transaction to roll back). When a service could not be added,
   * its destinations fail too (ESRCH) and are reported with it.
   */
  apply(ops: readonly IpvsOp[]): { errors: string[]; sends: number } {
    if (ops.length === 0) return { errors: [], sends: 0 };
    const ids = new Map<string, Buffer>();
    const msgs = ops.map((op) => this.message(op, ids));
    this.changeMessages += msgs.length;
    const r = this.nl.batch(msgs, { what: (i) => opWhat(ops[i]!) });
    // A service the kernel refused takes its destinations with it (each fails with ESRCH):
    // one error for the service, saying so.
    const failedSvc = new Map<string, { text: string; dests: number }>();
    const errors: (string | { key: string })[] = [];
    for (const e of r.errors) {
      const op = ops[e.index]!;
      if (op.cmd === 'add-dest' && e.error.code === 'ESRCH' && failedSvc.has(op.key)) {
        failedSvc.get(op.key)!.dests++;
        continue;
      }
      const h = hint(e.error);
      const text = `${e.error.message}${h && !e.error.message.includes(h) ? `: ${h}` : ''}`;
      if (op.cmd === 'add-service') {
        failedSvc.set(op.key, { text, dests: 0 });
        errors.push({ key: op.key });
      } else errors.push(text);
    }
    return {
      errors: errors.map((e) => {
        if (typeof e === 'string') return e;
        const f = failedSvc.get(e.key)!;
        return f.dests ? `${f.text} (so its ${f.dests} destination(s) were not added either)` : f.text;
      }),
      sends: r.sends,
    };
  }

  timeouts(): IpvsTimeouts {
    let t: IpvsTimeouts = { tcp: 0, tcpFin: 0, udp: 0 };
    this.readMessages++;
    this.wrap(() => this.nl.request('get IPVS timeouts', this.family, IPVS_CMD.GET_CONFIG, [], { reply: true, onMsg: (m) => (t = decodeTimeouts(m.payload)) }));
    return t;
  }

  /** Sets the non-zero timeouts (seconds); zero keeps the kernel's value. */
  setTimeouts(t: Partial<IpvsTimeouts>): void {
    const attrs = timeoutAttrs(t);
    if (attrs.length === 0) return;
    this.changeMessages++;
    this.wrap(() => this.nl.request('set IPVS timeouts', this.family, IPVS_CMD.SET_CONFIG, attrs));
  }

  daemons(): IpvsDaemon[] {
    const out: IpvsDaemon[] = [];
    this.readMessages++;
    this.wrap(() =>
      this.nl.request('dump IPVS sync daemons', this.family, IPVS_CMD.GET_DAEMON, [], {
        dump: true,
        onMsg: (m) => {
          const d = decodeDaemon(m.payload);
          if (d) out.push(d);
        },
        onRestart: () => void (out.length = 0),
      }),
    );
    return out;
  }

  startDaemon(d: IpvsDaemon): void {
    this.changeMessages++;
    this.wrap(() => this.nl.request(`start the IPVS ${d.state} sync daemon on ${d.ifname} (syncid ${d.syncId})`, this.family, IPVS_CMD.NEW_DAEMON, [daemonAttr(d)]));
  }

  stopDaemon(state: IpvsDaemon['state']): void {
    this.changeMessages++;
    this.wrap(() => this.nl.request(`stop the IPVS ${state} sync daemon`, this.family, IPVS_CMD.DEL_DAEMON, [daemonAttr({ state, ifname: '', syncId: 0 }, true)]));
  }

  /** Removes every service (IPVS_CMD_FLUSH). */
  flush(): void {
    this.changeMessages++;
    this.wrap(() => this.nl.request('flush IPVS', this.family, IPVS_CMD.FLUSH, []));
  }

  /** Zeroes the counters of every service (IPVS_CMD_ZERO). */
  zero(): void {
    this.changeMessages++;
    this.wrap(() => this.nl.request('zero IPVS counters', this.family, IPVS_CMD.ZERO, []));
  }

  close(): void {
    this.nl.close();
  }
}
