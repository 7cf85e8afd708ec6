/**
 * The PostgreSQL store against a private PostgreSQL server this file starts (tests/helpers/postgres.ts): the shared
 * store suite (a new database per test), what only PostgreSQL has (several servers migrating one database at once,
 * a newer schema refused, two stores numbering one build's log or counting spawns during a build), a DATABASE_URL
 * that cannot be reached, and a whole server on PostgreSQL creating, listing and killing a sandbox through the REST
 * API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { api, startTestServer } from '../../../../tests/helpers/harness.js';
import { startPostgres, type PostgresInstance } from '../../../../tests/helpers/postgres.js';
import { PostgresStore } from './postgres.js';
import { hashApiKey } from '../teams/keys.js';
import { SCHEMA_VERSION } from './migrations.js';
import { storeSuite } from './store-suite.js';

let instance: PostgresInstance;
before(async () => {
  instance = await startPostgres();
});
after(async () => {
  await instance?.stop();
});

storeSuite({ name: 'postgres', makeStore: async () => PostgresStore.connect(await instance.createDatabase()) });

async function query(url: string, sql: string, args: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, args)).rows;
  } finally {
    await c.end();
  }
}

describe('PostgresStore', () => {
  it(
    'several servers connecting to one fresh database ' + 'at once migrate it once; reconnecting keeps the data',
    async () => {
      const url = await instance.createDatabase();
      const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.connect(url)));
      await stores[0].setSetting('api_key', 'e2b_x');
      assert.equal(await stores[3].getSetting('api_key'), 'e2b_x');
      await Promise.all(stores.map((s) => s.close()));
      assert.deepEqual(await query(url, 'SELECT version FROM schema_version'), [{ version: SCHEMA_VERSION }]);
      const again = await PostgresStore.connect(url);
      assert.equal(await again.getSetting('api_key'), 'e2b_x');
      await again.close();
    },
  );

  it('refuses a database whose schema is newer than the server', async () => {
    const url = await instance.createDatabase();
    await (await PostgresStore.connect(url)).close();
    await query(url, 'UPDATE schema_version SET version = 99');
    await assert.rejects(PostgresStore.connect(url), /schema version 99 is newer than this server's/);
  });

  it('two stores (two servers) appending to one build log get distinct, gap-free seq numbers', async () => {
    const url = await instance.createDatabase();
    const [a, b] = await Promise.all([PostgresStore.connect(url), PostgresStore.connect(url)]);
    try {
      const line = (i: number) => ({
        templateId: 't',
        buildId: 'b',
        timestamp: i,
        level: 'info' as const,
        message: `m${i}`,
      });
      const got = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).appendBuildLog(line(i))));
      assert.deepEqual(
        got.map((e) => e.seq).sort((x, y) => x - y),
        Array.from({ length: 30 }, (_, i) => i),
      );
      const stored = await a.queryBuildLogs('t', 'b', { offset: 0, limit: 100 });
      assert.deepEqual(
        stored.map((e) => e.seq),
        Array.from({ length: 30 }, (_, i) => i),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two stores (two servers) counting spawns while one completes a build lose no increment', async () => {
    const url = await instance.createDatabase();
    const [a, b] = await Promise.all([PostgresStore.connect(url), PostgresStore.connect(url)]);
    try {
      const t = { templateId: 't', buildId: 'b1', names: [], cpuCount: 1, memoryMB: 512, diskSizeMB: 1024, layers: [] };
      const counts = { spawnCount: 0, buildCount: 0 };
      await a.upsertTemplate({ ...t, status: 'building', public: false, createdAt: 1, updatedAt: 1, ...counts });
      await a.upsertBuild({ ...t, status: 'building', createdAt: 1, updatedAt: 1 });
      const spawns = Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).recordTemplateSpawn('t', 100 + i));
      const done = b.completeBuild('t', 'b1', { status: 'ready' }, (cur) => ({
        status: 'ready',
        layers: ['/l'],
        buildCount: cur.buildCount + 1,
      }));
      await Promise.all([...spawns, done]);
      const after = await a.findTemplate('t');
      assert.deepEqual([after?.spawnCount, after?.status, after?.layers, after?.buildCount], [30, 'ready', ['/l'], 1]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it(
    'an unreachable or refused DATABASE_URL fails fast ' + 'with a message that names it, without the password',
    async () => {
      // A port nothing listens on: refused at once.
      const t0 = Date.now();
      await assert.rejects(PostgresStore.connect('postgres://tb:s3cret@127.0.0.1:1/tb'), (err: Error) => {
        assert.match(err.message, /DATABASE_URL/);
        assert.match(err.message, /127\.0\.0\.1:1/);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
      // A database that does not exist on a live server.
      await assert.rejects(
        PostgresStore.connect(`postgres://postgres@127.0.0.1:${instance.port}/no_such_db`),
        /no_such_db.*does not exist/,
      );
      assert.ok(Date.now() - t0 < 5000);
      // A server that never answers: the connect timeout ends the wait.
      const silent = net.createServer(() => {});
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const { port } = silent.address() as net.AddressInfo;
      try {
        const t1 = Date.now();
        await assert.rejects(
          PostgresStore.connect(`postgres://x@127.0.0.1:${port}/x`, { connectTimeoutMs: 500 }),
          /DATABASE_URL.*timeout/i,
        );
        assert.ok(Date.now() - t1 < 5000);
      } finally {
        silent.close();
      }
    },
  );
});

describe('server on PostgreSQL', () => {
  it('does not start when DATABASE_URL cannot be reached', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-test-'));
    try {
      await assert.rejects(
        startTestServer({ databaseUrl: 'postgres://tb@127.0.0.1:1/tb' }, dir),
        /cannot use the PostgreSQL database.*DATABASE_URL/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates, lists and kills a sandbox with its state in PostgreSQL', async () => {
    const url = await instance.createDatabase();
    const s = await startTestServer({ databaseUrl: url });
    try {
      const r = await api(s, 'POST', '/sandboxes', {
        templateID: 'default',
        timeout: 120,
        metadata: { store: 'postgres' },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.sandboxID;
      const listed = await api(s, 'GET', `/v2/sandboxes?metadata=${encodeURIComponent('store=postgres')}`);
      assert.deepEqual(
        listed.body.map((x: any) => x.sandboxID),
        [id],
      );
      // The record and the API key are in PostgreSQL, not in a SQLite file.
      assert.deepEqual(await query(url, 'SELECT sandbox_id FROM sandboxes'), [{ sandbox_id: id }]);
      // The admin key only as its hash (docs/teams.md).
      assert.deepEqual(await query(url, `SELECT value FROM settings WHERE key = 'admin_key_hash'`), [
        { value: hashApiKey(s.apiKey) },
      ]);
      assert.deepEqual(await query(url, `SELECT value FROM settings WHERE key = 'api_key'`), []);
      assert.equal((await api(s, 'DELETE', `/sandboxes/${id}`)).status, 204);
      assert.equal((await api(s, 'GET', `/sandboxes/${id}`)).status, 404);
      assert.deepEqual(await query(url, 'SELECT sandbox_id FROM sandboxes'), []);
    } finally {
      await s.close();
    }
  });
});
