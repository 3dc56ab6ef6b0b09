// The imperative shell of host preparation: reads the facts (links and routes
// over rtnetlink, addresses through src/netlink/rtnetlink.ts, sysctls from
// /proc/sys) and carries out changes as steps that each know their undo, so a
// failing step rolls back everything before it. Also reads and writes files
// (the setup record, --persist output) in the same transactional way.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Rtnetlink } from '../netlink/rtnetlink.js';
import { CONF_PARAMS, confKey, confPath, type HostFacts, type HostLink } from './facts.js';
import { HostNetlink } from './netlink.js';
import { describeChange, type Change } from './realserver.js';

/** Sysctls read besides the per-interface ones (dotted names). */
export const EXTRA_SYSCTLS = ['net.ipv4.ip_forward', 'net.netfilter.nf_conntrack_max', 'net.netfilter.nf_conntrack_count'];

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Everything the planners need, read from this network namespace. */
export function gatherFacts(procSys = '/proc/sys'): HostFacts {
  const nl = HostNetlink.open();
  const rt = Rtnetlink.open();
  try {
    const raw = nl.links();
    const byIndex = new Map(raw.map((l) => [l.ifindex, l.name]));
    const links: HostLink[] = raw.map((l) => {
      const h: HostLink = { name: l.name, ifindex: l.ifindex, kind: l.kind, up: l.up, mtu: l.mtu, loopback: l.loopback, noarp: l.noarp };
      if (l.masterIndex !== undefined && byIndex.has(l.masterIndex)) h.master = byIndex.get(l.masterIndex)!;
      if (l.lowerIndex !== undefined && byIndex.has(l.lowerIndex)) h.lower = byIndex.get(l.lowerIndex)!;
      return h;
    });
    const addresses = rt.dumpAddresses().flatMap((a) => {
      const ifname = byIndex.get(a.ifindex);
      if (!ifname) return [];
      const x = { ifname, family: (a.family === 'inet' ? 4 : 6) as 4 | 6, address: a.address, prefix: a.prefix };
      return [a.label !== undefined && a.label !== ifname ? { ...x, label: a.label } : x];
    });
    const routes = nl.routes().map((r) => {
      const x: HostFacts['routes'][number] = { dst: r.dst, prefix: r.prefix };
      if (r.gateway) x.gateway = r.gateway;
      if (r.oifIndex !== undefined && byIndex.has(r.oifIndex)) x.oif = byIndex.get(r.oifIndex)!;
      return x;
    });
    const conf: HostFacts['conf'] = {};
    let dirs: string[] = [];
    try {
      dirs = readdirSync(join(procSys, 'net/ipv4/conf'));
    } catch {
      /* no IPv4 */
    }
    for (const d of dirs) {
      const c: Partial<Record<(typeof CONF_PARAMS)[number], number>> = {};
      for (const p of CONF_PARAMS) {
        const v = readNumber(join(procSys, confPath(d, p)));
        if (v !== undefined) c[p] = v;
      }
      conf[d] = c;
    }
    const sysctl: Record<string, number> = {};
    for (const k of EXTRA_SYSCTLS) {
      const v = readNumber(join(procSys, k.replace(/\./g, '/')));
      if (v !== undefined) sysctl[k] = v;
    }
    return { links, addresses, routes, conf, sysctl };
  } finally {
    nl.close();
    rt.close();
  }
}

// ---- steps with undo ----------------------------------------------------------------

export interface Step {
  /** What the step does, as printed ("set net.ipv4.conf.eth0.arp_ignore 0 -> 1"). */
  text: string;
  apply(): void;
  undo(): void;
}

export interface StepReport {
  ok: boolean;
  applied: string[];
  failed?: { text: string; error: string };
  /** Steps undone after a failure, newest first. */
  undone: string[];
  /** Undo steps that failed too (the host needs a hand). */
  undoFailed: { text: string; error: string }[];
}

/** Runs steps in order; on the first failure undoes the applied ones in reverse. `print` sees each line as it happens. */
export function runSteps(steps: Step[], print: (line: string) => void): StepReport {
  const applied: Step[] = [];
  for (const s of steps) {
    try {
      s.apply();
      applied.push(s);
      print(`  ${s.text}`);
    } catch (e) {
      const error = (e as Error).message;
      print(`  FAILED ${s.text}: ${error}`);
      const undone: string[] = [];
      const undoFailed: { text: string; error: string }[] = [];
      for (const a of applied.reverse()) {
        try {
          a.undo();
          undone.push(a.text);
          print(`  rolled back: ${a.text}`);
        } catch (u) {
          undoFailed.push({ text: a.text, error: (u as Error).message });
          print(`  ROLLBACK FAILED: ${a.text}: ${(u as Error).message}`);
        }
      }
      return { ok: false, applied: [], failed: { text: s.text, error }, undone, undoFailed };
    }
  }
  return { ok: true, applied: applied.map((s) => s.text), undone: [], undoFailed: [] };
}

// ---- kernel steps ---------------------------------------------------------------------

export function writeConf(ifname: string, param: string, value: number, procSys = '/proc/sys'): void {
  const p = join(procSys, confPath(ifname, param));
  try {
    writeFileSync(p, `${value}\n`);
  } catch (e) {
    throw new Error(`cannot write ${confKey(ifname, param)} (${p}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const back = readNumber(p);
  if (back !== value) throw new Error(`${confKey(ifname, param)} reads ${back} after writing ${value}`);
}

/** Steps for kernel changes; the netlink sockets stay open until `close`. */
export class KernelSteps {
  private readonly rt = Rtnetlink.open();
  private readonly nl = HostNetlink.open();

  constructor(private readonly facts: HostFacts, private readonly procSys = '/proc/sys') {}

  private ifindex(name: string): number {
    const l = this.facts.links.find((x) => x.name === name);
    if (!l) throw new Error(`no interface ${name}`);
    return l.ifindex;
  }

  step(c: Change): Step {
    const text = describeChange(c);
    switch (c.kind) {
      case 'sysctl':
        return { text, apply: () => writeConf(c.ifname, c.param, c.to, this.procSys), undo: () => writeConf(c.ifname, c.param, c.from, this.procSys) };
      case 'address-add':
      case 'address-del': {
        const spec = { ifindex: this.ifindex(c.vip.device), address: c.vip.address, prefix: c.vip.prefix };
        const add = () => this.rt.addAddress({ ...spec, ...(c.vip.label ? { label: c.vip.label } : {}), ...(c.vip.family === 6 ? { noDad: true } : {}) });
        const del = () => this.rt.delAddress(spec);
        return c.kind === 'address-add' ? { text, apply: add, undo: del } : { text, apply: del, undo: add };
      }
      case 'link': {
        const set = (up: boolean) => () => this.nl.setLinkUp(this.ifindex(c.ifname), c.ifname, up);
        return { text, apply: set(c.up), undo: set(!c.up) };
      }
    }
  }

  close(): void {
    this.rt.close();
    this.nl.close();
  }
}

// ---- file steps ---------------------------------------------------------------------------

/** A file's current content (or symlink target); null when absent. */
export function readCurrent(path: string): { content: string | null; symlink?: string } {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return { content: null, symlink: readlinkSync(path) };
    return { content: readFileSync(path, 'utf8') };
  } catch {
    return { content: null };
  }
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Write-then-rename so a crash never leaves half a file. */
function writeAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.haldir-tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

function restore(path: string, before: { content: string | null; symlink?: string }): void {
  removeIfThere(path);
  if (before.symlink !== undefined) symlinkSync(before.symlink, path);
  else if (before.content !== null) writeAtomic(path, before.content);
}

/** A step writing `content` (or a symlink) to `path`, undone by putting back what was there. */
export function fileWriteStep(path: string, want: { content?: string; symlink?: string }, text = `write ${path}`): Step & { before: { content: string | null; symlink?: string } } {
  const before = readCurrent(path);
  return {
    text,
    before,
    apply: () => {
      try {
        if (want.symlink !== undefined) {
          mkdirSync(dirname(path), { recursive: true });
          removeIfThere(path);
          symlinkSync(want.symlink, path);
        } else writeAtomic(path, want.content ?? '');
      } catch (e) {
        throw new Error(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    },
    undo: () => restore(path, before),
  };
}

/** A step putting a file back as it was before setup (`content` null: removing it). */
export function fileRestoreStep(path: string, content: string | null, symlink?: string): Step {
  const now = readCurrent(path);
  const target = symlink !== undefined ? { content: null, symlink } : { content };
  return {
    text: content === null && symlink === undefined ? `remove ${path}` : `restore ${path}`,
    apply: () => {
      try {
        restore(path, target);
      } catch (e) {
        throw new Error(`cannot restore ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    },
    undo: () => restore(path, now),
  };
}

export const fileExists = (p: string): boolean => existsSync(p);
