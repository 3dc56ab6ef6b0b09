// Runs inside a test namespace (`ip netns exec NS node helper.js SCENARIO JSON`)
// and exercises haldir's native layer there, printing one JSON object per line:
// {"ready":true} when it is listening, then results/events, {"error":…} on failure.
import { addon } from '../../src/native/addon.js';
import {
  AF_PACKET,
  ETH_P_ALL,
  SOCK_RAW,
} from '../../src/native/constants.js';
import { sockaddrIn, sockaddrIn6, sockaddrLl } from '../../src/native/sockaddr.js';
import { PacketSocket } from '../../src/native/socket.js';
import { openVrrpRx4, openVrrpRx6, openVrrpTx4, openVrrpTx6 } from '../../src/vrrp/sockets.js';
import { sendGratuitousArp, sendUnsolicitedNa } from '../../src/net/announce.js';
import { type AddressSpec, Rtnetlink } from '../../src/netlink/rtnetlink.js';

const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const [scenario = '', argText = '{}'] = process.argv.slice(2);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const arg = JSON.parse(argText) as any;

const errJson = (e: unknown): unknown => {
  const err = e as Error & { code?: string };
  return { code: err.code, message: err.message, name: err.name };
};

/** A VRRPv2-looking payload (RFC 3768 §5.1): enough for the socket path, not parsed here. */
const VRRP_PAYLOAD = Buffer.from('21630164010100020a6300640000000000000000', 'hex');

async function main(): Promise<void> {
  const A = addon();
  switch (scenario) {
    case 'addr': {
      // arg: {ifname, ops: [{op:'add'|'del', spec}]} → one line per op (with its latency)
      const rtnl = Rtnetlink.open();
      const ifindex = A.ifNameToIndex(arg.ifname);
      for (const o of arg.ops as { op: 'add' | 'del'; spec: Omit<AddressSpec, 'ifindex'> }[]) {
        const t0 = process.hrtime.bigint();
        try {
          if (o.op === 'add') rtnl.addAddress({ ...o.spec, ifindex });
          else rtnl.delAddress({ ...o.spec, ifindex });
          out({ op: o.op, ok: true, us: Number(process.hrtime.bigint() - t0) / 1000 });
        } catch (e) {
          out({ op: o.op, ok: false, error: errJson(e) });
        }
      }
      rtnl.close();
      break;
    }
    case 'bench-addr': {
      // arg: {ifname, n}: n adds then n deletes of 10.77.x.y/32, mean µs per op
      const rtnl = Rtnetlink.open();
      const ifindex = A.ifNameToIndex(arg.ifname);
      const ips = Array.from({ length: arg.n as number }, (_, i) => `10.77.${i >> 8}.${i & 255}`);
      // One untimed round first, so the numbers are the kernel's and warm JIT code's.
      for (const ip of ips) rtnl.addAddress({ ifindex, address: ip, prefix: 32 });
      for (const ip of ips) rtnl.delAddress({ ifindex, address: ip, prefix: 32 });
      let t0 = process.hrtime.bigint();
      for (const ip of ips) rtnl.addAddress({ ifindex, address: ip, prefix: 32 });
      const addUs = Number(process.hrtime.bigint() - t0) / 1000 / ips.length;
      t0 = process.hrtime.bigint();
      for (const ip of ips) rtnl.delAddress({ ifindex, address: ip, prefix: 32 });
      const delUs = Number(process.hrtime.bigint() - t0) / 1000 / ips.length;
      out({ addUs, delUs });
      rtnl.close();
      break;
    }
    case 'dump': {
      const rtnl = Rtnetlink.open();
      out({ links: rtnl.dumpLinks(), addresses: rtnl.dumpAddresses() });
      rtnl.close();
      break;
    }
    case 'watch': {
      // arg: {rcvbuf?, burst?: {ifname, count}}: prints events; with a burst, exits after the resync
      const rtnl = Rtnetlink.open();
      const w = rtnl.watch(
        (ev) => {
          if (ev.type === 'resync') {
            out({ type: 'resync', reason: ev.reason, links: ev.links.length, addresses: ev.addresses });
            if (arg.burst) {
              w.close();
              rtnl.close();
            }
          } else if (ev.type === 'error') out({ type: 'error', error: errJson(ev.error) });
          else out(ev);
        },
        { rcvbuf: arg.rcvbuf, initial: arg.initial },
      );
      out({ ready: true });
      if (arg.burst) {
        // Synchronous adds: the monitor socket is not read meanwhile, so it overflows.
        const burst = rtnl; // requests on the client's own socket, events on the watch's
        const ifindex = A.ifNameToIndex(arg.burst.ifname);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < arg.burst.count; i++) {
          const v6 = i % 2 === 1;
          burst.addAddress(
            v6
              ? { ifindex, address: `fd00:77::${(i + 1).toString(16)}`, prefix: 128, noDad: true }
              : { ifindex, address: `10.66.${i >> 8}.${i & 255}`, prefix: 32 },
          );
        }
        out({ burstDone: arg.burst.count, us: Number(process.hrtime.bigint() - t0) / 1000 });
      }
      break;
    }
    case 'garp':
      out({ sent: await sendGratuitousArp(arg.ifname, arg.ip, arg.count ?? 1, arg.intervalMs ?? 0) });
      break;
    case 'una':
      out({ sent: await sendUnsolicitedNa(arg.ifname, arg.ip, arg.count ?? 1, arg.intervalMs ?? 0) });
      break;
    case 'capture': {
      // AF_PACKET on one interface, one EtherType (default all): prints each frame (hex) until killed
      const ifindex = A.ifNameToIndex(arg.ifname);
      const protocol = (arg.protocol as number | undefined) ?? ETH_P_ALL;
      const sock = PacketSocket.open(AF_PACKET, SOCK_RAW, 0);
      sock.bind(sockaddrLl({ ifindex, protocol }));
      sock.start(
        (p) => out({ type: 'packet', ifindex: p.ifindex, from: p.from, hex: p.data.toString('hex') }),
        (e) => out({ type: 'error', error: errJson(e) }),
      );
      out({ ready: true });
      break;
    }
    case 'recv4': {
      const ifindex = A.ifNameToIndex(arg.ifname);
      const sock = openVrrpRx4(arg.ifname, ifindex, '224.0.0.18');
      sock.start(
        (p) => {
          out({ type: 'packet', from: p.from, ifindex: p.ifindex, ttl: p.ttl, dst: p.dst, hex: p.data.toString('hex') });
          sock.close();
        },
        (e) => out({ type: 'error', error: errJson(e) }),
      );
      out({ ready: true, ifindex });
      break;
    }
    case 'send4': {
      const ifindex = A.ifNameToIndex(arg.ifname);
      const sock = openVrrpTx4(arg.ifname, ifindex, '0.0.0.0');
      out({ sent: sock.send(VRRP_PAYLOAD, sockaddrIn('224.0.0.18')) });
      sock.close();
      break;
    }
    case 'recv6': {
      const ifindex = A.ifNameToIndex(arg.ifname);
      const sock = openVrrpRx6(arg.ifname, ifindex, 'ff02::12');
      sock.start(
        (p) => {
          out({ type: 'packet', from: p.from, ifindex: p.ifindex, hopLimit: p.hopLimit, dst: p.dst, hex: p.data.toString('hex') });
          sock.close();
        },
        (e) => out({ type: 'error', error: errJson(e) }),
      );
      out({ ready: true, ifindex });
      break;
    }
    case 'send6': {
      const ifindex = A.ifNameToIndex(arg.ifname);
      const sock = openVrrpTx6(arg.ifname, ifindex, '::');
      // VRRPv3 header (RFC 5798 §5.1) with the checksum field (offset 6) zero: the kernel fills it.
      // version 3 type 1, VRID 99, priority 100, 1 address, max advert 100 cs, checksum 0, fd00::100
      const v3 = Buffer.concat([Buffer.from('3163640100640000', 'hex'), Buffer.from('fd000000000000000000000000000100', 'hex')]);
      out({ sent: sock.send(v3, sockaddrIn6('ff02::12', ifindex)) });
      sock.close();
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

main().catch((e) => {
  out({ error: errJson(e) });
  process.exitCode = 1;
});
