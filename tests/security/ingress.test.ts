/**
 * Attacks on the ingress, the one door from the network into sandboxes: request smuggling behind an upgrade request,
 * bad ports, the agent without its token, user ports of a sandbox that does not allow public traffic, host masking,
 * `/metrics` without a key. Raw sockets where a client library would refuse to send the attack.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from '../helpers/harness.js';

let s: TestServer;
let open: Sandbox; // created insecure on purpose (secure: false): the smuggling target had no token
let closed: Sandbox; // allowPublicTraffic: false, maskRequestHost

/** Sends raw bytes to the server and collects everything it answers until it closes (or 3 s pass). */
function rawExchange(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const c = net.connect({ host: hostname, port: Number(port) });
    let got = '';
    c.setEncoding('utf8').on('data', (d) => (got += d));
    c.on('connect', () => c.write(data));
    const done = () => resolve(got);
    c.on('close', done);
    c.on('error', done);
    setTimeout(() => (c.destroy(), done()), 3000);
  });
}

const ECHO_HOST_SERVER = `
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('host=%s token=%s' % (self.headers.get('Host'), self.headers.get('e2b-traffic-access-token'))).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); \
self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('0.0.0.0', 8000), H).serve_forever()
`;

async function startEcho(sbx: Sandbox) {
  await sbx.files.write('/tmp/echo.py', ECHO_HOST_SERVER);
  await sbx.commands.run('python3 /tmp/echo.py', { background: true });
  for (let i = 0; i < 50; i++) {
    const r = await sbx.commands
      .run('python3 -c "import urllib.request as u; u.urlopen(\'http://127.0.0.1:8000/\')"')
      .catch(() => null);
    if (r?.exitCode === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('echo server did not start');
}

before(async () => {
  s = await startTestServer();
  [open, closed] = await Promise.all([
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000, secure: false }),
    Sandbox.create('default', {
      ...s.conn,
      timeoutMs: 300_000,
      network: { allowPublicTraffic: false, maskRequestHost: 'app.example.com:${PORT}' },
    }),
  ]);
  await Promise.all([startEcho(open), startEcho(closed)]);
});

after(async () => {
  await open?.kill().catch(() => {});
  await closed?.kill().catch(() => {});
  await s?.close();
});

describe('ingress', () => {
  it('smuggling: bytes after an upgrade request that was not upgraded never reach the agent', async () => {
    const init = JSON.stringify({ envVars: { PWNED: 'yes' }, accessToken: 'attacker-token' });
    const attack =
      `GET /health HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${open.sandboxId}\r\nE2b-Sandbox-Port: 49983\r\n` +
      `Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n` +
      `POST /init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ` +
      `${Buffer.byteLength(init)}\r\n\r\n${init}`;
    const answer = await rawExchange(s.url, attack);
    assert.match(answer, /^HTTP\/1\.1 204/, answer);
    assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1, `one answer only, got: ${answer}`);
    // The agent was not re-initialised: no injected variable, no token taken over (still no token needed).
    const env = await open.commands.run('echo "[$PWNED]"');
    assert.equal(env.stdout.trim(), '[]');
    // The same bytes sent with a plain (pipelined) request are checked one by one: /init is refused.
    const pipelined = await rawExchange(
      s.url,
      `GET /health HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${open.sandboxId}\r\nE2b-Sandbox-Port: 49983\r\n\r\n` +
        `POST /init HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${open.sandboxId}\r\nE2b-Sandbox-Port: 49983\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(init)}\r\nConnection: ` +
        `close\r\n\r\n${init}`,
    );
    assert.match(pipelined, /HTTP\/1\.1 403/, pipelined);
    assert.equal((await open.commands.run('echo "[$PWNED]"')).stdout.trim(), '[]');
  });

  it('a WebSocket-style upgrade to an internal agent route is refused before it is forwarded', async () => {
    const answer = await rawExchange(
      s.url,
      `POST /init HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${open.sandboxId}\r\nE2b-Sandbox-Port: ` +
        `49983\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 403/, answer);
  });

  it('ports outside 1-65535 are 400 with an E2B error body, by header and by host name', async () => {
    for (const port of ['99999', '0', '-1', 'abc']) {
      const r = await fetch(`${s.url}/`, { headers: { 'E2b-Sandbox-Id': open.sandboxId, 'E2b-Sandbox-Port': port } });
      assert.equal(r.status, 400, `port ${port}`);
      const body = await r.json();
      assert.equal(body.code, 400);
      assert.match(body.message, /port/);
    }
    const byHost = await rawExchange(
      s.url,
      `GET / HTTP/1.1\r\nHost: ${open.sandboxId}-99999.localhost\r\nConnection: close\r\n\r\n`,
    );
    assert.match(byHost, /^HTTP\/1\.1 400/, byHost);
    const upgrade = await rawExchange(
      s.url,
      `GET / HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${open.sandboxId}\r\nE2b-Sandbox-Port: 0\r\nConnection: ` +
        `Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    assert.match(upgrade, /^HTTP\/1\.1 400/, upgrade);
  });

  it('secure is the default: the agent refuses calls without the access token', async () => {
    const created = await api(s, 'POST', '/sandboxes', { templateID: 'default', timeout: 60 });
    assert.equal(created.status, 201);
    assert.ok(created.body.envdAccessToken, 'a token is issued without asking');
    try {
      const headers = { 'E2b-Sandbox-Id': created.body.sandboxID, 'E2b-Sandbox-Port': '49983' };
      const noToken = await fetch(`${s.url}/files?path=/etc/hostname`, { headers });
      assert.equal(noToken.status, 401);
      const wrong = await fetch(`${s.url}/files?path=/etc/hostname`, {
        headers: { ...headers, 'X-Access-Token': 'x'.repeat(64) },
      });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${s.url}/files?path=/etc/hostname&username=user`, {
        headers: { ...headers, 'X-Access-Token': created.body.envdAccessToken },
      });
      assert.equal(right.status, 200);
    } finally {
      await api(s, 'DELETE', `/sandboxes/${created.body.sandboxID}`);
    }
  });

  it(
    'allowPublicTraffic=false: user ports need the traffic ' + 'token; maskRequestHost sets the Host the sandbox sees',
    async () => {
      assert.ok(closed.trafficAccessToken, 'create returns a traffic access token');
      const detail = await api(s, 'GET', `/sandboxes/${closed.sandboxId}`);
      assert.equal(detail.body.network.allowPublicTraffic, false);
      assert.equal(detail.body.trafficAccessToken, closed.trafficAccessToken);
      const headers = { 'E2b-Sandbox-Id': closed.sandboxId, 'E2b-Sandbox-Port': '8000' };
      const none = await fetch(`${s.url}/`, { headers });
      assert.equal(none.status, 403);
      assert.match((await none.json()).message, /e2b-traffic-access-token/);
      const wrong = await fetch(`${s.url}/`, {
        headers: { ...headers, 'e2b-traffic-access-token': closed.trafficAccessToken!.replace(/.$/, 'x') },
      });
      assert.equal(wrong.status, 403);
      const other = await fetch(`${s.url}/`, { headers: { ...headers, 'e2b-traffic-access-token': 'z' } });
      assert.equal(other.status, 403);
      const ok = await fetch(`${s.url}/`, {
        headers: { ...headers, 'e2b-traffic-access-token': closed.trafficAccessToken! },
      });
      assert.equal(ok.status, 200);
      // The token does not travel on into the sandbox; the Host is the mask with the port filled in.
      assert.equal(await ok.text(), 'host=app.example.com:8000 token=None');
      // A WebSocket-style upgrade to the user port is held to the same rule.
      const up = await rawExchange(
        s.url,
        `GET / HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: ${closed.sandboxId}\r\nE2b-Sandbox-Port: 8000\r\nConnection: ` +
          `Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      );
      assert.match(up, /^HTTP\/1\.1 403/, up);
      // A public sandbox's port answers without any token.
      const pub = await fetch(`${s.url}/`, {
        headers: { 'E2b-Sandbox-Id': open.sandboxId, 'E2b-Sandbox-Port': '8000' },
      });
      assert.equal(pub.status, 200);
    },
  );

  it('network settings that could split headers are refused with 400 and nothing is created', async () => {
    const before = (await s.store.listSandboxes()).length;
    for (const mask of ['a\r\nX-Evil: 1', 'has space', 'x'.repeat(300)]) {
      const r = await api(s, 'POST', '/sandboxes', { templateID: 'default', network: { maskRequestHost: mask } });
      assert.equal(r.status, 400, JSON.stringify(mask));
    }
    const bad = await api(s, 'POST', '/sandboxes', { templateID: 'default', network: { allowPublicTraffic: 'no' } });
    assert.equal(bad.status, 400);
    assert.equal((await s.store.listSandboxes()).length, before);
  });

  it('/metrics needs the API key', async () => {
    assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
    const r = await fetch(`${s.url}/metrics`, { headers: { 'X-API-Key': s.apiKey } });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /tensor_box_sandboxes/);
  });
});
