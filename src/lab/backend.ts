// A lab real server: listens on the given TCP ports (and UDP with --udp) on every
// address and answers each connection with its name and the client's address, then
// closes (server first, so clients can reuse their ports at once). `--hold` keeps a
// connection open until the client closes it; `--bulk BYTES` sends that many bytes.
// Run: node backend.js --name be1 --port 80 --port 8080 [--udp 53]
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const args = process.argv.slice(2);
let name = 'backend';
const ports: number[] = [];
const udp: number[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = args[i + 1];
  if (a === '--name' && v) name = v;
  else if (a === '--port' && v) ports.push(Number(v));
  else if (a === '--udp' && v) udp.push(Number(v));
  else continue;
  i++;
}

for (const port of ports) {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    let buf = '';
    s.setEncoding('utf8');
    const answer = (): void => {
      const m = /^(HOLD|BULK (\d+))?/.exec(buf);
      const hello = `${name} ${s.remoteAddress}:${s.remotePort}\n`;
      if (m?.[1] === 'HOLD') {
        s.write(hello);
        return; // stays open until the client ends it
      }
      if (m?.[2]) {
        s.write(hello);
        const total = Number(m[2]);
        const chunk = Buffer.alloc(65536, 120);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const n = Math.min(chunk.length, total - sent);
            sent += n;
            if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
        return;
      }
      s.end(hello);
    };
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) answer();
    });
    s.on('end', () => {
      if (!buf.includes('\n')) answer();
      s.end();
    });
  });
  srv.listen(port, '::');
}
for (const port of udp) {
  const sock = createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (msg, r) => sock.send(`${name} ${r.address}:${r.port}\n`, r.port, r.address));
  sock.bind(port);
}
process.on('SIGTERM', () => process.exit(0));
process.stdout.write(`ready ${name}\n`);
