/**
 * Two teams on one server: team B's key must not reach team A's sandbox, snapshot or template on any surface, and gets
 * exactly what a missing one gets (404 on the API, the ingress's "not found" on sandbox traffic) — one assertion per
 * surface. Also: lists are per team, the admin key sees all, lifecycle events name the key that acted, a revoked key
 * fails on its next request and its open terminal closes, the stock e2b SDK works with a team key, and the database
 * holds no key in plain text.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Sandbox as E2bSandbox, NotFoundError } from 'e2b';
import { api, httpGet, startTestServer, type TestServer } from './helpers/harness.js';
import { as, makeTeam, type TeamKey } from './helpers/teams.js';

let s: TestServer;
let A: TeamKey;
let B: TeamKey;
let a: ReturnType<typeof as>;
let b: ReturnType<typeof as>;
let sbxA: string;
const MISSING = 'zzzzzzzzzzzzzzzzzzzz';

before(async () => {
  s = await startTestServer();
  A = await makeTeam(s, 'team-a');
  B = await makeTeam(s, 'team-b');
  a = as(s.url, A.key);
  b = as(s.url, B.key);
  const r = await a('POST', '/sandboxes', { templateID: 'default', timeout: 600, metadata: { owner: 'a' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  sbxA = r.body.sandboxID;
});
after(async () => {
  await s?.close();
});

/** B's answer for A's sandbox must be B's answer for a sandbox that does not exist. */
async function sameAsMissing(method: string, p: (id: string) => string, body?: unknown) {
  const theirs = await b(method, p(sbxA), body);
  const missing = await b(method, p(MISSING), body);
  assert.equal(theirs.status, 404, `${method} ${p(sbxA)}: ${theirs.status} ${JSON.stringify(theirs.body)}`);
  assert.equal(missing.status, 404);
  assert.equal(theirs.body.message.replace(sbxA, 'ID'), missing.body.message.replace(MISSING, 'ID'));
}

/** A WebSocket upgrade's outcome: 'open' or the refusal's status. */
function upgrade(url: string, headers: Record<string, string>): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
}

/** A Connect call to the sandbox's agent through the ingress (header routing), with the agent's access token. */
async function envdCall(sandboxId: string, key: string, accessToken = '') {
  const res = await fetch(`${s.url}/process.Process/List`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'E2b-Sandbox-Id': sandboxId,
      'E2b-Sandbox-Port': '49983',
      'X-API-Key': key,
      'X-Access-Token': accessToken,
    },
    body: '{}',
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

describe('two teams: another team’s sandbox is invisible on every surface', () => {
  it('REST get', () => sameAsMissing('GET', (id) => `/sandboxes/${id}`));
  it('REST list (v2 and v1) shows only the caller’s team; the admin sees all', async () => {
    const mine = await b('POST', '/sandboxes', { templateID: 'default', timeout: 120 });
    assert.equal(mine.status, 201);
    const v2 = (await b('GET', '/v2/sandboxes')).body.map((x: any) => x.sandboxID);
    const v1 = (await b('GET', '/sandboxes')).body.map((x: any) => x.sandboxID);
    assert.deepEqual(v2, [mine.body.sandboxID]);
    assert.deepEqual(v1, [mine.body.sandboxID]);
    assert.deepEqual(
      (await a('GET', '/v2/sandboxes')).body.map((x: any) => x.sandboxID),
      [sbxA],
    );
    const all = (await api(s, 'GET', '/v2/sandboxes')).body.map((x: any) => x.sandboxID);
    assert.ok(all.includes(sbxA) && all.includes(mine.body.sandboxID));
    // The admin acting as team B (X-Team-ID) sees B's only.
    const asB = (await api(s, 'GET', '/v2/sandboxes', undefined, { 'X-Team-ID': B.teamID })).body.map(
      (x: any) => x.sandboxID,
    );
    assert.deepEqual(asB, [mine.body.sandboxID]);
    assert.equal((await b('DELETE', `/sandboxes/${mine.body.sandboxID}`)).status, 204);
  });
  it('REST kill', () => sameAsMissing('DELETE', (id) => `/sandboxes/${id}`));
  it('REST timeout', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/timeout`, { timeout: 1 }));
  it('REST refresh', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/refreshes`, { duration: 1 }));
  it('REST connect', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/connect`, { timeout: 10 }));
  it('REST resume', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/resume`, {}));
  it('REST pause', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/pause`));
  it('REST snapshot', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/snapshots`, {}));
  it('REST fork', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/fork`, {}));
  it('REST commit', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/commit`, { name: 'stolen' }));
  it('REST network rules', () => sameAsMissing('PUT', (id) => `/sandboxes/${id}/network`, { allowOut: ['1.1.1.1'] }));
  it('REST metrics', () => sameAsMissing('GET', (id) => `/sandboxes/${id}/metrics`));
  it('REST batch metrics leave the other team’s sandbox out', async () => {
    const r = await b('GET', `/sandboxes/metrics?sandbox_ids=${sbxA}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.sandboxes, {});
  });
  it('REST logs', () => sameAsMissing('GET', (id) => `/v2/sandboxes/${id}/logs`));
  it('REST ws-token', () => sameAsMissing('POST', (id) => `/sandboxes/${id}/ws-token`));

  it('envd through the proxy (header routing) with the other team’s key answers as for a missing sandbox', async () => {
    // Even with A's access token (leaked, say), B's key is refused as if the sandbox did not exist.
    const token = (await a('GET', `/sandboxes/${sbxA}`)).body.envdAccessToken ?? '';
    const theirs = await envdCall(sbxA, B.key, token);
    const missing = await envdCall(MISSING, B.key, token);
    assert.equal(theirs.status, missing.status);
    assert.equal(theirs.body?.error_code, 'not_found');
    assert.equal((await envdCall(sbxA, A.key, token)).status, 200);
  });

  it('ingress by host name with the other team’s key answers as for a missing sandbox', async () => {
    const host = (id: string) => `${id}-49983.localhost`;
    const get = (id: string, key: string) =>
      fetch(`${s.url}/health`, { headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '49983', 'X-API-Key': key } });
    assert.equal((await get(sbxA, B.key)).status, (await get(MISSING, B.key)).status);
    assert.equal((await get(sbxA, A.key)).status, 204);
    const bearer = await fetch(`${s.url}/health`, {
      headers: { 'E2b-Sandbox-Id': sbxA, 'E2b-Sandbox-Port': '49983', Authorization: 'Bearer the-app-s-own-token' },
    });
    assert.equal(bearer.status, 204, 'an Authorization header on sandbox traffic is the app’s, not an API key');
    const viaHost = await httpGet(`${s.url}/health`, host(sbxA));
    assert.ok(viaHost.status === 204 || viaHost.status === 200, `no key: the traffic rules decide (${viaHost.status})`);
  });

  it('terminal WebSocket', async () => {
    const url = `${s.url.replace('http', 'ws')}/sandboxes/${sbxA}/pty`;
    assert.equal(await upgrade(url, { 'X-API-Key': B.key }), 404);
    assert.equal(await upgrade(url, { 'X-API-Key': A.key }), 'open');
  });

  it('watch WebSocket', async () => {
    const url = `${s.url.replace('http', 'ws')}/sandboxes/${sbxA}/files/watch?path=/home/user`;
    assert.equal(await upgrade(url, { 'X-API-Key': B.key }), 404);
  });

  it('signed file URLs: a token is bound to its sandbox and key; the other team’s key cannot read', async () => {
    await a('POST', '/sandboxes/' + sbxA + '/timeout', { timeout: 600 });
    const tok = (await a('POST', `/sandboxes/${sbxA}/ws-token`)).body.token;
    const url = (token: string) =>
      `${s.url}/sandboxes/${sbxA}/files?path=/etc/hostname&token=${encodeURIComponent(token)}`;
    assert.equal((await fetch(url(tok))).status, 200);
    const mine = await b('POST', '/sandboxes', { templateID: 'default', timeout: 60 });
    try {
      const other = (await b('POST', `/sandboxes/${mine.body.sandboxID}/ws-token`)).body.token;
      assert.equal((await fetch(url(other))).status, 401, "B's token for its own sandbox does not open A's");
    } finally {
      await b('DELETE', `/sandboxes/${mine.body.sandboxID}`);
    }
    const byKey = (id: string) =>
      fetch(`${s.url}/sandboxes/${id}/files?path=/etc/hostname`, { headers: { 'X-API-Key': B.key } });
    const theirs = await byKey(sbxA);
    assert.equal(theirs.status, 404);
    assert.equal(
      (await theirs.json()).message.replace(sbxA, 'ID'),
      (await (await byKey(MISSING)).json()).message.replace(MISSING, 'ID'),
    );
  });

  it('snapshots: list, delete and start-from are the owner’s only', async () => {
    const snap = await a('POST', `/sandboxes/${sbxA}/snapshots`, { name: 'a-snap' });
    assert.equal(snap.status, 201, JSON.stringify(snap.body));
    const id = snap.body.snapshotID;
    assert.deepEqual((await b('GET', '/snapshots')).body, []);
    assert.deepEqual(
      (await a('GET', '/snapshots')).body.map((x: any) => x.snapshotID),
      [id],
    );
    assert.equal((await b('DELETE', `/snapshots/${id}`)).status, 404);
    assert.equal((await b('DELETE', `/templates/${id}`)).status, 404);
    assert.equal((await b('POST', '/sandboxes', { templateID: id })).status, 404);
    assert.equal((await a('DELETE', `/snapshots/${id}`)).status, 204);
  });

  it('templates and their builds are the owner’s unless public; public ones can be used, not changed', async () => {
    const c = await a('POST', `/sandboxes/${sbxA}/commit`, { name: 'team-a-tpl' });
    assert.equal(c.status, 202, JSON.stringify(c.body));
    const { templateID, buildID } = c.body;
    for (let i = 0; i < 300; i++) {
      const st = await a('GET', `/templates/${templateID}/builds/${buildID}/status`);
      if (st.body.status === 'ready' || st.body.status === 'error') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await b('GET', `/templates/${templateID}`)).status, 404, 'get');
    assert.equal((await b('GET', '/templates/aliases/team-a-tpl')).status, 404, 'alias');
    assert.equal((await b('GET', `/templates/${templateID}/builds/${buildID}/status`)).status, 404, 'build status');
    assert.equal((await b('GET', `/templates/${templateID}/builds/${buildID}/logs`)).status, 404, 'build logs');
    assert.equal((await b('GET', `/templates/${templateID}/tags`)).status, 404, 'tags');
    assert.equal(
      (await b('POST', '/templates/tags', { target: 'team-a-tpl', tags: ['b'] })).status,
      404,
      'assign tags',
    );
    assert.equal(
      (await b('DELETE', '/templates/tags', { name: 'team-a-tpl', tags: ['b'] })).status,
      404,
      'remove tags',
    );
    assert.equal(
      (await b('POST', '/sandboxes', { templateID: 'team-a-tpl:default' })).status,
      404,
      'start by name:tag',
    );
    assert.equal((await a('GET', `/templates/${templateID}/tags`)).status, 200, 'the owner reads its tags');
    assert.ok(!(await b('GET', '/templates')).body.some((t: any) => t.templateID === templateID), 'list');
    assert.ok(
      (await b('GET', '/templates')).body.some((t: any) => t.templateID === 'default'),
      'built-in is public',
    );
    assert.equal((await b('POST', '/sandboxes', { templateID: 'team-a-tpl' })).status, 404, 'start from it');
    assert.equal(
      (await b('POST', '/v3/templates', { name: 'team-a-tpl' })).status,
      409,
      'name is taken, template unreachable',
    );
    assert.equal((await b('PATCH', `/templates/${templateID}`, { public: true })).status, 404, 'make it public');
    assert.equal((await a('PATCH', `/templates/${templateID}`, { public: true })).status, 200);
    const used = await b('POST', '/sandboxes', { templateID: 'team-a-tpl', timeout: 30 });
    assert.equal(used.status, 201, 'public: B may start from it');
    await b('DELETE', `/sandboxes/${used.body.sandboxID}`);
    assert.equal((await b('GET', `/templates/${templateID}`)).status, 200, 'public: B may read it');
    assert.equal((await b('DELETE', `/templates/${templateID}`)).status, 404, 'public: B may not delete it');
    const tagged = await b('POST', '/templates/tags', { target: 'team-a-tpl', tags: ['b'] });
    assert.equal(tagged.status, 404, 'public: B may not tag it');
    assert.equal(
      (await b('GET', `/templates/${templateID}/builds/${buildID}/logs`)).status,
      404,
      'public: builds stay private',
    );
    assert.equal((await a('DELETE', `/templates/${templateID}`)).status, 204);
  });

  it('Prometheus /metrics is the admin’s only', async () => {
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { 'X-API-Key': B.key } })).status, 403);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { 'X-API-Key': s.apiKey } })).status, 200);
  });

  it('teams and keys: a team key sees its own team only and cannot manage teams', async () => {
    assert.equal((await b('GET', `/teams/${A.teamID}`)).status, 404);
    assert.equal((await b('GET', `/teams/${A.teamID}/api-keys`)).status, 404);
    assert.equal((await b('DELETE', `/teams/${A.teamID}/api-keys/${A.keyId}`)).status, 404);
    assert.equal((await b('DELETE', `/api-keys/${A.keyId}`)).status, 404);
    assert.equal(
      (await b('POST', `/teams/${A.teamID}/api-keys`, { name: 'mine-now' })).status,
      404,
      'no key for another team',
    );
    assert.equal(
      (await b('PATCH', `/teams/${B.teamID}`, { quotas: { maxRunningSandboxes: 1000 } })).status,
      403,
      'own quotas',
    );
    const spoof = await b('GET', '/v2/sandboxes', undefined, { 'X-Team-ID': A.teamID });
    assert.ok(!spoof.body.some((x: any) => x.sandboxID === sbxA), 'X-Team-ID is ignored for team keys');
    assert.equal((await api(s, 'PATCH', `/teams/${B.teamID}`, { quotas: { maxVcpus: -1 } })).status, 400);
    assert.equal((await api(s, 'PATCH', `/teams/${B.teamID}`, { quotas: { maxWhatever: 1 } })).status, 400);
    assert.equal((await api(s, 'POST', '/teams', { name: '' })).status, 400);
    assert.equal((await api(s, 'POST', '/teams', { name: 'bad\u0000name' })).status, 400);
    assert.equal((await b('POST', '/teams', { name: 'x' })).status, 403);
    assert.equal((await b('GET', '/teams')).status, 403);
    const own = await b('GET', `/teams/${B.teamID}`);
    assert.equal(own.status, 200);
    assert.equal(own.body.usage.runningSandboxes, 0);
    const keys = (await b('GET', '/api-keys')).body;
    assert.deepEqual(
      keys.map((k: any) => k.id),
      [B.keyId],
    );
    assert.match(keys[0].mask, /^e2b_…[0-9a-f]{4}$/);
    assert.equal(keys[0].key, undefined, 'a key is shown once');
  });

  it('lifecycle events name the key that acted', async () => {
    await a('POST', `/sandboxes/${sbxA}/timeout`, { timeout: 600 });
    const logs = (await a('GET', `/v2/sandboxes/${sbxA}/logs`)).body.logs;
    const created = logs.find((l: any) => /sandbox created/.test(l.message));
    assert.equal(created.fields.keyId, A.keyId);
    assert.equal(created.fields.teamId, A.teamID);
    assert.ok(logs.some((l: any) => /timeout set/.test(l.message) && l.fields.keyId === A.keyId));
  });
});

describe('revocation', () => {
  it('a revoked key fails on its next request, its terminal closes and its tokens stop working', async () => {
    const k2 = await a('POST', '/api-keys', { name: 'short-lived' });
    assert.equal(k2.status, 201);
    const a2 = as(s.url, k2.body.key);
    assert.equal((await a2('GET', `/sandboxes/${sbxA}`)).status, 200);
    const token = (await a2('POST', `/sandboxes/${sbxA}/ws-token`)).body.token;
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/sandboxes/${sbxA}/pty`, {
      headers: { 'X-API-Key': k2.body.key },
    });
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const t0 = Date.now();
    assert.equal((await a('DELETE', `/api-keys/${k2.body.id}`)).status, 204);
    assert.equal(await closed, 1008);
    assert.ok(Date.now() - t0 < 1500, 'closed at once');
    assert.equal((await a2('GET', `/sandboxes/${sbxA}`)).status, 401);
    assert.equal(
      (await fetch(`${s.url}/sandboxes/${sbxA}/files?path=/etc/hostname&token=${encodeURIComponent(token)}`)).status,
      401,
    );
    const wsByToken = await upgrade(
      `${s.url.replace('http', 'ws')}/sandboxes/${sbxA}/pty?token=${encodeURIComponent(token)}`,
      {},
    );
    assert.equal(wsByToken, 401);
    assert.equal((await a('GET', `/sandboxes/${sbxA}`)).status, 200, 'the team’s other key still works');
  });
});

describe('the stock e2b SDK with a team key', () => {
  it('creates, runs and lists within its team; another team’s key cannot connect', async () => {
    process.env.E2B_API_URL = s.url;
    process.env.E2B_SANDBOX_URL = s.url;
    const sbx = await E2bSandbox.create({ apiKey: B.key, timeoutMs: 60_000 });
    try {
      assert.equal((await sbx.commands.run('echo team-b')).stdout, 'team-b\n');
      const listed = await E2bSandbox.list({ apiKey: B.key }).nextItems();
      assert.deepEqual(
        listed.map((x) => x.sandboxId),
        [sbx.sandboxId],
      );
      await assert.rejects(E2bSandbox.connect(sbx.sandboxId, { apiKey: A.key }), NotFoundError);
      assert.equal(await E2bSandbox.kill(sbx.sandboxId, { apiKey: A.key }), false, 'A cannot kill it');
    } finally {
      await sbx.kill();
    }
  });
});

describe('keys at rest', () => {
  it('the database holds no API key in plain text, only hashes', async () => {
    const db = path.join(s.dataDir, 'tensor-box.db');
    const bytes = Buffer.concat([db, `${db}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    for (const key of [A.key, B.key, s.apiKey]) {
      assert.equal(bytes.includes(Buffer.from(key)), false, `plain key ${key.slice(0, 8)}… found in the database`);
      assert.equal(bytes.includes(Buffer.from(key.slice(4))), false, 'nor its hex part');
    }
  });
});
