/**
 * Networks of the test's own, to attack through: a network namespace reached from the host over a veth on a /30 of
 * TEST-NET-1 (192.0.2.0/24). From the host's point of view:
 * - `lanIp` (the namespace's end of the /30) is on one of the host's own networks — sandboxes must not reach it;
 * - `publicIp` (TEST-NET-3, 203.0.113.0/24) is routed through the namespace like any internet address — sandboxes
 *   with internet access reach it;
 * - `metadataIp` (169.254.169.254) is routed there too — the cloud metadata address, which sandboxes must not reach.
 * Each address runs a TCP server that answers `hello <client address>` and a UDP listener that records datagrams.
 * Interface names start with `tsn`, never `tb` (the sandbox firewall keys on `tb+`). Nothing leaves this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../helpers/harness.js';

export const TCP_PORT = 8080;
export const UDP_PORT = 9090;
/** A line echo server: a connection that stays open (for rules that change under it). */
export const ECHO_PORT = 8081;

const SERVER = `
import socket, sys, threading
addrs, log = sys.argv[1].split(','), sys.argv[2]
def tcp(a):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((a, ${TCP_PORT})); s.listen(64)
    while True:
        c, peer = s.accept()
        try: c.sendall(('hello %s\\n' % peer[0]).encode())
        except OSError: pass
        c.close()
def udp(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, ${UDP_PORT}))
    while True:
        data, peer = s.recvfrom(2048)
        with open(log, 'a') as f: f.write('%s %s %s\\n' % (a, peer[0], data.decode(errors='replace')))
def echo(a):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((a, ${ECHO_PORT})); \
s.listen(64)
    def serve(c):
        try:
            while True:
                d = c.recv(1024)
                if not d: break
                c.sendall(d)
        except OSError: pass
        c.close()
    while True:
        c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
names = dict(x.split('=') for x in sys.argv[3].split(',')) if len(sys.argv) > 3 else {}
def dns(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, 53))
    while True:
        q, peer = s.recvfrom(512)
        i, labels = 12, []
        while q[i]: labels.append(q[i+1:i+1+q[i]].decode()); i += 1 + q[i]
        name, qend = '.'.join(labels).lower(), i + 5
        ip = names.get(name)
        if ip is None:
            for k, v in names.items():
                if k.startswith('*.') and name.endswith(k[1:]): ip = v
        flags = 0x8180 if ip else 0x8183
        head = q[:2] + flags.to_bytes(2, 'big') + (1).to_bytes(2, 'big') + (1 if ip else 0).to_bytes(2, 'big') + \
bytes(4)
        ans = (b'\\xc0\\x0c' + (1).to_bytes(2, 'big') + (1).to_bytes(2, 'big') + (60).to_bytes(4, 'big') + \
(4).to_bytes(2, 'big') + socket.inet_aton(ip)) if ip else b''
        s.sendto(head + q[12:qend] + ans, peer)
for a in addrs:
    threading.Thread(target=tcp, args=(a,), daemon=True).start()
    threading.Thread(target=udp, args=(a,), daemon=True).start()
    threading.Thread(target=echo, args=(a,), daemon=True).start()
if names: threading.Thread(target=dns, args=(addrs[1],), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

export interface TestNet {
  hostIp: string;
  lanIp: string;
  lanCidr: string;
  /** Runs the test's DNS server (port 53) besides the TCP/UDP servers. */
  publicIp: string;
  /** A second internet address (DNS names resolve here when they are not `allowed`). */
  publicIp2: string;
  metadataIp: string;
  /** Datagrams the UDP listeners got: `<listening address> <source address> <payload>` per line. */
  datagrams(): string[];
  close(): Promise<void>;
}

/**
 * `names` maps DNS names (`*.example.test` wildcards too) to addresses for the DNS server on `publicIp` (a function:
 * the addresses are only known here).
 */
export async function startTestNet(
  names?: (net: { publicIp: string; publicIp2: string }) => Record<string, string>,
): Promise<TestNet> {
  const n = process.pid % 60;
  const ns = `tsn${process.pid}`;
  const hostIf = `tsn${n}h`;
  const nsIf = `tsn${n}n`;
  const hostIp = `192.0.2.${n * 4 + 1}`;
  const lanIp = `192.0.2.${n * 4 + 2}`;
  const lanCidr = `192.0.2.${n * 4}/30`;
  const publicIp = `203.0.113.${n + 10}`;
  const publicIp2 = `203.0.113.${n + 100}`;
  const metadataIp = '169.254.169.254';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-testnet-'));
  const log = path.join(dir, 'udp.log');
  writeFileSync(log, '');
  writeFileSync(path.join(dir, 'server.py'), SERVER);
  const ip = (...a: string[]) => run('ip', a);
  const quiet = (...a: string[]) => run('ip', a).catch(() => '');
  await quiet('netns', 'del', ns);
  await quiet('link', 'del', hostIf);
  await quiet('route', 'del', `${metadataIp}/32`);
  await ip('netns', 'add', ns);
  await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
  await ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
  await ip('link', 'set', hostIf, 'up');
  const inNs = (...a: string[]) => ip('netns', 'exec', ns, 'ip', ...a);
  await inNs('addr', 'add', `${lanIp}/30`, 'dev', nsIf);
  await inNs('link', 'set', nsIf, 'up');
  await inNs('link', 'set', 'lo', 'up');
  await inNs('addr', 'add', `${publicIp}/32`, 'dev', 'lo');
  await inNs('addr', 'add', `${publicIp2}/32`, 'dev', 'lo');
  await inNs('addr', 'add', `${metadataIp}/32`, 'dev', 'lo');
  await inNs('route', 'add', 'default', 'via', hostIp);
  await ip('route', 'add', `${publicIp}/32`, 'via', lanIp);
  await ip('route', 'add', `${publicIp2}/32`, 'via', lanIp);
  await ip('route', 'add', `${metadataIp}/32`, 'via', lanIp);
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const nameMap = names
    ? Object.entries(names({ publicIp, publicIp2 }))
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '';
  const args = [
    path.join(dir, 'server.py'),
    [lanIp, publicIp, publicIp2, metadataIp].join(','),
    log,
    ...(nameMap ? [nameMap] : []),
  ];
  const server: ChildProcess = spawn('ip', ['netns', 'exec', ns, 'python3', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`test network server exited ${code}`)));
  });
  return {
    hostIp,
    lanIp,
    lanCidr,
    publicIp,
    publicIp2,
    metadataIp,
    datagrams: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    async close() {
      server.kill('SIGKILL');
      await quiet('route', 'del', `${publicIp}/32`);
      await quiet('route', 'del', `${publicIp2}/32`);
      await quiet('route', 'del', `${metadataIp}/32`);
      await quiet('link', 'del', hostIf);
      await quiet('netns', 'del', ns);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether the host itself reaches a TCP server (the fixture's control: the address is really there). */
export function hostReaches(ipAddr: string, port = TCP_PORT): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: ipAddr, port, timeout: 2000 });
    c.once('data', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
    c.once('timeout', () => (c.destroy(), resolve(false)));
  });
}
