/**
 * Team quotas with real sandboxes: running sandboxes, vCPUs, memory, paused/snapshot disk and templates answer 429
 * naming the quota and its value, with nothing half-made; resume counts as a start; two creates racing for the last
 * slot get one sandbox (SQLite: one server; PostgreSQL: two nodes on one database); the per-key request rate answers
 * 429 with Retry-After; a key revoked on one node stops on the other (its terminal there closes within the poll).
 * Default template: 2 vCPUs, 2048 MiB.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import pg from 'pg';
import WebSocket from 'ws';
import { hashApiKey } from '../packages/server/src/teams/keys.js';
import { startPostgres, type PostgresInstance } from './helpers/postgres.js';
import { as, makeTeam, type TeamKey } from './helpers/teams.js';

let s: TestServer;
let T: TeamKey;
let t: ReturnType<typeof as>;

const quota = (srv: TestServer, teamID: string, quotas: Record<string, number | null>) =>
  api(srv, 'PATCH', `/teams/${teamID}`, { quotas });
const create = (call: ReturnType<typeof as>) => call('POST', '/sandboxes', { templateID: 'default', timeout: 300 });
const running = async (srv: TestServer, teamID: string) =>
  (await api(srv, 'GET', `/teams/${teamID}`)).body.usage.runningSandboxes;

before(async () => {
  s = await startTestServer();
  T = await makeTeam(s, 'quota-team');
  t = as(s.url, T.key);
});
after(async () => {
  await s?.close();
});

describe('team quotas (SQLite)', () => {
  it('running sandboxes: the one over the limit is 429 naming the quota; nothing half-made', async () => {
    await quota(s, T.teamID, { maxRunningSandboxes: 1 });
    const first = await create(t);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const over = await create(t);
    assert.equal(over.status, 429);
    assert.equal(over.body.code, 429);
    assert.match(over.body.message, /maxRunningSandboxes \(1\)/);
    assert.equal((await t('GET', '/v2/sandboxes')).body.length, 1);
    const runtime = await s.store.listSandboxes();
    assert.equal(runtime.filter((x) => x.teamId === T.teamID).length, 1);
    assert.equal(await running(s, T.teamID), 1, 'no claim left behind');
    // Other teams are not limited by this team's quota.
    const admin = await api(s, 'POST', '/sandboxes', { templateID: 'default', timeout: 60 });
    assert.equal(admin.status, 201);
    await api(s, 'DELETE', `/sandboxes/${admin.body.sandboxID}`);
    assert.equal((await t('DELETE', `/sandboxes/${first.body.sandboxID}`)).status, 204);
  });

  it('two creates racing for the last slot: one sandbox, one 429', async () => {
    await quota(s, T.teamID, { maxRunningSandboxes: 1 });
    const results = await Promise.all([create(t), create(t)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 429]);
    assert.equal(await running(s, T.teamID), 1);
    await t('DELETE', `/sandboxes/${results.find((r) => r.status === 201)!.body.sandboxID}`);
  });

  it('vCPUs and memory of running sandboxes', async () => {
    await quota(s, T.teamID, { maxRunningSandboxes: 10, maxVcpus: 3 });
    const first = await create(t);
    assert.equal(first.status, 201);
    const cpu = await create(t);
    assert.equal(cpu.status, 429);
    assert.match(cpu.body.message, /maxVcpus \(3\)/);
    await quota(s, T.teamID, { maxVcpus: null, maxMemoryMB: 3000 });
    const mem = await create(t);
    assert.equal(mem.status, 429);
    assert.match(mem.body.message, /maxMemoryMB \(3000\)/);
    await t('DELETE', `/sandboxes/${first.body.sandboxID}`);
    await quota(s, T.teamID, { maxMemoryMB: null });
  });

  it('resume takes a running slot too; snapshot and pause disk; templates', async () => {
    await quota(s, T.teamID, { maxRunningSandboxes: 1 });
    const first = await create(t);
    const id = first.body.sandboxID;
    assert.equal((await t('POST', `/sandboxes/${id}/pause`)).status, 204);
    const second = await create(t);
    assert.equal(second.status, 201, 'the paused one freed its slot');
    const resume = await t('POST', `/sandboxes/${id}/connect`, { timeout: 60 });
    assert.equal(resume.status, 429);
    assert.match(resume.body.message, /maxRunningSandboxes \(1\)/);
    assert.equal((await t('GET', `/sandboxes/${id}`)).body.state, 'paused', 'still paused, nothing lost');

    // Disk: the paused image already uses more than 1 MiB, so a snapshot and another pause are refused.
    await quota(s, T.teamID, { maxDiskMB: 1 });
    const detail = (await t('GET', `/teams/${T.teamID}`)).body;
    assert.ok(detail.usage.diskMB >= 1, `disk usage ${detail.usage.diskMB} MiB`);
    const snap = await t('POST', `/sandboxes/${second.body.sandboxID}/snapshots`, {});
    assert.equal(snap.status, 429);
    assert.match(snap.body.message, /maxDiskMB \(1\)/);
    const pause = await t('POST', `/sandboxes/${second.body.sandboxID}/pause`);
    assert.equal(pause.status, 429);
    assert.equal((await t('GET', `/sandboxes/${second.body.sandboxID}`)).body.state, 'running');
    assert.deepEqual((await t('GET', '/snapshots')).body, []);

    await quota(s, T.teamID, { maxTemplates: 0 });
    const tpl = await t('POST', '/v3/templates', { name: 'over-quota' });
    assert.equal(tpl.status, 429);
    assert.match(tpl.body.message, /maxTemplates \(0\)/);
    assert.equal((await t('GET', '/templates/aliases/over-quota')).status, 404, 'nothing registered');

    await t('DELETE', `/sandboxes/${id}`);
    await t('DELETE', `/sandboxes/${second.body.sandboxID}`);
    await quota(s, T.teamID, { maxRunningSandboxes: null, maxDiskMB: null, maxTemplates: null });
  });

  it('a team with running sandboxes cannot be deleted; then it can, and its keys stop working', async () => {
    const x = await makeTeam(s, 'short-lived-team');
    const sb = await create(as(s.url, x.key));
    assert.equal((await api(s, 'DELETE', `/teams/${x.teamID}`)).status, 409);
    await as(s.url, x.key)('DELETE', `/sandboxes/${sb.body.sandboxID}`);
    assert.equal((await api(s, 'DELETE', `/teams/${x.teamID}`)).status, 204);
    assert.equal((await as(s.url, x.key)('GET', '/v2/sandboxes')).status, 401);
    assert.equal((await api(s, 'DELETE', '/teams/admin')).status, 409);
  });
});

describe('request rate per key', () => {
  it('over the burst: 429 with Retry-After; the admin key is not limited', async () => {
    const r = await startTestServer({ keyRate: { ratePerSec: 1, burst: 3 } });
    try {
      const k = await makeTeam(r, 'rated');
      const call = as(r.url, k.key);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await call('GET', '/v2/sandboxes'));
      assert.deepEqual(
        statuses.map((x) => x.status),
        [200, 200, 200, 429],
      );
      assert.equal(statuses[3].headers.get('retry-after'), '1');
      assert.match(statuses[3].body.message, /rate/);
      for (let i = 0; i < 5; i++) assert.equal((await api(r, 'GET', '/v2/sandboxes')).status, 200);
      await new Promise((res) => setTimeout(res, 1100));
      assert.equal((await call('GET', '/v2/sandboxes')).status, 200, 'refilled');
    } finally {
      await r.close();
    }
  });
});

describe('team quotas on PostgreSQL with two nodes', () => {
  let pgi: PostgresInstance;
  let dbUrl: string;
  let n1: TestServer;
  let n2: TestServer;
  let shared: string;
  before(async () => {
    pgi = await startPostgres();
    const url = (dbUrl = await pgi.createDatabase());
    shared = mkdtempSync(path.join(os.tmpdir(), 'tb-shared-'));
    const cfg = (nodeId: string) => ({
      databaseUrl: url,
      nodeId,
      apiKey: 'e2b_' + 'ab'.repeat(16),
      snapshotDir: path.join(shared, 'snapshots'),
      templateDir: path.join(shared, 'templates'),
    });
    n1 = await startTestServer(cfg('node-1'));
    n2 = await startTestServer(cfg('node-2'));
  });
  after(async () => {
    await n1?.close();
    await n2?.close();
    await pgi?.stop();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  it('two nodes creating for the last slot at once: one sandbox, one 429', async () => {
    const k = await makeTeam(n1, 'pg-team');
    await quota(n1, k.teamID, { maxRunningSandboxes: 1 });
    const results = await Promise.all([create(as(n1.url, k.key)), create(as(n2.url, k.key))]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 429], JSON.stringify(results.map((r) => r.body)));
    assert.equal(await running(n1, k.teamID), 1);
    const won = results.findIndex((r) => r.status === 201);
    await as([n1, n2][won].url, k.key)('DELETE', `/sandboxes/${results[won].body.sandboxID}`);
  });

  it('a key revoked on node 1 fails on node 2 at once, and its terminal there closes within the poll', async () => {
    const k = await makeTeam(n1, 'pg-revoke');
    const sbx = await create(as(n2.url, k.key));
    assert.equal(sbx.status, 201, JSON.stringify(sbx.body));
    try {
      const ws = new WebSocket(`${n2.url.replace('http', 'ws')}/sandboxes/${sbx.body.sandboxID}/pty`, {
        headers: { 'X-API-Key': k.key },
      });
      await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      const t0 = Date.now();
      assert.equal((await api(n1, 'DELETE', `/teams/${k.teamID}/api-keys/${k.keyId}`)).status, 204);
      assert.equal(
        (await as(n2.url, k.key)('GET', `/sandboxes/${sbx.body.sandboxID}`)).status,
        401,
        'next request on the other node',
      );
      assert.equal(await closed, 1008);
      assert.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
    } finally {
      await api(n2, 'DELETE', `/sandboxes/${sbx.body.sandboxID}`);
    }
  });

  it('the PostgreSQL tables hold no API key in plain text', async () => {
    const k = await makeTeam(n2, 'pg-keys');
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      for (const table of ['api_keys', 'settings', 'teams']) {
        const dump = JSON.stringify((await c.query(`SELECT * FROM ${table}`)).rows);
        for (const key of [k.key, n1.apiKey]) assert.equal(dump.includes(key.slice(4)), false, `${table} holds a key`);
      }
      assert.equal(
        (await c.query('SELECT key_hash FROM api_keys WHERE key_id = $1', [k.keyId])).rows[0].key_hash,
        hashApiKey(k.key),
      );
    } finally {
      await c.end();
    }
  });
});
