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
for a in addrs:
    threading.Thread(target=tcp, args=(a,), daemon=True).start()
    threading.Thread(target=udp, args=(a,), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

export interface TestNet {
  hostIp: string;
  lanIp: string;
  lanCidr: string;
  publicIp: string;
  metadataIp: string;
  /** Datagrams the UDP listeners got: `<listening address> <source address> <payload>` per line. */
  datagrams(): string[];
  close(): Promise<void>;
}

export async function startTestNet(): Promise<TestNet> {
  const n = process.pid % 60;
  const ns = `tsn${process.pid}`;
  const hostIf = `tsn${n}h`;
  const nsIf = `tsn${n}n`;
  const hostIp = `192.0.2.${n * 4 + 1}`;
  const lanIp = `192.0.2.${n * 4 + 2}`;
  const lanCidr = `192.0.2.${n * 4}/30`;
  const publicIp = `203.0.113.${n + 10}`;
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
  await inNs('addr', 'add', `${metadataIp}/32`, 'dev', 'lo');
  await inNs('route', 'add', 'default', 'via', hostIp);
  await ip('route', 'add', `${publicIp}/32`, 'via', lanIp);
  await ip('route', 'add', `${metadataIp}/32`, 'via', lanIp);
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const server: ChildProcess = spawn('ip', ['netns', 'exec', ns, 'python3', path.join(dir, 'server.py'), [lanIp, publicIp, metadataIp].join(','), log], {
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
    metadataIp,
    datagrams: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    async close() {
      server.kill('SIGKILL');
      await quiet('route', 'del', `${publicIp}/32`);
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
