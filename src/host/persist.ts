// What `haldir realserver setup --persist` writes so a real server comes back
// the same after a reboot, rendered from the setup record (pure): a sysctl.d
// file (systemd-sysctl applies it at boot, and udev re-applies the
// per-interface lines when an interface appears later), a oneshot systemd unit
// that puts the VIPs back (and loads ipip and brings tunl0 up for TUN), the
// multi-user.target.wants link that `systemctl enable` would make, and for TUN
// a modules-load.d entry. Paths live under a root directory so tests never
// touch the machine's /etc.
import { join } from 'node:path';
import { confKey } from './facts.js';
import type { RsState } from './realserver.js';

export const UNIT_NAME = 'haldir-realserver.service';

export interface PersistFile {
  /** Absolute path (root included). */
  path: string;
  content?: string;
  /** For the enablement link: where it points (as systemctl enable writes it). */
  symlink?: string;
}

export function persistPaths(root: string): { sysctl: string; unit: string; wants: string; modules: string } {
  return {
    sysctl: join(root, 'etc/sysctl.d/90-haldir-realserver.conf'),
    unit: join(root, 'etc/systemd/system', UNIT_NAME),
    wants: join(root, 'etc/systemd/system/multi-user.target.wants', UNIT_NAME),
    modules: join(root, 'etc/modules-load.d/haldir-ipip.conf'),
  };
}

/** The sysctl.d lines: every value setup wants, not only those it had to change. */
export function renderSysctlConf(s: RsState): string {
  const vips = s.vips.map((v) => v.address).join(', ');
  const lines = [
    `# Written by haldir realserver setup (${s.mode.toUpperCase()}, VIP ${vips}); haldir realserver teardown removes it.`,
    `# Scope ${s.scope}: ${s.scope === 'global' ? 'all, default and the VIP-facing interface' : 'only the VIP-facing interface and lo (other interfaces share this host)'}.`,
  ];
  for (const x of s.sysctls) lines.push(`${confKey(x.ifname, x.param)} = ${x.value}`);
  return lines.join('\n') + '\n';
}

/** A oneshot unit restoring the VIPs at boot; `ip address replace` so a second start is harmless. */
export function renderUnit(s: RsState): string {
  const tun = s.mode === 'tun';
  const vips = s.vips.map((v) => v.address).join(' ');
  const start: string[] = [];
  const stop: string[] = [];
  if (tun) {
    // '-': an ipip module built into the kernel has nothing to load.
    start.push('ExecStartPre=-modprobe ipip', `ExecStartPre=ip link set dev ${s.vipDevice} up`);
  }
  for (const v of s.vips) {
    start.push(`ExecStart=ip address replace ${v.address}/${v.prefix} dev ${v.device}${v.label ? ` label ${v.label}` : ''}${v.family === 6 ? ' nodad' : ''}`);
    stop.push(`ExecStop=-ip address del ${v.address}/${v.prefix} dev ${v.device}`);
  }
  return [
    '# Written by haldir realserver setup; haldir realserver teardown removes it.',
    '[Unit]',
    `Description=haldir real server: VIP ${vips} on ${s.vipDevice} (${s.mode.toUpperCase()})`,
    // After the sysctls so the VIP never exists without ARP suppression.
    'After=systemd-sysctl.service network-pre.target',
    'Wants=network-pre.target',
    'Before=network.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    ...start,
    ...stop,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Every file --persist writes for this record. */
export function persistFiles(s: RsState, root: string): PersistFile[] {
  const p = persistPaths(root);
  const out: PersistFile[] = [];
  if (s.sysctls.length > 0) out.push({ path: p.sysctl, content: renderSysctlConf(s) });
  out.push({ path: p.unit, content: renderUnit(s) });
  out.push({ path: p.wants, symlink: `/etc/systemd/system/${UNIT_NAME}` });
  if (s.mode === 'tun') out.push({ path: p.modules, content: '# Written by haldir realserver setup: TUN real servers decapsulate on tunl0.\nipip\n' });
  return out;
}
