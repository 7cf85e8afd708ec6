/**
 * Every row of the edge route table (packages/server/src/api/edge-routes.ts — file links, volume content, terminal
 * and watch WebSockets, /metrics), walked as declared, so a row added later is tried too: without credentials, with a
 * key that is no key and with a token that is no token, each answers 401 — except `key-token-or-agent` without any
 * credential, which goes on to the sandbox (here a missing one: never a 2xx). A `{sandboxID}` that is not an ID's
 * shape matches no edge row. The routes' cross-team behaviour is tests/teams-isolation.test.ts's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { EDGE_ROUTES } from '../../packages/server/src/api/edge-routes.js';
import type { EdgeRow } from '../../packages/server/src/http/edge-route.js';
import { api, startTestServer, type TestServer } from '../helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

const BOGUS_KEY = `e2b_${'0'.repeat(32)}`;
const PARAMS: Record<string, string> = { sandboxID: 'inosuchsandbox0000000', volumeID: 'vol-nosuchvolume' };

/** The row's path with its parameters filled in, and `query` appended. */
const pathOf = (row: EdgeRow, query = '') => row.path.replace(/\{(\w+)\}/g, (_, n) => PARAMS[n]) + query;

/** The HTTP status of a request to a row: a plain request, or the refused upgrade of a WebSocket. */
function statusOf(row: EdgeRow, headers: Record<string, string>, query = ''): Promise<number> {
  const url = `${s.url}${pathOf(row, query)}`;
  if (row.kind === 'http') {
    const method = row.method === '*' ? 'GET' : row.method;
    return fetch(url, { method, headers }).then(async (r) => (await r.arrayBuffer(), r.status));
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error(`${row.path}: the WebSocket opened`));
    });
    ws.on('error', () => {});
  });
}

describe('edge routes as declared', () => {
  const rows = Object.entries(EDGE_ROUTES) as Array<[string, EdgeRow]>;

  it('the table declares who may call each row', () => {
    assert.ok(rows.length >= 6);
    for (const [name, row] of rows) assert.ok(row.auth, `${name} declares no auth`);
  });

  for (const [name, row] of rows) {
    it(`${name} (${row.kind} ${row.path}, ${row.auth}) refuses the unauthenticated and bogus credentials`, async () => {
      const none = await statusOf(row, {});
      if (row.auth === 'key-token-or-agent') assert.ok(none >= 400, `${name} without credentials: ${none}`);
      else assert.equal(none, 401, `${name} without credentials`);
      assert.equal(await statusOf(row, { 'X-API-Key': BOGUS_KEY }), 401, `${name} with a bogus key`);
      if (row.auth !== 'signed-url' && row.auth !== 'volume-token') {
        assert.equal(await statusOf(row, {}, '?token=1.bogus'), 401, `${name} with a bogus token`);
      }
      if (row.auth === 'volume-token') {
        assert.equal(await statusOf(row, { Authorization: 'Bearer 1.bogus' }), 401, `${name} with a bogus token`);
      }
    });
  }

  it('a {sandboxID} that is not an ID does not reach an edge row', async () => {
    const r = await fetch(`${s.url}/sandboxes/NOT_AN_ID/files`, { headers: { 'X-API-Key': s.apiKey } });
    assert.equal(r.status, 404);
  });

  it('a team key is refused by the admin-only rows (403)', async () => {
    const team = await api(s, 'POST', '/teams', { name: 'edge-routes' });
    const created = await api(s, 'POST', `/teams/${team.body.teamID}/api-keys`, { name: 'k' });
    const key = created.body.key as string;
    assert.ok(key, `no key in ${JSON.stringify(created.body)}`);
    for (const [name, row] of rows.filter(([, r]) => r.auth === 'admin')) {
      assert.equal(await statusOf(row, { 'X-API-Key': key }), 403, name);
    }
  });
});
