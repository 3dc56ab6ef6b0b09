// A valid seed-like node for model tests: lb1 of the operator's four-node DR
// cluster (VI_1 on eth0, VRID 51, VIP 192.168.2.100/24, services 80/443/8443/6443
// on 192.168.2.11–14). Every object carries a source location in seed.conf so
// tests can check that diagnostics name file:line:col.
import { newChecker, newNodeModel, newRealServer, newVip, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';
import { makeScript } from '../../src/model/script.js';
import type { ValidateOptions } from '../../src/model/validate.js';
import type {
  Checker,
  CheckerType,
  Loc,
  NodeModel,
  RealServer,
  SrcMap,
  TrackFile,
  VirtualServer,
  VrrpInstance,
  VrrpScript,
} from '../../src/model/types.js';

export const FILE = 'seed.conf';
export const VIP = '192.168.2.100';
export const PORTS = [80, 443, 8443, 6443] as const;
export const REAL_SERVERS = ['192.168.2.11', '192.168.2.12', '192.168.2.13', '192.168.2.14'] as const;

let nextLine = 1;

/** A fresh location: each object gets its own line. */
export function loc(col = 3): Loc {
  return { file: FILE, line: nextLine++, col };
}

/** `src` with '' and the given fields, each on its own line. */
export function src(...fields: string[]): SrcMap {
  const s: SrcMap = { '': loc(1) };
  for (const f of fields) s[f] = loc(5);
  return s;
}

/** The host lb1 runs on: eth0 in 192.168.2.0/24. */
export function seedOpts(): ValidateOptions {
  return {
    interfaces: new Map([
      ['lo', { addresses: ['127.0.0.1/8', '::1/128'] }],
      ['eth0', { addresses: ['192.168.2.11/24', 'fe80::11/64'] }],
    ]),
    localAddresses: ['192.168.2.11'],
  };
}

export function newScript(name: string, cmd = '/usr/bin/curl -fsS http://127.0.0.1/healthz'): VrrpScript {
  return {
    name,
    script: makeScript(cmd),
    interval: 2,
    timeout: 1,
    weight: -20,
    weightReverse: false,
    rise: 2,
    fall: 2,
    initFail: false,
    src: src('script', 'interval', 'timeout', 'weight', 'rise', 'fall'),
  };
}

export function newTrackFile(name: string): TrackFile {
  return { name, file: `/run/haldir/${name}`, weight: 1, weightReverse: false, src: src('file', 'weight') };
}

/** An instance with a location on every field the rules point at. */
export function addInstance(m: NodeModel, name: string, iface: string, vrid: number): VrrpInstance {
  const i = newVrrpInstance(name, iface, vrid, m.global);
  i.src = src('state', 'interface', 'vrid', 'priority', 'advertInt', 'auth', 'version', 'nopreempt', 'preemptDelay', 'unicastSrcIp');
  m.vrrpInstances.push(i);
  return i;
}

export function vip(spec: string, dev?: string) {
  const v = newVip(spec);
  if (dev) v.dev = dev;
  v.src = src();
  return v;
}

export function checker(type: CheckerType, delayLoop = 6): Checker {
  const c = newChecker(type, { delayLoop, connectTimeout: 2, retry: 1, delayBeforeRetry: 1 });
  c.src = src('connectPort', 'connectTimeout', 'retry', 'delayBeforeRetry', 'rise', 'fall');
  if (c.type === 'HTTP_GET' || c.type === 'SSL_GET')
    c.urls.push({ path: '/healthz', statusCodes: [{ from: 200, to: 200 }], regexNoMatch: false, src: src('digest') });
  return c;
}

export function realServer(address: string, port: number | undefined, ...checkers: Checker[]): RealServer {
  const rs = newRealServer(address, port);
  rs.checkers = checkers;
  rs.src = src('port', 'weight', 'upperThreshold', 'lowerThreshold');
  return rs;
}

/** A DR service on VIP:port with the four real servers, as in the seed conversation. */
export function service(port: number, address = VIP): VirtualServer {
  const vs = newVirtualServer({ kind: 'ip', address, family: 4, port });
  vs.forwarding = { kind: 'DR' };
  vs.delayLoop = 6;
  vs.src = src('scheduler', 'schedFlags', 'quorum', 'hysteresis', 'ops', 'persistenceGranularity', 'sorryServer');
  vs.realServers = REAL_SERVERS.map((a) => realServer(a, port, checker(port === 80 ? 'HTTP_GET' : 'TCP_CHECK')));
  return vs;
}

/** lb1 of the seed: MASTER, priority 100, tracking a local nginx check. */
export function seedNode(): NodeModel {
  const m = newNodeModel('lb1');
  m.global.routerId = 'LB1';
  m.vrrpScripts.push(newScript('chk_nginx'));
  const i = addInstance(m, 'VI_1', 'eth0', 51);
  i.state = 'MASTER';
  i.auth = { type: 'PASS', pass: 'k33pal1v' };
  i.vips.push(vip(`${VIP}/24`, 'eth0'));
  i.trackScripts.push({ name: 'chk_nginx', src: src('weight') });
  m.virtualServers = PORTS.map((p) => service(p));
  return m;
}

/** Accessors for the seed's objects (they exist by construction). */
export function vi1(m: NodeModel): VrrpInstance {
  return m.vrrpInstances[0]!;
}

export function vsOn(m: NodeModel, port: number): VirtualServer {
  return m.virtualServers.find((v) => v.address.kind === 'ip' && v.address.port === port)!;
}

export function firstRs(m: NodeModel, port: number): RealServer {
  return vsOn(m, port).realServers[0]!;
}

export function firstCk(m: NodeModel, port: number): Checker {
  return firstRs(m, port).checkers[0]!;
}
