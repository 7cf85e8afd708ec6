/** REST API against a real server: shapes, auth, validation errors, pagination, filters, timeouts, restart. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

describe('REST API', () => {
  it('answers /health without a key', async () => {
    const r = await fetch(`${s.url}/health`);
    assert.equal(r.status, 204);
  });

  it('refuses a missing or wrong API key with 401 and an E2B error body', async () => {
    const missing = await api({ url: s.url, apiKey: '' }, 'GET', '/v2/sandboxes', undefined, { 'X-API-Key': '' });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 401);
    assert.match(missing.body.message, /API key/);
    const wrong = await api({ url: s.url, apiKey: 'e2b_' + '0'.repeat(32) }, 'GET', '/v2/sandboxes');
    assert.equal(wrong.status, 401);
  });

  it('rejects malformed JSON and out-of-range values with 400 naming the field', async () => {
    const bad = await api(s, 'POST', '/sandboxes', '{"templateID": ');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /JSON/);
    const range = await api(s, 'POST', '/sandboxes', { templateID: 'default', timeout: -5 });
    assert.equal(range.status, 400);
    assert.match(range.body.message, /timeout/);
    const missing = await api(s, 'POST', '/sandboxes', {});
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /templateID/);
    const badLimit = await api(s, 'GET', '/v2/sandboxes?limit=1000');
    assert.equal(badLimit.status, 400);
    assert.match(badLimit.body.message, /limit/);
    const badEnv = await api(s, 'POST', '/sandboxes', { templateID: 'default', envVars: { 'A B': 'x' } });
    assert.equal(badEnv.status, 400);
    assert.equal((await s.store.listSandboxes()).length, 0, 'nothing half-created');
  });

  it('answers unknown templates and sandboxes with 404', async () => {
    const t = await api(s, 'POST', '/sandboxes', { templateID: 'no-such-template' });
    assert.equal(t.status, 404);
    assert.match(t.body.message, /no-such-template/);
    for (const [m, p, b] of [
      ['GET', '/sandboxes/nosuchsandbox0000000', undefined],
      ['DELETE', '/sandboxes/nosuchsandbox0000000', undefined],
      ['POST', '/sandboxes/nosuchsandbox0000000/timeout', { timeout: 10 }],
      ['POST', '/sandboxes/nosuchsandbox0000000/connect', { timeout: 10 }],
    ] as const) {
      const r = await api(s, m, p, b);
      assert.equal(r.status, 404, `${m} ${p}`);
      assert.equal(r.body.code, 404);
    }
    assert.equal((await s.store.listSandboxes()).length, 0);
  });

  it('creates, gets, lists with filters and pages, and kills sandboxes', async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(s, 'POST', '/sandboxes', {
        templateID: 'base',
        timeout: 120,
        metadata: { n: String(i), suite: 'api' },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.match(r.body.sandboxID, /^[a-z][a-z0-9]{19}$/);
      assert.equal(r.body.templateID, 'default');
      assert.ok(r.body.envdVersion);
      created.push(r.body.sandboxID);
    }
    const one = await api(s, 'GET', `/sandboxes/${created[0]}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.state, 'running');
    assert.deepEqual(one.body.metadata, { n: '0', suite: 'api' });
    assert.equal(one.body.cpuCount, 2);
    assert.equal(one.body.memoryMB, 2048);
    const endIn = Date.parse(one.body.endAt) - Date.now();
    assert.ok(endIn > 100_000 && endIn <= 120_000, `endAt ~120 s away, got ${endIn}`);

    const filtered = await api(s, 'GET', `/v2/sandboxes?metadata=${encodeURIComponent('n=1&suite=api')}`);
    assert.deepEqual(
      filtered.body.map((x: any) => x.sandboxID),
      [created[1]],
    );

    const seen: string[] = [];
    let token: string | null = null;
    do {
      const r = await api(s, 'GET', `/v2/sandboxes?limit=2&state=running${token ? `&nextToken=${token}` : ''}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.length <= 2);
      seen.push(...r.body.map((x: any) => x.sandboxID));
      token = r.headers.get('x-next-token');
    } while (token);
    assert.deepEqual([...seen].sort(), [...created].sort());
    const badToken = await api(s, 'GET', '/v2/sandboxes?nextToken=garbage');
    assert.equal(badToken.status, 400);

    for (const id of created) assert.equal((await api(s, 'DELETE', `/sandboxes/${id}`)).status, 204);
    assert.equal((await api(s, 'GET', `/sandboxes/${created[0]}`)).status, 404);
    assert.equal((await api(s, 'GET', '/v2/sandboxes')).body.length, 0);
  });

  it('kills a sandbox when its timeout passes; setTimeout may shorten, refreshes only extend', async () => {
    const r = await api(s, 'POST', '/sandboxes', { templateID: 'default', timeout: 300 });
    const id = r.body.sandboxID;
    await api(s, 'POST', `/sandboxes/${id}/refreshes`, { duration: 10 });
    const still = await api(s, 'GET', `/sandboxes/${id}`);
    assert.ok(Date.parse(still.body.endAt) - Date.now() > 250_000, 'refresh did not shorten');
    assert.equal((await api(s, 'POST', `/sandboxes/${id}/timeout`, { timeout: 1 })).status, 204);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await api(s, 'GET', `/sandboxes/${id}`)).status === 200)
      await new Promise((r) => setTimeout(r, 200));
    assert.equal((await api(s, 'GET', `/sandboxes/${id}`)).status, 404, 'killed after its timeout');
  });

  it('connect extends the timeout and answers 200 for a running sandbox', async () => {
    const r = await api(s, 'POST', '/sandboxes', { templateID: 'default', timeout: 30 });
    const c = await api(s, 'POST', `/sandboxes/${r.body.sandboxID}/connect`, { timeout: 200 });
    assert.equal(c.status, 200);
    assert.equal(c.body.sandboxID, r.body.sandboxID);
    const d = await api(s, 'GET', `/sandboxes/${r.body.sandboxID}`);
    assert.ok(Date.parse(d.body.endAt) - Date.now() > 150_000);
    await api(s, 'DELETE', `/sandboxes/${r.body.sandboxID}`);
  });

  it('lists the default template', async () => {
    const r = await api(s, 'GET', '/templates');
    assert.equal(r.status, 200);
    const d = r.body.find((t: any) => t.templateID === 'default');
    assert.ok(d);
    assert.deepEqual(d.aliases, ['default', 'base']);
    assert.equal(d.buildStatus, 'ready');
  });
});
