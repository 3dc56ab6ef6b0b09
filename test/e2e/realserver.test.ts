// `haldir realserver setup|check|teardown` for real, inside network namespaces
// (net.* sysctls are per namespace): a neighbour arpings the VIP before and after
// setup, the real server still answers for its own address and accepts a TCP
// ("SSH") connection to it, a host imitating Docker (docker0 bridge, a veth to a
// container namespace) gets the targeted mode and its container keeps working,
// teardown restores every sysctl exactly, a failing step rolls everything back,
// and the --persist output brings a fresh namespace to the same state.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canBuildLabs, Lab, nsExec } from '../../src/lab/netns.js';

const lab = canBuildLabs();
const hasArping = spawnSync('arping', ['-V']).error === undefined;
const skip = !lab.ok ? lab.why : !hasArping ? 'arping is not installed' : undefined;
const BIN = new URL('../../../bin/haldir.js', import.meta.url).pathname;
const VIP = '10.99.0.100';

function haldir(ns: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Every net.ipv4.conf.* value of a namespace, one "key = value" per line. */
function confSnapshot(ns: string): string {
  return nsExec(ns, 'sysctl', ['-a', '--pattern', '^net\\.ipv4\\.conf\\.'])
    .split('\n')
    .filter((l) => /\.(arp_ignore|arp_announce|rp_filter|send_redirects|arp_filter|accept_local) = /.test(l))
    .sort()
    .join('\n');
}

const sysctl = (ns: string, key: string): string => nsExec(ns, 'sysctl', ['-n', key]).trim();

/** arping from `ns` on eth0: true when a reply came. */
function arpAnswered(ns: string, target: string): boolean {
  // Each probe starts from an empty cache entry so an old answer cannot count.
  spawnSync('ip', ['-n', ns, 'neigh', 'flush', 'dev', 'eth0']);
  return spawnSync('ip', ['netns', 'exec', ns, 'arping', '-c', '2', '-w', '3', '-I', 'eth0', target]).status === 0;
}

const hasAddr = (ns: string, dev: string, addr: string): boolean => nsExec(ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', dev]).includes(` ${addr}/`);

const SERVER = `const s=require('net').createServer(c=>{c.end('SSH-2.0-haldir-test\\r\\n')});s.listen(+process.argv[2],process.argv[1],()=>console.log('listening'))`;
const CLIENT = `const c=require('net').connect(+process.argv[2],process.argv[1]);let d='';c.setTimeout(3000,()=>{console.log('timeout');process.exit(1)});c.on('data',b=>d+=b);c.on('end',()=>{console.log(d.trim());process.exit(0)});c.on('error',e=>{console.log(e.code);process.exit(1)})`;

describe('haldir realserver in network namespaces', { skip }, () => {
  let L: Lab;
  let tmp: string;
  const servers: ChildProcess[] = [];
  const extraNs: string[] = [];

  async function listen(host: string, address: string, port: number): Promise<void> {
    const p = L.spawn(host, process.execPath, ['-e', SERVER, address, String(port)]);
    servers.push(p);
    await new Promise<void>((res, rej) => {
      p.stdout!.on('data', (b: Buffer) => b.toString().includes('listening') && res());
      p.once('exit', (c) => rej(new Error(`listener in ${host} exited ${c}`)));
    });
  }
  const tcp = (ns: string, address: string, port: number): string => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, address, String(port)], { encoding: 'utf8' });
    return r.stdout.trim();
  };

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'haldir-rs-'));
    L = new Lab();
    L.addHost('nb', { ip: '10.99.0.10/24', mac: '02:99:00:00:00:10' });
    L.addHost('rs', { ip: '10.99.0.21/24', mac: '02:99:00:00:00:21' });
    L.addHost('dk', { ip: '10.99.0.22/24', mac: '02:99:00:00:00:22' });
    L.addHost('rb', { ip: '10.99.0.23/24', mac: '02:99:00:00:00:23' });
  });
  after(async () => {
    for (const ns of extraNs) spawnSync('ip', ['netns', 'del', ns]);
    await L?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('DR: after setup the VIP gets no ARP answer, the own address does and TCP to it works; teardown restores exactly', async () => {
    const rs = L.host('rs').ns;
    const nb = L.host('nb').ns;
    const state = join(tmp, 'rs.json');
    // The VIP without the sysctls: the real server answers ARP for it (the problem setup solves).
    nsExec(rs, 'ip', ['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    assert.equal(arpAnswered(nb, VIP), true, 'before setup, with the VIP on lo and default sysctls, the real server should answer ARP for it');
    nsExec(rs, 'ip', ['addr', 'del', `${VIP}/32`, 'dev', 'lo']);
    // Non-default values that teardown must put back as they were, not as 0.
    nsExec(rs, 'sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.arp_announce=1', 'net.ipv4.conf.default.rp_filter=2']);
    const before = confSnapshot(rs);

    const r = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--mode', 'dr', '--state-file', state);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /scope: global — eth0 is the only interface besides lo/);
    assert.match(r.out, /set net\.ipv4\.conf\.all\.arp_ignore 0 -> 1/);
    assert.match(r.out, /set net\.ipv4\.conf\.eth0\.arp_announce 1 -> 2/);
    assert.match(r.out, new RegExp(`add ${VIP.replace(/\./g, '\\.')}/32 dev lo label lo:haldir`));
    // Each line printed before the VIP is added: ARP suppression first.
    assert.ok(r.out.indexOf('arp_ignore 0 -> 1') < r.out.indexOf(`add ${VIP}`));
    assert.ok(hasAddr(rs, 'lo', VIP));

    assert.equal(arpAnswered(nb, VIP), false, 'after setup nobody may answer ARP for the VIP');
    assert.equal(arpAnswered(nb, '10.99.0.21'), true, "the real server's own address must still be answered");
    await listen('rs', '10.99.0.21', 2222);
    assert.equal(tcp(nb, '10.99.0.21', 2222), 'SSH-2.0-haldir-test', 'a TCP connection to the own address (SSH) works');

    assert.equal(haldir(rs, 'realserver', 'check', '--state-file', state).code, 0);
    const again = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--state-file', state);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /nothing to change: already set up/);

    const t = haldir(rs, 'realserver', 'teardown', '--state-file', state);
    assert.equal(t.code, 0, t.err + t.out);
    assert.match(t.out, /delete 10\.99\.0\.100\/32 dev lo/);
    assert.equal(confSnapshot(rs), before, 'teardown restores every value exactly');
    assert.equal(sysctl(rs, 'net.ipv4.conf.eth0.arp_announce'), '1');
    assert.ok(!hasAddr(rs, 'lo', VIP));
    assert.ok(!existsSync(state));
    const c = haldir(rs, 'realserver', 'check', '--vip', VIP, '--state-file', state);
    assert.equal(c.code, 1);
    assert.match(c.out, /MISSING needs: add 10\.99\.0\.100\/32 dev lo/);
    nsExec(rs, 'sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.arp_announce=0', 'net.ipv4.conf.default.rp_filter=0']);
  });

  it('Docker imitation: docker0 bridge + a container gets the targeted mode, all/default untouched, the container keeps its connectivity', async () => {
    const dk = L.host('dk').ns;
    const nb = L.host('nb').ns;
    const ct = `${L.tag}ct`;
    extraNs.push(ct);
    nsExec(dk, 'ip', ['link', 'add', 'docker0', 'type', 'bridge']);
    nsExec(dk, 'ip', ['addr', 'add', '172.17.0.1/16', 'dev', 'docker0']);
    nsExec(dk, 'ip', ['link', 'set', 'docker0', 'up']);
    spawnSync('ip', ['netns', 'add', ct]);
    nsExec(dk, 'ip', ['link', 'add', 'veth1c0ffee', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ct]);
    nsExec(dk, 'ip', ['link', 'set', 'veth1c0ffee', 'master', 'docker0', 'up']);
    nsExec(ct, 'ip', ['link', 'set', 'lo', 'up']);
    nsExec(ct, 'ip', ['addr', 'add', '172.17.0.2/16', 'dev', 'eth0']);
    nsExec(ct, 'ip', ['link', 'set', 'eth0', 'up']);
    nsExec(ct, 'ip', ['route', 'add', 'default', 'via', '172.17.0.1']);
    await listen('dk', '172.17.0.1', 8080);
    const inCt = L.spawn('dk', 'ip', ['netns', 'exec', ct, process.execPath, '-e', SERVER, '172.17.0.2', '8081']);
    servers.push(inCt);
    await new Promise<void>((res) => inCt.stdout!.on('data', (b: Buffer) => b.toString().includes('listening') && res()));
    const containerWorks = (): void => {
      spawnSync('ip', ['-n', ct, 'neigh', 'flush', 'all']);
      spawnSync('ip', ['-n', dk, 'neigh', 'flush', 'dev', 'docker0']);
      assert.equal(spawnSync('ip', ['netns', 'exec', ct, 'ping', '-c', '1', '-W', '2', '172.17.0.1']).status, 0, 'container pings its gateway');
      assert.equal(tcp(ct, '172.17.0.1', 8080), 'SSH-2.0-haldir-test', 'container → host bridge address TCP');
      assert.equal(tcp(dk, '172.17.0.2', 8081), 'SSH-2.0-haldir-test', 'host → container TCP');
    };
    containerWorks();
    const before = confSnapshot(dk);
    const state = join(tmp, 'dk.json');
    const r = haldir(dk, 'realserver', 'setup', '--vip', VIP, '--state-file', state);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /scope: targeted — docker0 \(bridge: Docker's, 1 port\) share this host: all\/default would change how they answer ARP too, so only eth0 and lo are set/);
    assert.doesNotMatch(r.out, /conf\.(all|default)\./);
    for (const k of ['all', 'default', 'docker0', 'veth1c0ffee'])
      for (const p of ['arp_ignore', 'arp_announce']) assert.equal(sysctl(dk, `net.ipv4.conf.${k}.${p}`), '0', `${k}.${p} untouched`);
    for (const k of ['eth0', 'lo']) {
      assert.equal(sysctl(dk, `net.ipv4.conf.${k}.arp_ignore`), '1');
      assert.equal(sysctl(dk, `net.ipv4.conf.${k}.arp_announce`), '2');
    }
    assert.equal(arpAnswered(nb, VIP), false, 'the targeted mode suppresses ARP for the VIP on eth0 too');
    assert.equal(arpAnswered(nb, '10.99.0.22'), true);
    containerWorks();
    const t = haldir(dk, 'realserver', 'teardown', '--state-file', state);
    assert.equal(t.code, 0, t.err);
    assert.equal(confSnapshot(dk), before);
  });

  it('a failing step rolls back everything before it: nothing changed', () => {
    const rs = L.host('rs').ns;
    const blocker = join(tmp, 'not-a-dir');
    writeFileSync(blocker, 'a file where a directory should be\n');
    const before = confSnapshot(rs);
    const r = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--state-file', join(blocker, 'rs.json'));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /set net\.ipv4\.conf\.all\.arp_ignore 0 -> 1/, 'the kernel steps ran first');
    assert.match(r.out, /rolled back: add 10\.99\.0\.100\/32 dev lo/);
    assert.match(r.err, /setup failed at "record the values before setup in .*": cannot write .*(ENOTDIR|EEXIST)/);
    assert.match(r.err, /nothing changed \(\d+ step\(s\) rolled back\)/);
    assert.equal(confSnapshot(rs), before);
    assert.ok(!hasAddr(rs, 'lo', VIP));
  });

  it('TUN without the ipip module: refused with the fix, nothing changed', (t) => {
    const rs = L.host('rs').ns;
    if (nsExec(rs, 'ip', ['-o', 'link']).includes('tunl0')) return t.skip('this kernel has ipip loaded');
    const before = confSnapshot(rs);
    const r = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--mode', 'tun', '--state-file', join(tmp, 'tun.json'));
    assert.equal(r.code, 1);
    assert.match(r.err, /tunl0 does not exist: the ipip module is not loaded/);
    assert.match(r.err, /fix: modprobe ipip/);
    assert.match(r.err, /nothing changed/);
    assert.equal(confSnapshot(rs), before);
  });

  it('--persist writes sysctl.d, a unit and its enablement under --root; they rebuild the state in a fresh namespace; teardown removes them', () => {
    const rs = L.host('rs').ns;
    const rb = L.host('rb').ns;
    const root = join(tmp, 'root');
    spawnSync('mkdir', ['-p', root]);
    const state = join(tmp, 'persist.json');
    const r = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--persist', '--root', root, '--state-file', state);
    assert.equal(r.code, 0, r.err + r.out);
    const conf = readFileSync(join(root, 'etc/sysctl.d/90-haldir-realserver.conf'), 'utf8');
    assert.match(conf, /^net\.ipv4\.conf\.all\.arp_ignore = 1$/m);
    assert.match(conf, /^net\.ipv4\.conf\.eth0\.arp_announce = 2$/m);
    const unit = readFileSync(join(root, 'etc/systemd/system/haldir-realserver.service'), 'utf8');
    assert.match(unit, /^ExecStart=ip address replace 10\.99\.0\.100\/32 dev lo label lo:haldir$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/haldir-realserver.service')), '/etc/systemd/system/haldir-realserver.service');
    assert.equal(haldir(rs, 'realserver', 'check', '--state-file', state).code, 0);

    // "Reboot": a fresh namespace gets the sysctl.d file and the unit's commands, and passes check.
    assert.equal(haldir(rb, 'realserver', 'check', '--vip', VIP).code, 1);
    nsExec(rb, 'sysctl', ['-q', '-p', join(root, 'etc/sysctl.d/90-haldir-realserver.conf')]);
    for (const line of unit.split('\n').filter((l) => l.startsWith('ExecStart='))) {
      const [cmd, ...args] = line.slice('ExecStart='.length).split(' ');
      nsExec(rb, cmd!, args);
    }
    const c = haldir(rb, 'realserver', 'check', '--vip', VIP, '--state-file', join(tmp, 'none.json'));
    assert.equal(c.code, 0, c.out + c.err);
    assert.equal(arpAnswered(L.host('nb').ns, VIP), false);

    // A persisted file edited by hand is reported.
    writeFileSync(join(root, 'etc/sysctl.d/90-haldir-realserver.conf'), conf.replace('eth0.arp_announce = 2', 'eth0.arp_announce = 0'));
    const d = haldir(rs, 'realserver', 'check', '--state-file', state);
    assert.equal(d.code, 1);
    assert.match(d.out, /MISSING needs: .*90-haldir-realserver\.conf \(differs\)/);

    const t = haldir(rs, 'realserver', 'teardown', '--state-file', state);
    assert.equal(t.code, 0, t.err);
    for (const f of ['etc/sysctl.d/90-haldir-realserver.conf', 'etc/systemd/system/haldir-realserver.service', 'etc/systemd/system/multi-user.target.wants/haldir-realserver.service'])
      assert.ok(!existsSync(join(root, f)), `${f} removed`);
  });

  it('usage errors: no VIP, a bad VIP, an unknown interface', () => {
    const rs = L.host('rs').ns;
    assert.equal(haldir(rs, 'realserver', 'setup').code, 2);
    let r = haldir(rs, 'realserver', 'setup', '--vip', '10.99.0.300', '--state-file', join(tmp, 'x.json'));
    assert.equal(r.code, 1);
    assert.match(r.err, /--vip: "10\.99\.0\.300" is not an IPv4 or IPv6 address/);
    r = haldir(rs, 'realserver', 'setup', '--vip', VIP, '--iface', 'eth9', '--state-file', join(tmp, 'x.json'));
    assert.equal(r.code, 1);
    assert.match(r.err, /--iface eth9: no such interface \(interfaces: lo, eth0\)/);
    assert.equal(haldir(rs, 'realserver', 'setup', '--vip', VIP, '--mode', 'nat').code, 2);
  });
});
