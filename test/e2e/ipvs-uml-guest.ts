// The inside of test/e2e/ipvs-uml.test.ts: runs in a user-mode-linux guest whose kernel
// has IPVS (src/lab/uml.ts boots it), builds a lab in network namespaces, programs IPVS
// through haldir's driver and CLI, sends real traffic and prints what it saw as one
// JSON line (`RESULT {...}`); the host test asserts on it. Each step records its own
// outcome, so one failure does not hide the others.
//
// Topology (all inside the guest):
//   switch (bridge) ── root namespace = director A   10.10.0.1   (VIPs on dummy "vips")
//                   ├─ dirB (director B, mh test)     10.10.0.2
//                   ├─ client                         10.10.0.100 (VIPs via A, or via B)
//                   └─ rs1 rs2 rs3                    10.10.0.11–13 (VIPs on lo and tunl0)
//   root ── nclient 10.20.0.2 (NAT: the real servers route back through A)
//
// Modes: (none) the scenario; `rs NAME VIP…` a real server; `tcp-client VIP PORT N [hold]`;
// `udp-client VIP PORT FIRST_PORT N`; `apply CONF` (director B); `syncd-backup IFNAME SYNCID`.
// Helpers import only node's own modules: a node start costs ~0.5 s in the guest, and
// every module file read over hostfs adds to it (the CLI's ~3 s), so the scenario loads
// haldir's modules once, in its own process, and calls the CLI's main() there.
import { execFileSync, spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ReconcileReport } from '../../src/dataplane/types.js';
import type { NodeModel } from '../../src/model/types.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HALDIR = `${ROOT}bin/haldir.js`;
const SEED = `${ROOT}examples/seed/lb1.conf`;

// ---- configurations (the host test renders the same texts' plans) ---------------------------

const rs3 = (port: number | undefined, extra = ''): string =>
  [11, 12, 13].map((n) => `  real_server 10.10.0.${n}${port === undefined ? '' : ` ${port}`} { weight 1${extra ? ` ${extra}` : ''} }`).join('\n');

/** The mh service both directors program alike. */
export const MH_SERVICE = `virtual_server 10.0.0.40 5353 {
  lb_algo mh
  mh-port
  lb_kind DR
  protocol UDP
${rs3(5353)}
}
`;

/** Services with real traffic (DR, NAT with port mapping, TUN ipip, mh) and every other IPVS feature (read back only). */
export function featuresConfig(o: { mixed?: boolean; twos?: boolean; weight11?: number } = {}): string {
  return `global_defs {
  router_id UMLA
  lvs_timeouts tcp 7200 tcpfin 120 udp 300
}
virtual_server_group web_vips {
  10.0.1.1-3 80
  fwmark 9
}
virtual_server 10.0.0.10 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.10.0.11 80 { weight ${o.weight11 ?? 1} }
  real_server 10.10.0.12 80 { weight 1 }
  real_server 10.10.0.13 80 { weight 1 }
}
virtual_server 10.0.0.20 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
${rs3(8080)}
}
virtual_server 10.0.0.30 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
${rs3(80)}
}
${MH_SERVICE}
virtual_server 10.0.0.50 443 {
  lb_algo wlc
  lb_kind NAT
  protocol TCP
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  real_server 10.10.0.11 443 { weight 3 uthreshold 100 lthreshold 10 }
  real_server 10.10.0.12 443 { weight 0 }
}
virtual_server 10.0.0.60 80 {
  lb_algo sh
  sh-port
  sh-fallback
  lb_kind DR
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.70 53 {
  lb_algo rr
  ops
  lb_kind NAT
  protocol UDP
${rs3(53)}
}
virtual_server 10.0.0.80 3868 {
  lb_algo lc
  lb_kind NAT
  protocol SCTP
${rs3(3868)}
}
virtual_server 10.0.0.97 5060 {
  lb_algo rr
  lb_kind NAT
  protocol UDP
  persistence_timeout 30
  persistence_engine sip
${rs3(5060)}
}
virtual_server fwmark 7 {
  lb_algo wrr
  lb_kind DR
  real_server 10.10.0.11 { weight 2 }
  real_server 10.10.0.12 { weight 1 }
}
virtual_server fd00::10 80 {
  lb_algo sed
  lb_kind NAT
  protocol TCP
  real_server fd00::11 8080 { weight 1 }
  real_server fd00::12 8080 { weight 2 }
}
virtual_server fd00::10 443 {
  lb_algo nq
  lb_kind DR
  protocol TCP
  persistence_timeout 60
  persistence_granularity 64
  real_server fd00::11 443 { weight 1 }
}
virtual_server group web_vips {
  lb_algo lblc
  lb_kind DR
  protocol TCP
  real_server 10.10.0.11 80 { weight 1 }
  real_server 10.10.0.12 80 { weight 1 }
}
virtual_server 10.0.0.90 80 {
  lb_algo lblcr
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.91 80 {
  lb_algo dh
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.92 80 {
  lb_algo fo
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.93 80 {
  lb_algo ovf
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.94 80 {
  lb_algo wrr
  flag-1
  flag-2
  flag-3
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
virtual_server 10.0.0.95 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server 10.10.0.11 80 { lvs_method TUN type gue port 6080 csum }
  real_server 10.10.0.12 80 { lvs_method TUN type gre remcsum }
  real_server 10.10.0.13 80 { lvs_method TUN type ipip }
}
${
  o.mixed
    ? `virtual_server 10.0.0.96 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server fd00::11 80 { weight 1 }
}
`
    : ''
}${
  o.twos
    ? `virtual_server 10.0.0.98 80 {
  lb_algo twos
  lb_kind NAT
  protocol TCP
${rs3(80)}
}
`
    : ''
}`;
}

export async function modelOf(text: string, file: string): Promise<NodeModel> {
  const { loadKeepalivedText } = await import('../../src/config/keepalived/load.js');
  const r = loadKeepalivedText(text, file);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
  return r.model;
}

// ---- helper modes ------------------------------------------------------------------------------

/** A real server: TCP 80 and 8080 answer `NAME:PORT CLIENT:PORT`; UDP 5353 on each VIP answers NAME. */
function realServer(name: string, vips: string[]): void {
  for (const port of [80, 8080]) {
    createServer((s) => {
      s.on('error', () => s.destroy());
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        if (!buf.includes('\n')) return;
        if (buf.startsWith('HOLD')) s.write(`${name}:${s.localPort} ${s.remoteAddress}:${s.remotePort}\n`);
        else s.end(`${name}:${s.localPort} ${s.remoteAddress}:${s.remotePort}\n`);
      });
    }).listen(port, '0.0.0.0');
  }
  // Bound to the VIP: DR replies must come from it (an unbound socket answers from eth0's address).
  for (const vip of vips) {
    const u = createSocket('udp4');
    u.on('message', (_m, r) => u.send(name, r.port, r.address));
    u.bind(5353, vip);
  }
  process.on('SIGTERM', () => process.exit(0));
  setTimeout(() => process.stdout.write('ready\n'), 200);
}

async function tcpClient(vip: string, port: number, n: number, hold: boolean): Promise<void> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await new Promise<string>((res) => {
        let buf = '';
        const s = connect({ host: vip, port, timeout: 3000 });
        s.on('connect', () => s.write(hold ? 'HOLD\n' : 'hi\n'));
        s.on('data', (d) => {
          buf += d.toString();
          if (hold && buf.includes('\n')) res(buf.trim());
        });
        s.on('end', () => res(buf.trim()));
        s.on('timeout', () => {
          s.destroy();
          res(`timeout${buf ? ` after ${buf.trim()}` : ''}`);
        });
        s.on('error', (e) => res(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      }),
    );
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  // Held connections stay open until this process is killed.
  if (!hold) process.exit(0);
}

async function udpClient(vip: string, port: number, first: number, n: number): Promise<void> {
  const out: Record<string, string> = {};
  await Promise.all(
    Array.from({ length: n }, (_, i) => first + i).map(
      (sport) =>
        new Promise<void>((res) => {
          const s = createSocket('udp4');
          let tries = 0;
          const send = (): void => {
            if (tries++ >= 3) {
              out[sport] = 'timeout';
              s.close();
              res();
              return;
            }
            s.send('who', port, vip);
            t = setTimeout(send, 1000);
          };
          let t: NodeJS.Timeout | undefined;
          s.on('message', (m) => {
            clearTimeout(t);
            out[sport] = m.toString();
            s.close();
            res();
          });
          s.bind(sport, () => send());
        }),
    ),
  );
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---- the scenario -------------------------------------------------------------------------------

interface StepResult {
  ok: boolean;
  ms: number;
  data?: unknown;
  error?: string;
}

const results: Record<string, StepResult> = {};
async function step(name: string, fn: () => Promise<unknown> | unknown): Promise<void> {
  const t0 = performance.now();
  try {
    results[name] = { ok: true, data: await fn(), ms: Math.round(performance.now() - t0) };
  } catch (e) {
    results[name] = { ok: false, error: (e as Error).stack ?? String(e), ms: Math.round(performance.now() - t0) };
  }
}

const sh = (cmd: string, args: string[], input?: string): string => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const ipvsadm = (...args: string[]): string => {
  try {
    return sh('ipvsadm', args);
  } catch (e) {
    return `exit ${(e as { status?: number }).status}: ${(e as { stderr?: string }).stderr ?? ''}`;
  }
};
/** Runs commands in one shell: each fork of this (large) node process costs ~0.2 s in the guest. */
const batch = (cmds: string[][]): string => sh('sh', ['-e'], cmds.map((c) => c.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')).join('\n') + '\n');
const sysctls = (): Record<string, string> =>
  Object.fromEntries(['conntrack', 'expire_nodest_conn', 'expire_quiescent_template', 'sloppy_tcp', 'sloppy_sctp'].map((k) => [k, readFileSync(`/proc/sys/net/ipv4/vs/${k}`, 'utf8').trim()]));
const brief = (r: ReconcileReport): Record<string, unknown> => ({ changes: r.changes, applied: r.applied, note: r.note, errors: r.errors ?? [] });

async function scenario(): Promise<void> {
  const tag = `hu${process.pid}-`;
  const ns = (n: string): string => `${tag}${n}`;
  const inNs = (n: string, args: string[]): string => sh('ip', ['netns', 'exec', ns(n), ...args]);
  const nodeIn = <T>(n: string, args: string[]): T => JSON.parse(inNs(n, [process.execPath, SELF, ...args])) as T;
  const procs: ReturnType<typeof spawn>[] = [];
  const logs: string[] = [];
  const { main } = await import('../../src/cli/main.js');
  const { allUpTable } = await import('../../src/dataplane/desired.js');
  const { IpvsDataplane } = await import('../../src/dataplane/ipvs/index.js');
  /** The CLI in this process (its modules loaded once). */
  const haldir = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };
  let dp: InstanceType<typeof IpvsDataplane> | undefined;
  try {
    // 1. The seed's DR cluster: `haldir apply` (the real binary, a process of its own) on an
    // empty table, then again (nothing to change: the kernel reads back as written).
    await step('seed', async () => {
      const apply = sh(process.execPath, [HALDIR, 'apply', '--dataplane', 'ipvs', SEED]);
      const again = await haldir('apply', '--dataplane', 'ipvs', SEED);
      return {
        apply,
        again,
        ipvsadm: ipvsadm('-Ln'),
        show: await haldir('dataplane', 'show', '--dataplane', 'ipvs'),
        ipvsadmStats: ipvsadm('-Ln', '--stats'),
        showStats: await haldir('dataplane', 'show', '--dataplane', 'ipvs', '--stats'),
      };
    });

    await step('setup', async () => {
      // One shell, one `ip -batch` per namespace: a process costs ~0.1 s in the guest.
      const hosts: [string, string][] = [
        ['client', '10.10.0.100/24'],
        ['rs1', '10.10.0.11/24'],
        ['rs2', '10.10.0.12/24'],
        ['rs3', '10.10.0.13/24'],
        ['dirB', '10.10.0.2/24'],
      ];
      const script: string[] = [
        'modprobe ipip',
        'sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0',
      ];
      const ipb = (n: string | undefined, lines: string[]): void => void script.push(`ip ${n ? `-n ${ns(n)} ` : ''}-b - <<'EOF'\n${lines.join('\n')}\nEOF`);
      // Director A is the guest's root namespace, on the switch too, with the VIPs on a dummy;
      // the NAT client sits behind it on a link of its own (the real servers route back through A).
      ipb(undefined, [
        ...['sw', 'nclient', ...hosts.map(([h]) => h)].map((h) => `netns add ${ns(h)}`),
        `link add dA type veth peer name p-dA netns ${ns('sw')}`,
        'addr add 10.10.0.1/24 dev dA',
        'link set dA up',
        'link add vips type dummy',
        ...['10', '20', '30', '40', '50', '60'].map((v) => `addr add 10.0.0.${v}/32 dev vips`),
        'link set vips up',
        `link add dN type veth peer name eth0 netns ${ns('nclient')}`,
        'addr add 10.20.0.1/24 dev dN',
        'link set dN up',
      ]);
      ipb('sw', ['link add br0 type bridge', 'link set br0 up', 'link set p-dA master br0 up', ...hosts.flatMap(([h]) => [`link add p-${h} type veth peer name eth0 netns ${ns(h)}`, `link set p-${h} master br0 up`])]);
      ipb('nclient', ['link set lo up', 'addr add 10.20.0.2/24 dev eth0', 'link set eth0 up', 'route add default via 10.20.0.1']);
      for (const [h, addr] of hosts) {
        const lines = ['link set lo up', `addr add ${addr} dev eth0`, 'link set eth0 up'];
        if (h === 'client') lines.push('route add 10.0.0.0/24 via 10.10.0.1');
        if (h === 'dirB') lines.push('link add vips type dummy', 'addr add 10.0.0.40/32 dev vips', 'link set vips up');
        if (h.startsWith('rs')) {
          // DR and mh VIPs on lo (never answered by ARP), the TUN VIP on the ipip device.
          lines.push(...['10', '40', '60'].map((v) => `addr add 10.0.0.${v}/32 dev lo`), 'addr add 10.0.0.30/32 dev tunl0', 'link set tunl0 up', 'route add default via 10.10.0.1');
          script.push(`ip netns exec ${ns(h)} sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0`);
        }
        ipb(h, lines);
      }
      const t0 = performance.now();
      sh('sh', ['-e'], script.join('\n') + '\n');
      const scriptMs = Math.round(performance.now() - t0);
      await Promise.all(
        ['rs1', 'rs2', 'rs3'].map((r) => {
          const p = spawn('ip', ['netns', 'exec', ns(r), process.execPath, SELF, 'rs', r, '10.0.0.40'], { stdio: ['ignore', 'pipe', 'inherit'] });
          procs.push(p);
          return new Promise<void>((res, rej) => {
            p.stdout!.once('data', () => res());
            p.once('exit', (c) => rej(new Error(`${r} exited (${c})`)));
          });
        }),
      );
      return { scriptMs };
    });

    // 2. Every feature through the in-process driver. The seed's services, recorded as
    // haldir's by the runs above, are removed; a service haldir never wrote stays.
    let features = await modelOf(featuresConfig({ mixed: true }), 'features.conf');
    let desired = allUpTable(features);
    await step('features', async () => {
      ipvsadm('-A', '-t', '10.9.9.9:80', '-s', 'rr');
      dp = new IpvsDataplane({ log: (m, f) => logs.push(`${m} ${JSON.stringify(f)}`), groups: features.virtualServerGroups, lvs: features.global.lvs });
      const first = await dp.reconcile(desired, { full: true });
      const c0 = dp.counters();
      const again = await dp.reconcile(desired, { full: true });
      const c1 = dp.counters();
      return {
        first: brief(first),
        again: brief(again),
        messages: { first: c0.changeMessages, again: c1.changeMessages - c0.changeMessages },
        ipvsadm: ipvsadm('-Ln'),
        show: await dp.show(),
        tunInfo: ipvsadm('-Ln', '--tun-info'),
        thresholds: ipvsadm('-Ln', '--thresholds'),
        timeouts: ipvsadm('-L', '--timeout'),
        sysctls: sysctls(),
      };
    });

    // 3. Real traffic, from the client namespaces.
    await step('dr', () => nodeIn<string[]>('client', ['tcp-client', '10.0.0.10', '80', '6']));
    await step('nat', () => nodeIn<string[]>('nclient', ['tcp-client', '10.0.0.20', '80', '6']));
    await step('tun', () => nodeIn<string[]>('client', ['tcp-client', '10.0.0.30', '80', '6']));

    // 4. With counters and connections in the table, byte for byte. The kernel folds its
    // per-CPU counters into the totals every 2 s and connections change state: compare at
    // a moment when ipvsadm reads the same before and after haldir.
    const stable = async (args: string[]): Promise<{ ipvsadm: string; show: { code: number; out: string; err: string }; tries: number }> => {
      for (let tries = 1; ; tries++) {
        const before = ipvsadm(...args);
        const show = await haldir('dataplane', 'show', '--dataplane', 'ipvs', ...args.filter((a) => a === '--stats'));
        if (ipvsadm(...args) === before || tries === 5) return { ipvsadm: before, show, tries };
      }
    };
    await step('show', async () => {
      // Wait for the NAT service's six connections to reach its counters and its destinations'.
      const counted = (t: string): boolean => /TCP {2}10\.0\.0\.20:80 +6 /.test(t) && (t.match(/-> 10\.10\.0\.1[123]:8080 +2 /g) ?? []).length === 3;
      for (let i = 0; i < 30 && !counted(ipvsadm('-Ln', '--stats', '-t', '10.0.0.20:80')); i++) await new Promise((r) => setTimeout(r, 200));
      const plain = await stable(['-Ln']);
      const stats = await stable(['-Ln', '--stats']);
      return {
        ipvsadm: plain.ipvsadm,
        show: plain.show,
        ipvsadmStats: stats.ipvsadm,
        showStats: stats.show,
        tries: [plain.tries, stats.tries],
        json: await haldir('dataplane', 'show', '--dataplane', 'ipvs', '--json'),
      };
    });

    // 5. Two directors, mh: the same flows to the same real servers.
    await step('mh', () => {
      writeFileSync('/tmp/haldir-mh.conf', `global_defs {\n  router_id UMLB\n}\n${MH_SERVICE}`);
      const applyB = inNs('dirB', [process.execPath, SELF, 'apply', '/tmp/haldir-mh.conf']);
      const viaA = nodeIn<Record<string, string>>('client', ['udp-client', '10.0.0.40', '5353', '40000', '24']);
      batch([['ip', '-n', ns('client'), 'route', 'add', '10.0.0.40/32', 'via', '10.10.0.2']]);
      const viaB = nodeIn<Record<string, string>>('client', ['udp-client', '10.0.0.40', '5353', '40000', '24']);
      batch([['ip', '-n', ns('client'), 'route', 'del', '10.0.0.40/32', 'via', '10.10.0.2']]);
      return { applyB, viaA, viaB, listB: inNs('dirB', ['ipvsadm', '-Ln']) };
    });

    // 6. No-op, one change, and drift behind haldir's back.
    await step('drift', async () => {
      const d = dp!;
      const m0 = d.counters().changeMessages;
      const noopCached = await d.reconcile(desired);
      const noopFull = await d.reconcile(desired, { full: true });
      const m1 = d.counters().changeMessages;
      // One real server's weight (the model object edited in place, as a MISC_CHECK weight would).
      const rs = features.virtualServers.find((v) => v.address.kind === 'ip' && v.address.address === '10.0.0.10')!.realServers[0]!;
      rs.weight = 5;
      desired = allUpTable(features);
      const one = await d.reconcile(desired);
      const m2 = d.counters().changeMessages;
      const weightAfter = ipvsadm('-Ln', '-t', '10.0.0.10:80');
      // Behind haldir's back: a service deleted, a weight edited, a destination added.
      batch([
        ['ipvsadm', '-D', '-t', '10.0.0.20:80'],
        ['ipvsadm', '-e', '-t', '10.0.0.30:80', '-r', '10.10.0.12:80', '-i', '-w', '9'],
        ['ipvsadm', '-a', '-t', '10.0.0.60:80', '-r', '10.10.0.99:80', '-g', '-w', '1'],
      ]);
      logs.length = 0;
      const cached = await d.reconcile(desired);
      const repair = await d.reconcile(desired, { full: true });
      const after = await d.reconcile(desired, { full: true });
      return {
        noop: { cached: brief(noopCached), full: brief(noopFull), messages: m1 - m0 },
        one: { ...brief(one), messages: m2 - m1, weightAfter },
        cached: brief(cached),
        repair: brief(repair),
        logs: [...logs],
        after: brief(after),
        natAgain: nodeIn<string[]>('nclient', ['tcp-client', '10.0.0.20', '80', '3']),
        foreign: ipvsadm('-Ln', '-t', '10.9.9.9:80'),
      };
    });

    // 7. A scheduler this kernel may lack (twos came with Linux 6.2): refused by name, the rest applied.
    await step('twos', async () => {
      const m = await modelOf(featuresConfig({ mixed: true, twos: true, weight11: 5 }), 'features.conf');
      const r = await dp!.reconcile(allUpTable(m));
      const kver = sh('uname', ['-r']).trim();
      return { report: brief(r), listed: ipvsadm('-Ln', '-t', '10.0.0.98:80'), kernelHasTwos: existsSync(`/usr/lib/modules/${kver}/kernel/net/netfilter/ipvs/ip_vs_twos.ko`) };
    });

    // 8. Connection sync: A master, B backup; connections made through A appear on B.
    // (Mixed-family services and the sync daemon exclude each other: that service goes first.)
    await step('syncd', async () => {
      features = await modelOf(featuresConfig({ weight11: 5 }), 'features.conf');
      desired = allUpTable(features);
      const removeMixed = await dp!.reconcile(desired, { full: true });
      inNs('dirB', [process.execPath, SELF, 'syncd-backup', 'eth0', '51']);
      dp!.startSyncDaemon({ state: 'master', ifname: 'dA', syncId: 51 });
      const daemons = dp!.syncDaemons();
      const list = ipvsadm('-L', '--daemon');
      const listB = inNs('dirB', ['ipvsadm', '-L', '--daemon']);
      const traffic = nodeIn<string[]>('client', ['tcp-client', '10.0.0.10', '80', '4']);
      // The master sends a connection once it has seen 3 packets (sync_threshold), batched per second.
      let connsB = '';
      for (let i = 0; i < 4 && !/ 0A00000A 0050 /.test(connsB); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        connsB = inNs('dirB', ['cat', '/proc/net/ip_vs_conn']);
      }
      dp!.stopSyncDaemon('master');
      return { removeMixed: brief(removeMixed), daemons, list, listB, traffic, connsB, after: ipvsadm('-L', '--daemon') };
    });

    // 9. Active connections for draining: one held NAT connection counts for its real server.
    await step('active', async () => {
      const p = spawn('ip', ['netns', 'exec', ns('nclient'), process.execPath, SELF, 'tcp-client', '10.0.0.20', '80', '1', 'hold'], { stdio: ['ignore', 'pipe', 'ignore'] });
      procs.push(p);
      const line = await new Promise<string>((res) => p.stdout!.once('data', (b: Buffer) => res(b.toString().trim())));
      const active = await dp!.activeConnections();
      return { line, active: Object.fromEntries([...active].map(([k, m]) => [k, Object.fromEntries(m)])) };
    });

    // 10. close({flush}): haldir's services go, the foreign one stays.
    await step('flush', async () => {
      await dp!.close({ flush: true });
      dp = undefined;
      return { ipvsadm: ipvsadm('-Ln') };
    });

    // 11. `haldir apply --drain`: a removed real server goes to weight 0 keeping its tunnel, then away.
    await step('drain', async () => {
      const conf = (servers: string): string => `virtual_server 10.0.0.99 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${servers}}\n`;
      const both = '  real_server 10.10.0.11 80 { weight 1 }\n  real_server 10.10.0.12 80 { lvs_method TUN type gue port 6080 }\n';
      writeFileSync('/tmp/haldir-drain-a.conf', conf(both));
      writeFileSync('/tmp/haldir-drain-b.conf', conf('  real_server 10.10.0.11 80 { weight 1 }\n'));
      const a = await haldir('apply', '--dataplane', 'ipvs', '/tmp/haldir-drain-a.conf');
      const b = await haldir('apply', '--dataplane', 'ipvs', '--drain', '3', '/tmp/haldir-drain-b.conf');
      return { a, b, after: ipvsadm('-Ln', '-t', '10.0.0.99:80') };
    });
  } finally {
    for (const p of procs) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGTERM');
    await dp?.close();
    for (const n of ['sw', 'client', 'rs1', 'rs2', 'rs3', 'dirB', 'nclient'])
      try {
        sh('ip', ['netns', 'del', ns(n)]);
      } catch {
        /* not made */
      }
  }
}

/** Director B: `haldir apply` of a file, without the CLI's module load (the same driver and loader). */
async function applyFile(file: string): Promise<void> {
  const { allUpTable } = await import('../../src/dataplane/desired.js');
  const { IpvsDataplane } = await import('../../src/dataplane/ipvs/index.js');
  const m = await modelOf(readFileSync(file, 'utf8'), file);
  const d = new IpvsDataplane({ groups: m.virtualServerGroups, lvs: m.global.lvs });
  const r = await d.reconcile(allUpTable(m), { full: true });
  await d.close();
  process.stdout.write(`${JSON.stringify(brief(r))}\n`);
}

// ---- entry --------------------------------------------------------------------------------------

if (process.argv[1] === SELF) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'rs') realServer(args[0]!, args.slice(1));
  else if (mode === 'tcp-client') await tcpClient(args[0]!, Number(args[1]), Number(args[2]), args[3] === 'hold');
  else if (mode === 'udp-client') await udpClient(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]));
  else if (mode === 'apply') await applyFile(args[0]!);
  else if (mode === 'syncd-backup') {
    const { IpvsDataplane } = await import('../../src/dataplane/ipvs/index.js');
    const d = new IpvsDataplane({ stateFile: false });
    d.startSyncDaemon({ state: 'backup', ifname: args[0]!, syncId: Number(args[1]) });
    await d.close();
  } else {
    const t0 = performance.now();
    await scenario();
    process.stdout.write(`RESULT ${JSON.stringify({ ms: Math.round(performance.now() - t0), steps: results })}\n`);
  }
}
