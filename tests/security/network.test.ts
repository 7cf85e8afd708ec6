/**
 * Attacks on the network boundary, each from inside a real sandbox (root where the attack needs it): IPv6 to the host,
 * spoofing another sandbox's address, raw packets out of an offline sandbox, the host's own networks and the cloud
 * metadata address; plus what must keep holding: the host's ports and other sandboxes over IPv4.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Sandbox } from 'tensor-box';
import { run, startTestServer, type TestServer } from '../helpers/harness.js';
import { hostReaches, startTestNet, TCP_PORT, UDP_PORT, type TestNet } from './helpers/test-net.js';

let s: TestServer;
let tn: TestNet;
let a: Sandbox; // internet access
let b: Sandbox; // internet access: the victim whose address is spoofed
let offline: Sandbox;
let hostListener: net.Server;
let hostPort = 0;

/** Python inside the sandbox: prints what `code` prints (as root when asked). */
async function py(sbx: Sandbox, code: string, user = 'user'): Promise<string> {
  await sbx.files.write('/tmp/attack.py', code);
  const r = await sbx.commands.run('python3 /tmp/attack.py', { user, timeoutMs: 30_000 }).catch((e) => e.result ?? e);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

const TCP_TRY = (ip: string, port: number, family = 'AF_INET', scope = '') => `
import socket
s = socket.socket(socket.${family}, socket.SOCK_STREAM); s.settimeout(3)
try:
    s.connect(${
      family === 'AF_INET6'
        ? `('${ip}', ${port}, 0, socket.if_nametoindex('eth0') if '${scope}' else ` + `0)`
        : `('${ip}', ${port})`
    })
    print('CONNECTED', s.recv(64).decode().strip())
except Exception as e:
    print('BLOCKED', type(e).__name__, e)
`;

/**
 * A UDP datagram in a hand-made Ethernet frame (AF_PACKET: no routing, no local firewall), addressed to the link's
 * gateway MAC, with any source address the attacker likes. `gw` is the host end of the sandbox's link.
 */
const RAW_UDP = (gw: string, src: string, dst: string, port: number, payload: string) => `
import socket, struct, time
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('${gw}', 9))  # ARP for the gateway
time.sleep(0.3)
gwmac = next(l.split()[3] for l in open('/proc/net/arp').read().splitlines()[1:] if l.split()[0] == '${gw}')
ownmac = open('/sys/class/net/eth0/address').read().strip()
src, dst, data = socket.inet_aton('${src}'), socket.inet_aton('${dst}'), b'${payload}'
udp = struct.pack('!HHHH', 40000, ${port}, 8 + len(data), 0) + data
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
eth = bytes.fromhex(gwmac.replace(':', '')) + bytes.fromhex(ownmac.replace(':', '')) + b'\\x08\\x00'
r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); r.bind(('eth0', 0))
for _ in range(3): r.send(eth + ip + udp)
print('SENT')
`;

const gatewayOf = (addr: string) => addr.replace(/\d+$/, (d) => String(Number(d) - 1));

async function sandboxIp(sbx: Sandbox): Promise<string> {
  return (await s.store.getSandbox(sbx.sandboxId))!.runtime!.address;
}

/** The host end of a sandbox's link: the interface holding the /30's first address. */
async function hostIfOf(sbx: Sandbox): Promise<string> {
  const addr = await sandboxIp(sbx);
  const hostAddr = addr.replace(/\d+$/, (d) => String(Number(d) - 1));
  const out = await run('ip', ['-o', '-4', 'addr', 'show']);
  const line = out.split('\n').find((l) => l.includes(` ${hostAddr}/30 `));
  assert.ok(line, `no host interface holds ${hostAddr}`);
  return line.split(/\s+/)[1];
}

async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

before(async () => {
  tn = await startTestNet();
  s = await startTestServer();
  hostListener = net.createServer((c) => c.end('host says hi\n'));
  await new Promise<void>((r) => hostListener.listen(0, '::', r));
  hostPort = (hostListener.address() as net.AddressInfo).port;
  [a, b, offline] = await Promise.all([
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 }),
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 }),
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000, allowInternetAccess: false }),
  ]);
});

after(async () => {
  for (const x of [a, b, offline]) await x?.kill().catch(() => {});
  await s?.close();
  hostListener?.close();
  await tn?.close();
});

describe('network boundary', () => {
  it(
    'the test network is really there: the host reaches ' + 'it, an internet sandbox reaches its public address',
    async () => {
      assert.ok(await hostReaches(tn.lanIp), 'host reaches the LAN address');
      assert.ok(await hostReaches(tn.publicIp), 'host reaches the public address');
      const out = await py(a, TCP_TRY(tn.publicIp, TCP_PORT));
      assert.match(out, /^CONNECTED hello /, out);
    },
  );

  it('IPv6: the host end of a sandbox link has no address at all, and no IPv6 reaches the host', async () => {
    const hostIf = await hostIfOf(a);
    assert.equal(readFileSync(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, 'utf8').trim(), '1');
    const v6 = await run('ip', ['-6', '-o', 'addr', 'show', 'dev', hostIf]);
    assert.equal(v6.trim(), '', `host link ${hostIf} has IPv6 addresses: ${v6}`);
    // What the host's link-local address would be (EUI-64 of its MAC): try it, as the attacker did, as user and root.
    const mac = readFileSync(`/sys/class/net/${hostIf}/address`, 'utf8')
      .trim()
      .split(':')
      .map((h) => parseInt(h, 16));
    mac[0] ^= 2;
    const eui = [mac[0], mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]];
    const ll = `fe80::${[0, 2, 4, 6].map((i) => ((eui[i] << 8) | eui[i + 1]).toString(16)).join(':')}`;
    for (const user of ['user', 'root']) {
      const out = await py(a, TCP_TRY(ll, hostPort, 'AF_INET6', 'eth0'), user);
      assert.match(out, /^BLOCKED/, `as ${user}: ${out}`);
    }
    const inside = await a.commands.run('cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; ip -6 addr show dev eth0');
    assert.equal(inside.stdout.trim(), '1', 'eth0 inside carries no IPv6');
    const rules = await run('ip6tables', ['-w', '-S']);
    assert.match(rules, /-A INPUT -i tb\+ -j DROP/);
    assert.match(rules, /-A FORWARD -i tb\+ -j DROP/);
  });

  it('the host ports and other sandboxes stay unreachable over IPv4', async () => {
    const hostAddr = gatewayOf(await sandboxIp(a));
    assert.match(await py(a, TCP_TRY(hostAddr, hostPort)), /^BLOCKED/);
    assert.match(await py(a, TCP_TRY(tn.hostIp, hostPort)), /^BLOCKED/, 'the host by another of its addresses');
    await b.commands.run(`python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 &`);
    assert.match(await py(a, TCP_TRY(await sandboxIp(b), 8000)), /^BLOCKED/, 'sandbox to sandbox');
  });

  it("spoofing: raw packets with another sandbox's source address are dropped at the link", async () => {
    const own = await sandboxIp(a);
    const victim = await sandboxIp(b);
    // Control: the same raw packet with the sender's own address arrives.
    assert.equal(await py(a, RAW_UDP(gatewayOf(own), own, tn.publicIp, UDP_PORT, 'honest'), 'root'), 'SENT');
    assert.ok(await waitFor(() => tn.datagrams().some((l) => l.endsWith('honest'))), 'the control datagram arrived');
    for (const [src, tag] of [
      [victim, 'spoof-sandbox'],
      [tn.publicIp, 'spoof-outside'],
      ['10.13.255.254', 'spoof-range'],
    ]) {
      assert.equal(await py(a, RAW_UDP(gatewayOf(own), src, tn.publicIp, UDP_PORT, tag), 'root'), 'SENT');
    }
    await new Promise((r) => setTimeout(r, 1000));
    const got = tn.datagrams();
    for (const tag of ['spoof-sandbox', 'spoof-outside', 'spoof-range']) {
      assert.ok(!got.some((l) => l.endsWith(tag)), `${tag} got through: ${got.join(' | ')}`);
    }
  });

  it('an offline sandbox sends nothing out, not even hand-made raw packets', async () => {
    assert.match(await py(offline, TCP_TRY(tn.publicIp, TCP_PORT)), /^BLOCKED/);
    const own = await sandboxIp(offline);
    assert.equal(await py(offline, RAW_UDP(gatewayOf(own), own, tn.publicIp, UDP_PORT, 'offline-raw'), 'root'), 'SENT');
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(!tn.datagrams().some((l) => l.endsWith('offline-raw')), 'a raw packet left an offline sandbox');
  });

  it("the cloud metadata address and the host's own networks are blocked for internet sandboxes", async () => {
    assert.ok(await hostReaches(tn.metadataIp), 'control: the host reaches the metadata stand-in');
    assert.match(await py(a, TCP_TRY(tn.metadataIp, TCP_PORT)), /^BLOCKED/, 'metadata address');
    assert.match(await py(a, TCP_TRY(tn.lanIp, TCP_PORT)), /^BLOCKED/, "the host's own network");
    assert.match(await py(a, TCP_TRY('127.0.0.1', hostPort)), /^BLOCKED/, 'loopback is the sandbox itself');
  });

  it('a server setting lets chosen blocked networks through', async () => {
    const s2 = await startTestServer({ egressAllowCidrs: [tn.lanCidr] });
    try {
      const c = await Sandbox.create('default', { ...s2.conn, timeoutMs: 60_000 });
      try {
        assert.match(await py(c, TCP_TRY(tn.lanIp, TCP_PORT)), /^CONNECTED/, 'allowed LAN');
        assert.match(await py(c, TCP_TRY(tn.metadataIp, TCP_PORT)), /^BLOCKED/, 'metadata stays blocked');
      } finally {
        await c.kill();
      }
    } finally {
      await s2.close();
    }
  });
});
