// Runs inside a lab namespace: pings TARGET every INTERVAL_MS for DURATION_MS
// with a raw ICMP socket (ping(8) cannot go much below 15 ms here) and prints
// the wall-clock times (ms) of the echo replies as JSON.
import { AF_INET, SOCK_RAW } from '../src/native/constants.js';
import { sockaddrIn } from '../src/native/sockaddr.js';
import { PacketSocket } from '../src/native/socket.js';

const IPPROTO_ICMP = 1;
const [target = '10.99.0.100', intervalArg = '2', durationArg = '5000'] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const durationMs = Number(durationArg);

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const wall = () => performance.timeOrigin + performance.now();
const id = process.pid & 0xffff;
const sock = PacketSocket.open(AF_INET, SOCK_RAW, IPPROTO_ICMP);
const replies: number[] = [];
let sent = 0;
sock.start((p) => {
  const ihl = (p.data[0]! & 0x0f) * 4;
  const icmp = p.data.subarray(ihl);
  // Echo reply (type 0) to our identifier.
  if (icmp[0] === 0 && icmp.readUInt16BE(4) === id) replies.push(wall());
});
const to = sockaddrIn(target);
const t0 = wall();
const tick = () => {
  const msg = Buffer.alloc(16);
  msg[0] = 8;
  msg.writeUInt16BE(id, 4);
  msg.writeUInt16BE(sent++ & 0xffff, 6);
  msg.writeUInt16BE(checksum(msg), 2);
  sock.trySend(msg, to);
  if (wall() - t0 < durationMs) setTimeout(tick, intervalMs);
  else
    setTimeout(() => {
      sock.close();
      process.stdout.write(JSON.stringify({ sent, replies }) + '\n');
    }, 50);
};
tick();
