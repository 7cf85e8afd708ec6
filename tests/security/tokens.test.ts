/**
 * One sandbox's credentials never open another sandbox: its access token on the agent (by header routing and by host
 * name), its signed file URLs with the other's ID, its WebSocket tokens on the other's terminal and watch sockets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Sandbox } from 'tensor-box';
import { api, httpGet, startTestServer, type TestServer } from '../helpers/harness.js';

let s: TestServer;
let a: Sandbox;
let b: Sandbox;
let tokenA = '';

/** The close code (or the HTTP status of a refused upgrade) of a WebSocket attempt. */
function wsAttempt(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('error', (e) => resolve(`error ${e.message}`));
  });
}

before(async () => {
  s = await startTestServer();
  [a, b] = await Promise.all([
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 }),
    Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 }),
  ]);
  tokenA = (await api(s, 'GET', `/sandboxes/${a.sandboxId}`)).body.envdAccessToken;
  assert.ok(tokenA);
});
after(async () => {
  await a?.kill().catch(() => {});
  await b?.kill().catch(() => {});
  await s?.close();
});

describe("another sandbox's credentials", () => {
  it("A's access token is refused by B's agent, by header routing and by host name", async () => {
    const byHeader = await fetch(`${s.url}/files?path=/etc/hostname&username=user`, {
      headers: { 'E2b-Sandbox-Id': b.sandboxId, 'E2b-Sandbox-Port': '49983', 'X-Access-Token': tokenA },
    });
    assert.equal(byHeader.status, 401);
    const rpc = await fetch(`${s.url}/process.Process/List`, {
      method: 'POST',
      headers: {
        'E2b-Sandbox-Id': b.sandboxId,
        'E2b-Sandbox-Port': '49983',
        'X-Access-Token': tokenA,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.equal(rpc.status, 401);
    for (const host of [`${b.sandboxId}-49983.localhost`, `49983-${b.sandboxId}.localhost`]) {
      const r = await httpGet(`${s.url}/files?path=/etc/hostname&username=user`, host);
      assert.equal(r.status, 401, host);
    }
    // Control: A's token opens A.
    const own = await fetch(`${s.url}/files?path=/etc/hostname&username=user`, {
      headers: { 'E2b-Sandbox-Id': a.sandboxId, 'E2b-Sandbox-Port': '49983', 'X-Access-Token': tokenA },
    });
    assert.equal(own.status, 200);
  });

  it("A's signed file URL does not open B's files", async () => {
    await b.files.write('/home/user/secret.txt', 'B only');
    const url = await a.downloadUrl('/home/user/secret.txt', { user: 'user' });
    assert.match(url, /signature=/);
    const onB = url.replace(a.sandboxId, b.sandboxId);
    assert.notEqual(onB, url);
    const r = await fetch(onB);
    assert.equal(r.status, 401);
    assert.doesNotMatch(await r.text(), /B only/);
    const write = (await a.uploadUrl('/home/user/secret.txt', { user: 'user' })).replace(a.sandboxId, b.sandboxId);
    const w = await fetch(write, {
      method: 'POST',
      body: 'overwritten',
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(w.status, 401);
    assert.equal(await b.files.read('/home/user/secret.txt'), 'B only');
  });

  it(
    "A's WebSocket token opens neither B's terminal nor " + "B's watch socket; expired and forged tokens fail",
    async () => {
      const issued = await api(s, 'POST', `/sandboxes/${a.sandboxId}/ws-token`);
      assert.equal(issued.status, 201);
      const tok = encodeURIComponent(issued.body.token);
      const ws = s.url.replace(/^http/, 'ws');
      assert.equal(await wsAttempt(`${ws}/sandboxes/${a.sandboxId}/pty?token=${tok}`), 'open', 'control: A opens A');
      assert.equal(await wsAttempt(`${ws}/sandboxes/${b.sandboxId}/pty?token=${tok}`), 'http 401');
      assert.equal(await wsAttempt(`${ws}/sandboxes/${b.sandboxId}/files/watch?path=/tmp&token=${tok}`), 'http 401');
      const [, mac] = issued.body.token.split('.');
      const expired = encodeURIComponent(`${Math.floor(Date.now() / 1000) - 10}.${mac}`);
      assert.equal(await wsAttempt(`${ws}/sandboxes/${a.sandboxId}/pty?token=${expired}`), 'http 401');
      const later = encodeURIComponent(`${Math.floor(Date.now() / 1000) + 10_000}.${mac}`);
      assert.equal(
        await wsAttempt(`${ws}/sandboxes/${a.sandboxId}/pty?token=${later}`),
        'http 401',
        'expiry is signed',
      );
    },
  );

  it('every REST route of a sandbox refuses a wrong key', async () => {
    const bad = { url: s.url, apiKey: 'e2b_' + '0'.repeat(32) };
    for (const [m, p, body] of [
      ['GET', `/sandboxes/${a.sandboxId}`, undefined],
      ['DELETE', `/sandboxes/${a.sandboxId}`, undefined],
      ['POST', `/sandboxes/${a.sandboxId}/timeout`, { timeout: 5 }],
      ['POST', `/sandboxes/${a.sandboxId}/connect`, { timeout: 5 }],
      ['POST', `/sandboxes/${a.sandboxId}/pause`, undefined],
      ['POST', `/sandboxes/${a.sandboxId}/ws-token`, undefined],
      ['GET', `/sandboxes/${a.sandboxId}/metrics`, undefined],
      ['GET', `/v2/sandboxes/${a.sandboxId}/logs`, undefined],
    ] as const) {
      const r = await api(bad, m, p, body);
      assert.equal(r.status, 401, `${m} ${p}`);
    }
    assert.equal((await s.store.getSandbox(a.sandboxId))?.state, 'running');
  });
});
