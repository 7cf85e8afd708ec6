/**
 * Egress rules per sandbox (E2B's `network.allowOut` / `denyOut`, `PUT /sandboxes/{id}/network`), checked for real
 * against "internet" hosts of the test's own (a network namespace with TEST-NET addresses and a DNS server): CIDR and
 * address rules over TCP and UDP, host names and wildcards through the egress resolver (also when the sandbox asks
 * another resolver), updates that cut an open connection, pause/resume and fork keeping the rules, bad input.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import { ECHO_PORT, startTestNet, TCP_PORT, UDP_PORT, type TestNet } from './security/helpers/test-net.js';

let s: TestServer;
let tn: TestNet;

async function py(sbx: Sandbox, code: string, user = 'user'): Promise<string> {
  await sbx.files.write('/tmp/probe.py', code);
  const r = await sbx.commands.run('python3 /tmp/probe.py', { user, timeoutMs: 30_000 }).catch((e) => e.result ?? e);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

const tcp = (host: string, port = TCP_PORT) => `
import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect((socket.gethostbyname('${host}'), ${port})); print('CONNECTED', s.recv(64).decode().strip())
except Exception as e: print('BLOCKED', type(e).__name__, e)
`;
const udp = (ip: string, tag: string) => `
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'${tag}', ('${ip}', ${UDP_PORT})); print('SENT')
`;
/** Asks a resolver of the sandbox's choosing directly (a DNS trick: not the one in resolv.conf). */
const askResolver = (resolver: string, name: string) => `
import socket, struct
q = struct.pack('!HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in \
'${name}'.split('.')) + b'\\0' + struct.pack('!HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(q, ('${resolver}', 53))
try:
    r = s.recv(512); print('RCODE', r[3] & 15, 'ANSWERS', struct.unpack('!H', r[6:8])[0])
except Exception as e: print('NOANSWER', e)
`;

async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !pred()) await new Promise((r) => setTimeout(r, 100));
  return pred();
}

before(async () => {
  tn = await startTestNet(({ publicIp, publicIp2 }) => ({
    'api.allowed.test': publicIp,
    '*.wild.test': publicIp,
    'blocked.test': publicIp2,
  }));
  s = await startTestServer({ dnsUpstream: tn.publicIp });
});
after(async () => {
  await s?.close();
  await tn?.close();
});

describe('egress rules', () => {
  it('address rules: only the allowed address is reached, over TCP and UDP; allow wins over deny', async () => {
    const sbx = await Sandbox.create('default', {
      ...s.conn,
      timeoutMs: 120_000,
      network: { denyOut: ['0.0.0.0/0'], allowOut: [`${tn.publicIp}/32`] },
    });
    try {
      assert.match(await py(sbx, tcp(tn.publicIp)), /^CONNECTED/);
      assert.match(await py(sbx, tcp(tn.publicIp2)), /^BLOCKED/);
      // The denied attempt shows in the sandbox's log (from the kernel's log of the drop rule, polled each second).
      let logged = false;
      for (let i = 0; i < 40 && !logged; i++) {
        const logs = await s.store.queryLogs(sbx.sandboxId, { limit: 100, direction: 'forward' });
        logged = logs.some((l) =>
          l.message.includes(`denied by the network rules: TCP to ${tn.publicIp2}:${TCP_PORT}`),
        );
        if (!logged) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(logged, 'no log entry for the denied connection');
      await py(sbx, udp(tn.publicIp, 'udp-allowed'));
      await py(sbx, udp(tn.publicIp2, 'udp-denied'));
      assert.ok(await waitFor(() => tn.datagrams().some((l) => l.endsWith('udp-allowed'))), 'allowed UDP arrived');
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(!tn.datagrams().some((l) => l.endsWith('udp-denied')), 'denied UDP arrived');
      const info = await api(s, 'GET', `/sandboxes/${sbx.sandboxId}`);
      assert.deepEqual(info.body.network.denyOut, ['0.0.0.0/0']);
      assert.deepEqual(info.body.network.allowOut, [`${tn.publicIp}/32`]);
      // A denied single address in an otherwise open sandbox.
      await sbx.updateNetwork({ denyOut: [tn.publicIp2] });
      assert.match(await py(sbx, tcp(tn.publicIp)), /^CONNECTED/);
      assert.match(await py(sbx, tcp(tn.publicIp2)), /^BLOCKED/);
    } finally {
      await sbx.kill();
    }
  });

  it(
    'host names: allowed names and wildcards resolve and ' + 'connect, others fail, also through another resolver',
    async () => {
      const sbx = await Sandbox.create('default', {
        ...s.conn,
        timeoutMs: 120_000,
        network: { denyOut: ['0.0.0.0/0'], allowOut: ['api.allowed.test', '*.wild.test'] },
      });
      try {
        assert.match(await py(sbx, tcp('api.allowed.test')), /^CONNECTED/);
        assert.match(await py(sbx, tcp('deep.sub.wild.test')), /^CONNECTED/);
        const blocked = await py(sbx, tcp('blocked.test'));
        assert.match(blocked, /^BLOCKED gaierror/, blocked);
        // The address behind the blocked name, by IP: still denied (resolution opened only the allowed name's address).
        assert.match(await py(sbx, tcp(tn.publicIp2)), /^BLOCKED/);
        // Asking a resolver of its own choice lands at ours: the blocked name gets NXDOMAIN, the allowed one answers.
        assert.match(await py(sbx, askResolver(tn.publicIp2, 'blocked.test')), /^RCODE 3 ANSWERS 0/);
        assert.match(await py(sbx, askResolver(tn.publicIp2, 'api.allowed.test')), /^RCODE 0 ANSWERS 1/);
      } finally {
        await sbx.kill();
      }
    },
  );

  it('an update cuts an open connection to a newly denied address', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      await sbx.files.write(
        '/tmp/hold.py',
        `import socket, time
s = socket.socket(); s.connect(('${tn.publicIp2}', ${ECHO_PORT})); s.settimeout(1)
n = 0
while True:
    try:
        s.sendall(b'ping'); s.recv(16); n += 1
    except Exception: pass
    open('/tmp/pings', 'w').write(str(n)); time.sleep(0.1)
`,
      );
      await sbx.commands.run('python3 /tmp/hold.py', { background: true });
      const pings = async () => Number((await sbx.commands.run('cat /tmp/pings 2>/dev/null || echo 0')).stdout.trim());
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok((await pings()) > 3, 'the connection works before the update');
      await sbx.updateNetwork({ denyOut: [`${tn.publicIp2}/32`] });
      await new Promise((r) => setTimeout(r, 1500)); // an in-flight ping may still finish
      const a = await pings();
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await pings(), a, 'pings still answered after the address was denied');
    } finally {
      await sbx.kill();
    }
  });

  it('rules survive pause/resume and carry over to forks', async () => {
    const sbx = await Sandbox.create('default', {
      ...s.conn,
      timeoutMs: 120_000,
      network: { denyOut: [tn.publicIp2] },
    });
    try {
      await sbx.pause();
      await sbx.resume(120_000);
      assert.match(await py(sbx, tcp(tn.publicIp2)), /^BLOCKED/, 'after resume');
      assert.match(await py(sbx, tcp(tn.publicIp)), /^CONNECTED/, 'after resume');
      const [fork] = await sbx.fork();
      try {
        assert.match(await py(fork, tcp(tn.publicIp2)), /^BLOCKED/, 'in the fork');
        assert.deepEqual((await api(s, 'GET', `/sandboxes/${fork.sandboxId}`)).body.network.denyOut, [tn.publicIp2]);
      } finally {
        await fork.kill();
      }
    } finally {
      await sbx.kill();
    }
  });

  it('invalid entries are 400 naming the entry, and nothing is half-applied', async () => {
    const bad = await api(s, 'POST', '/sandboxes', { templateID: 'default', network: { allowOut: ['10.0.0.0/33'] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /10\.0\.0\.0\/33/);
    const host = await api(s, 'POST', '/sandboxes', { templateID: 'default', network: { denyOut: ['evil.test'] } });
    assert.equal(host.status, 400);
    assert.match(host.body.message, /evil\.test/);
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000, network: { denyOut: [tn.publicIp2] } });
    try {
      const r = await api(s, 'PUT', `/sandboxes/${sbx.sandboxId}/network`, {
        allowOut: ['1.2.3.4', 'not a host!'],
        denyOut: [],
      });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /not a host!/);
      assert.match(await py(sbx, tcp(tn.publicIp2)), /^BLOCKED/, 'old rules still in force');
      assert.deepEqual((await api(s, 'GET', `/sandboxes/${sbx.sandboxId}`)).body.network.denyOut, [tn.publicIp2]);
      assert.equal((await api(s, 'PUT', '/sandboxes/nosuchsandbox0000000/network', { denyOut: [] })).status, 404);
    } finally {
      await sbx.kill();
    }
  });
});
