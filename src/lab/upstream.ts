// A lab upstream (the seed's 192.168.3.31–33 tier behind each node's nginx): answers
// every HTTP request with 200 and its name. Run: node upstream.js --name up1 --port 8080
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const opt = (k: string, d: string): string => {
  const i = args.indexOf(k);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
};
const name = opt('--name', 'upstream');
const srv = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`${name}\n`);
});
srv.listen(Number(opt('--port', '8080')), '0.0.0.0', () => process.stdout.write(`ready ${name}\n`));
process.on('SIGTERM', () => process.exit(0));
