// The haldir command line: argument parsing (commander) and dispatch to the
// commands. Exit codes: 0 success, 1 invalid configuration or failed action,
// 2 usage error. Output goes through `io` so tests can capture it.
import { Command, CommanderError, Option } from 'commander';
import { demoCommand } from './demo.js';
import { liveDemo } from './demo-live.js';
import { localDemo } from './demo-local.js';
import { labDown, labFault, labStatus, labTraffic, labUp } from './lab.js';
import { canBuildLabs } from '../lab/netns.js';
import { applyCommand, dataplaneShowCommand, reloadCommand } from './dataplane.js';
import { runDaemon, RunUsageError } from '../daemon/run.js';
import { drainCommand, eventsCommand, failoverCommand, keepalivedDumpCommand, statusCommand, weightCommand } from './status.js';
import { checkCommand, exportCommand, genhashCommand, planCommand, rulesCommand, schemaCommand, validateCommand } from './commands.js';
import { doctorCommand, realserverCheck, realserverSetup, realserverTeardown } from './host.js';

export interface IO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: IO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

export class UsageError extends Error {}

function program(io: IO, setCode: (c: number) => void): Command {
  const p = new Command('haldir')
    .description('haldir — highly available L4 director: VRRP, health checks and kernel load balancing in one program')
    .version('0.1.0')
    .showHelpAfterError('(run haldir help COMMAND for its options)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  const nodeOpt = () => new Option('--node <name>', "the node whose view to use (cluster file: a node's name; keepalived: its router_id)");
  const idOpt = () => new Option('--config-id <id>', 'selects keepalived @id conditional lines (default: first label of the hostname)');
  const jsonOpt = () => new Option('--json', 'machine-readable output');
  const kaOpt = () =>
    new Option('--strict-keepalived', 'read keepalived.conf files exactly as keepalived 2.2 does (one keyword per line): what it reads differently is an error, and the model is what keepalived would run');

  p.command('validate')
    .description('check configuration files: syntax, values and semantics; exit 0 valid, 1 invalid')
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files (one per node)')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .addOption(jsonOpt())
    .option('--strict', 'treat warnings as errors')
    .addOption(kaOpt())
    .action((files: string[], o) => setCode(validateCommand(files, o, io)));

  p.command('plan')
    .description("print a node's desired state: VRRP instances and the virtual-service table as ipvsadm -Ln shows it")
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .addOption(jsonOpt())
    .addOption(kaOpt())
    .action((files: string[], o) => setCode(planCommand(files, o, io)));

  const exp = p.command('export').description('convert between keepalived.conf and the cluster file');
  exp
    .command('keepalived')
    .description("write a keepalived.conf for one node (one keyword per line, as keepalived reads it)")
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addOption(kaOpt())
    .action((files: string[], o) => setCode(exportCommand('keepalived', files, o, io)));
  exp
    .command('yaml')
    .description('write a cluster file from keepalived.conf files (one per node) or another cluster file')
    .argument('<file...>', 'keepalived.conf files, or a cluster YAML file')
    .addOption(idOpt())
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addOption(kaOpt())
    .action((files: string[], o) => setCode(exportCommand('yaml', files, o, io)));

  p.command('run')
    .description('run the director for one node until SIGTERM: VRRP, health checks and a data plane that follows them; SIGHUP reloads')
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .addOption(new Option('--dataplane <kind>', 'auto (IPVS where the kernel has it, else nftables as root, else userspace), ipvs, nftables or userspace').default('auto'))
    .option('--vrrp-only', 'run just the VRRP instances: addresses move, nothing is balanced')
    .addOption(new Option('--balance <where>', 'master: balance the services of the VRRP instances this node is MASTER of (default); all: on every node (active-active: traffic reaches every node, e.g. by ECMP; DR frames from a real server are never balanced again)').default('master'))
    .option('--keep-dataplane', "leave the data plane's objects in the kernel at exit (default: remove them)")
    .option('--pid-file <file>', 'write the PID here while running (haldir reload uses it)')
    .option('--api-socket <path>', "the API's unix socket, mode 0600 (default /run/haldir/haldir.sock; none: no socket)")
    .option('--api-listen <addr:port>', 'also serve the API on TCP (needs --api-token-file)')
    .option('--api-token-file <file>', 'bearer tokens for the TCP API, one per line: TOKEN or NAME TOKEN (the first also asks the peers)')
    .option('--dashboard', 'serve the live dashboard at /dashboard/')
    .option('--peer-api <name=host:port>', "another node's TCP API, for the cluster view (repeatable; default: a cluster file's nodes at --api-listen's port)", (v: string, prev: string[] = []) => [...prev, v])
    .action(async (files: string[], o) => {
      try {
        setCode(await runDaemon(files, o, io));
      } catch (e) {
        if (e instanceof RunUsageError) throw new UsageError(e.message);
        throw e;
      }
    });

  p.command('reload')
    .description('validate the configuration, then tell the running haldir to reload it (SIGHUP); nothing is sent when it is invalid')
    .argument('<file...>', 'the files haldir run was started with')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .requiredOption('--pid-file <file>', 'the PID file given to haldir run --pid-file')
    .action((files: string[], o) => setCode(reloadCommand(files, o, io)));

  p.command('apply')
    .description('program a data plane once with every real server up, printing the changes (the diff) it applied')
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .addOption(new Option('--dataplane <kind>', 'auto, nftables, ipvs or userspace').default('auto'))
    .option('--dry-run', 'print the changes without applying them')
    .option('--masquerade', 'full NAT: also masquerade NAT services (one-armed directors whose real servers do not route back through them)')
    .option('--drain <seconds>', 'remove real servers gracefully: weight 0 until their connections end or this many seconds pass')
    .addOption(jsonOpt())
    .action(async (files: string[], o) => setCode(await applyCommand(files, o, io)));

  p.command('dataplane')
    .description('inspect a data plane')
    .command('show')
    .description('the table as the kernel has it, laid out like ipvsadm -Ln [--stats]')
    .addOption(new Option('--dataplane <kind>', 'nftables or ipvs (kernel state; ipvs prints exactly what ipvsadm -Ln prints)').default('nftables'))
    .option('--stats', 'counters instead of weights')
    .addOption(jsonOpt())
    .action(async (o) => setCode(await dataplaneShowCommand(o, io)));

  p.command('check')
    .description("run every health check of a node once and print, per real server, up/down, latency and the reason")
    .argument('<file...>', 'a cluster YAML file, or keepalived.conf files')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .addOption(jsonOpt())
    .option('--once', 'one round, then exit (exit 1 when a real server is down)')
    .action(async (files: string[], o) => setCode(await checkCommand(files, o, io)));

  p.command('genhash')
    .description("keepalived's genhash: fetch a URL as HTTP_GET/SSL_GET does and print the MD5 of the body for a digest line")
    .requiredOption('--url <url>', 'http://address[:port]/path or https://…')
    .option('--virtualhost <host>', 'Host header (default: the address, as keepalived)')
    .option('--ssl', 'use TLS (implied by https://)')
    .option('--sni [name]', 'send SNI: this name, or the virtualhost')
    .option('--timeout <seconds>', 'whole request deadline (default 5, keepalived connect_timeout)')
    .option('--verbose', 'also print the request and the response headers')
    .action(async (o) => setCode(await genhashCommand(o, io)));

  const rs = p.command('realserver').description('prepare this host as a DR/TUN real server: VIP on lo (tunl0), ARP sysctls, safe with Docker and several interfaces');
  const rsOpts = (c: Command, setup: boolean): Command =>
    c
      .option('--vip <list>', `the VIP(s), comma-separated${setup ? '' : ' (default: those of the setup record)'}`)
      .addOption(new Option('--mode <mode>', 'dr (VIP on lo) or tun (VIP on tunl0)').choices(['dr', 'tun']))
      .option('--iface <name>', "the interface the VIP's traffic arrives on (default: the one on the VIP's subnet, else the default route's)")
      .addOption(new Option('--scope <scope>', 'where ARP sysctls go: auto, global (all/default/IF) or targeted (IF and lo)').choices(['auto', 'global', 'targeted']))
      .option('--persist', 'also write /etc/sysctl.d and a systemd unit so it survives a reboot')
      .option('--root <dir>', 'prefix for every file written (state, --persist output); default /')
      .option('--state-file <file>', 'the setup record (default ROOT/var/lib/haldir/realserver.json)');
  rsOpts(rs.command('setup').description('add the VIP and set arp_ignore/arp_announce (and rp_filter where needed), printing each change; rolls back on failure'), true)
    .option('--dry-run', 'print the changes without making them')
    .action((o) => setCode(realserverSetup(o, io)));
  rsOpts(rs.command('check').description('verify what setup would do is in place, changing nothing; exit 1 when something is missing'), false)
    .addOption(jsonOpt())
    .action((o) => setCode(realserverCheck(o, io)));
  rs.command('teardown')
    .description('restore exactly the values from before setup and remove the VIPs and files it added')
    .option('--root <dir>', 'prefix of the default state file; default /')
    .option('--state-file <file>', 'the setup record (default ROOT/var/lib/haldir/realserver.json)')
    .option('--dry-run', 'print what would be restored')
    .action((o) => setCode(realserverTeardown(o, io)));

  p.command('doctor')
    .description('find what breaks directors and real servers: ARP flux, effective ARP sysctls, Docker, NAT gateway and forwarding, TUN, conntrack, nftables, VRRP on the wire, real servers, timer lateness')
    .argument('[file...]', 'a cluster YAML file, or keepalived.conf files (optional)')
    .addOption(nodeOpt())
    .addOption(idOpt())
    .option('--vip <list>', 'VIPs this host is a real server of (besides those in the file and the setup record)')
    .addOption(new Option('--mode <mode>', 'forwarding of --vip: dr, tun or nat').choices(['dr', 'tun', 'nat']))
    .option('--director <list>', "NAT: the director address(es) a real server's default gateway must be")
    .option('--state-file <file>', 'the realserver setup record (default /var/lib/haldir/realserver.json)')
    .option('--listen <seconds>', 'how long to listen for VRRP adverts (default 3)')
    .option('--no-probe', 'listen only: send no VRRP probe advert')
    .option('--probe-vrid <n>', 'VRID of the probe advert (default: the highest one the file does not use)')
    .option('--vrrp-iface <list>', 'also listen for VRRP on these interfaces')
    .option('--expect-connections <n>', 'concurrent connections conntrack must hold (default 65536)')
    .option('--connect-timeout <seconds>', 'TCP connect timeout per real server (default 2)')
    .addOption(new Option('--role <role>', 'auto (director of the chosen node, real server of services listing this host), director or realserver').choices(['auto', 'director', 'realserver']))
    .addOption(jsonOpt())
    .action(async (files: string[], o) => setCode(await doctorCommand(files, o, io)));

  // ---- the running daemon, through its API (src/api) ----
  const apiOpts = (c: Command): Command =>
    c
      .option('--socket <path>', "the daemon's API socket (default /run/haldir/haldir.sock)")
      .option('--api <url>', 'a TCP API instead, http://HOST:PORT (with --token-file)')
      .option('--token-file <file>', 'bearer token for --api (the first token in the file)');
  apiOpts(p.command('status'))
    .description("the running node: VRRP instances (state, priorities, master, last advert), services and real servers (health, weight, connections, check latency); --cluster: every node")
    .addOption(jsonOpt())
    .option('--cluster [file]', "every node: through this daemon's peers, or each node of a cluster FILE at --api-port")
    .option('--api-port <port>', 'with --cluster FILE: the nodes\' TCP API port (default 9440)')
    .option('--keepalived <dump>', "keepalived's dumps instead: data, check-data, stats or json (keepalived.json: SIGRTMIN+2 cannot reach a Node process)")
    .action(async (o) => setCode(o.keepalived !== undefined ? await keepalivedDumpCommand(o.keepalived as string, o, io) : await statusCommand(o, io)));
  apiOpts(p.command('drain'))
    .description('drain a real server: weight 0 (no new connections, current ones finish) until undrain')
    .argument('<server>', 'HOST:PORT (lb3:80, 192.168.2.13:80), or HOST for every port')
    .option('--service <vip:port>', 'only in this virtual service')
    .addOption(jsonOpt())
    .action(async (server: string, o) => setCode(await drainCommand(server, false, o, io)));
  apiOpts(p.command('undrain'))
    .description('end a drain: the real server takes new connections at its weight again')
    .argument('<server>', 'HOST:PORT, or HOST for every port')
    .option('--service <vip:port>', 'only in this virtual service')
    .addOption(jsonOpt())
    .action(async (server: string, o) => setCode(await drainCommand(server, true, o, io)));
  apiOpts(p.command('weight'))
    .description("set a real server's weight while it is healthy (until --reset or restart)")
    .argument('<server>', 'HOST:PORT, or HOST for every port')
    .argument('[weight]', 'the new weight, a whole number')
    .option('--reset', 'back to the configured weight')
    .option('--service <vip:port>', 'only in this virtual service')
    .addOption(jsonOpt())
    .action(async (server: string, weight: string | undefined, o) => setCode(await weightCommand(server, weight, o, io)));
  apiOpts(p.command('failover'))
    .description('planned failover: this MASTER resigns (priority-0 advert) so the next-highest node takes over at once; it stays BACKUP until --resume')
    .option('--instance <name>', 'only this VRRP instance (repeatable; its sync group moves with it)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--resume', 'end the resignation: preempt again')
    .addOption(jsonOpt())
    .action(async (o) => setCode(await failoverCommand(o, io)));
  apiOpts(p.command('events'))
    .description('follow the event stream: VRRP transitions, real servers up/down/drain/weight, reloads, drift repairs (Ctrl-C ends)')
    .option('--backlog <n>', 'first print the last N events (default 10)')
    .option('--count <n>', 'exit after N events')
    .addOption(jsonOpt())
    .action(async (o) => setCode(await eventsCommand(o, io)));

  p.command('rules')
    .description('list the semantic checks validate runs, with their codes and severities')
    .addOption(jsonOpt())
    .action((o) => setCode(rulesCommand(o, io)));

  p.command('schema')
    .description('print the JSON Schema of the cluster file (for editors)')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .action((o) => setCode(schemaCommand(o, io)));

  p.command('demo')
    .description('the seed cluster live: four nodes in network namespaces, traffic, a master failure and a backend failure, measured (without root: one node on loopback)')
    .option('--offline', 'only the configuration tour: validate, compare and plan the seed (no processes)')
    .option('--local', 'the single-node loopback demo (what runs without root)')
    .action(async (o: { offline?: boolean; local?: boolean }) => {
      if (o.offline) {
        setCode(demoCommand(io));
        return;
      }
      const lab = canBuildLabs();
      if (o.local || !lab.ok) {
        setCode(await localDemo(io, o.local ? 'asked for with --local' : `the four-node cluster needs network namespaces: ${lab.why}`));
        return;
      }
      setCode(demoCommand({ out: () => {}, err: io.err }) === EXIT.ok ? await liveDemo(io) : EXIT.invalid);
    });

  const lab = p.command('lab').description("the seed's four-node cluster on this machine, to watch and break (network namespaces; root)");
  lab
    .command('up')
    .description('build the lab and run it in the foreground (progress, then its events) until haldir lab down, Ctrl-C or SIGTERM')
    .addOption(new Option('--topology <name>', 'the cluster to build').choices(['seed']).default('seed'))
    .action(async (o: { topology?: string }) => setCode(await labUp(o, io)));
  lab
    .command('status')
    .description('who is master, each node (link, VRRP, haldir, nginx, balancing), the real servers in the balancing table and their counters')
    .addOption(jsonOpt())
    .action(async (o: { json?: boolean }) => setCode(await labStatus(o, io)));
  lab
    .command('fault')
    .description('break something: link-down lbN, kill lbN, stop-daemon lbN, stop-nginx lbN, stop-upstream IP, partition lbA lbB; heal undoes every fault')
    .argument('<kind>', 'link-down, kill, stop-daemon, stop-nginx, stop-upstream, partition or heal')
    .argument('[args...]', 'the node(s) or the upstream address')
    .action(async (kind: string, args: string[]) => setCode(await labFault(kind, args, io)));
  lab
    .command('traffic')
    .description('a client load loop on all four ports: successes, failures, per-node answers and latency, one line per second')
    .option('--seconds <n>', 'how long to run (default 10)')
    .addOption(jsonOpt())
    .action(async (o: { seconds?: string; json?: boolean }) => setCode(await labTraffic(o, io)));
  lab
    .command('down')
    .description('stop the running lab and wait for it; with none running, remove what a crashed lab up left behind')
    .action(async () => setCode(await labDown(io)));

  return p;
}

export async function main(argv: string[], io: IO = stdio): Promise<number> {
  let code: number = EXIT.ok;
  const p = program(io, (c) => (code = c));
  if (argv.length === 0) {
    io.err(p.helpInformation());
    return EXIT.usage;
  }
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end "with an error" that is not one.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      io.err(`haldir: ${e.message}\n`);
      return EXIT.usage;
    }
    io.err(`haldir: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.invalid;
  }
  return code;
}
