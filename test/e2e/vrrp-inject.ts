// Run inside a lab namespace (ip netns exec NS node vrrp-inject.js IFACE SRC):
// sends crafted VRRPv2 adverts for VRID 99 at priority 254 — each one wrong
// in exactly one way — to 224.0.0.18, and prints how many went out.
import { IP_MULTICAST_IF, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IPPROTO_IP, IPPROTO_VRRP, AF_INET, SOCK_RAW } from '../../src/native/constants.js';
import { ipMreqn, sockaddrIn } from '../../src/native/sockaddr.js';
import { PacketSocket } from '../../src/native/socket.js';
import { encode, passAuthData } from '../../src/vrrp/packet.js';

const [iface = 'eth0', src = '10.99.0.10', pass = 'secret'] = process.argv.slice(2);

const good = (over: { vrid?: number; pass?: string } = {}) =>
  encode({
    version: 2,
    type: 1,
    vrid: over.vrid ?? 99,
    priority: 254,
    authType: 1,
    advertIntSec: 1,
    addresses: ['10.99.0.100'],
    authData: passAuthData(over.pass ?? pass),
  });

function sock(ttl: number): PacketSocket {
  const s = PacketSocket.open(AF_INET, SOCK_RAW, IPPROTO_VRRP);
  s.bindToDevice(iface);
  s.bind(sockaddrIn(src));
  s.setOption(IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(src, 0));
  s.setOption(IPPROTO_IP, IP_MULTICAST_TTL, ttl);
  s.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
  return s;
}

const s255 = sock(255);
const s254 = sock(254);
const to = sockaddrIn('224.0.0.18');
const badSum = good();
badSum[7] = badSum[7]! ^ 0xff;
const sent = {
  wrongAuth: s255.send(good({ pass: 'WRONG' }), to),
  otherVrid: s255.send(good({ vrid: 77 }), to),
  ttl254: s254.send(good(), to),
  badChecksum: s255.send(badSum, to),
  truncated: s255.send(good().subarray(0, 6), to),
};
process.stdout.write(JSON.stringify(sent) + '\n');
s255.close();
s254.close();
