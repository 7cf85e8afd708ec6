/**
 * Schema migrations of both stores: released migrations are frozen (their SQL hashed); a SQLite database made before
 * versioned migrations (fixtures/sqlite-unversioned.sql, today's DDL as main ran it) and a PostgreSQL database at
 * version 5 (the migrations as main had them) each get one row in every table (fixtures/unversioned-rows.sql), are
 * opened with this code, and must return every row field for field, take new writes, and end with the same columns
 * as a fresh database. A SQLite database that lacks a column, or is newer than the server, is refused unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startPostgres, type PostgresInstance } from '../../../../tests/helpers/postgres.js';
import { MIGRATIONS, POSTGRES, SCHEMA_VERSION, SQLITE } from './migrations.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { SandboxRecord, Store } from './store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => readFileSync(path.join(here, 'fixtures', name), 'utf8');
const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-migrate-'));
const T0 = 1_700_000_000_000;

let postgres: PostgresInstance;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SBX_FULL: SandboxRecord = {
  sandboxId: 'sbx-full',
  templateId: 'tpl-1',
  alias: 'py',
  state: 'paused',
  startedAt: T0,
  endAt: T0 + 600_000,
  timeoutMs: 600_000,
  cpuCount: 2,
  memoryMB: 2048,
  diskSizeMB: 10_240,
  metadata: { user: 'a', 'we"ird': "it's" },
  envVars: { A: '1' },
  onTimeout: 'pause',
  autoResume: true,
  envdAccessToken: 'tok',
  allowInternetAccess: false,
  runtime: { pid: 42, address: '10.13.0.2', envdUrl: 'http://10.13.0.2:49983' },
  pausedImage: '/snap/v1/sbx-full/1',
  nodeId: 'node-a',
  network: { allowPublicTraffic: false, trafficAccessToken: 'tat' },
  teamId: 'team-b',
};
const SBX_BARE: SandboxRecord = {
  sandboxId: 'sbx-bare',
  templateId: 'default',
  state: 'running',
  startedAt: T0 + 1,
  endAt: T0 + 60_001,
  timeoutMs: 60_000,
  cpuCount: 1,
  memoryMB: 512,
  diskSizeMB: 4096,
  metadata: {},
  envVars: {},
  onTimeout: 'kill',
  autoResume: false,
  allowInternetAccess: true,
  teamId: 'admin',
};
const LAYERS = ['/t/tpl-1/b2/layer', '/t/default/b1/rootfs'];
const TEMPLATE = {
  templateId: 'tpl-1',
  buildId: 'b2',
  names: ['python', 'py3'],
  cpuCount: 2,
  memoryMB: 1024,
  diskSizeMB: 4096,
  layers: LAYERS,
  status: 'ready',
  startCmd: 'python3 -m http.server',
  readyCmd: 'curl -s localhost:8000',
  public: true,
  createdAt: T0,
  updatedAt: T0 + 500,
  spawnCount: 7,
  lastSpawnedAt: T0 + 400,
  buildCount: 2,
  envVars: { PATH: '/usr/bin' },
  defaultUser: 'user',
  defaultWorkdir: '/home/user',
  parentTemplateId: 'default',
  warmImage: '/snap/warm/tpl-1',
  tags: { v1: { buildId: 'b1', createdAt: 1 } },
  teamId: 'team-b',
};
const LINE = { templateId: 'tpl-1', buildId: 'b2' };
const SHAPE = { templateId: 'tpl-1', cpuCount: 2, memoryMB: 1024, diskSizeMB: 4096 };

/** Every row of unversioned-rows.sql, read through the store, then new writes of each kind. */
async function checkUpgraded(s: Store): Promise<void> {
  assert.deepEqual(await s.getSandbox('sbx-full'), SBX_FULL);
  assert.deepEqual(await s.getSandbox('sbx-bare'), SBX_BARE);
  assert.deepEqual(await s.findTemplate('py3'), TEMPLATE);
  assert.deepEqual(await s.listBuilds('tpl-1'), [
    {
      ...SHAPE,
      buildId: 'b2',
      status: 'ready',
      source: 'template default',
      createdAt: T0 + 200,
      updatedAt: T0 + 300,
      finishedAt: T0 + 300,
      tags: ['default'],
      config: { layers: LAYERS, startCmd: 'python3 -m http.server' },
    },
    {
      ...SHAPE,
      buildId: 'b1',
      status: 'error',
      source: 'image debian:bookworm',
      reason: { message: 'boom', step: 'RUN x', exitCode: 2 },
      createdAt: T0,
      updatedAt: T0 + 100,
      finishedAt: T0 + 100,
      tags: ['v1'],
    },
  ]);
  assert.deepEqual(await s.queryBuildLogs('tpl-1', 'b2', { offset: 0, limit: 10 }), [
    { ...LINE, seq: 0, timestamp: T0 + 200, level: 'info', message: 'FROM default', step: 'FROM' },
    { ...LINE, seq: 1, timestamp: T0 + 201, level: 'error', message: 'x' },
  ]);
  assert.deepEqual(await s.findSnapshot('before-step'), {
    snapshotId: 'snap-1',
    sandboxId: 'sbx-full',
    name: 'before-step',
    templateId: 'tpl-1',
    createdAt: T0 + 300,
    imageDir: '/snap/v1/snapshots/snap-1',
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: 10_240,
    envVars: { A: '1' },
    envdAccessToken: 'tok',
    allowInternetAccess: true,
    teamId: 'team-b',
  });
  const logs = await s.queryLogs('sbx-full', { limit: 10, direction: 'forward' });
  assert.deepEqual(
    logs.map((e) => [e.timestamp, e.level, e.message, e.fields]),
    [
      [T0 + 10, 'info', 'Sandbox created', { templateId: 'tpl-1' }],
      [T0 + 20, 'warn', 'disk 90%', {}],
    ],
  );
  assert.deepEqual(await s.queryMetrics('sbx-full', 0, T0 + 1000), [
    {
      sandboxId: 'sbx-full',
      timestamp: T0 + 30,
      cpuCount: 2,
      cpuUsedPct: 12.5,
      memUsed: 2 ** 29,
      memTotal: 2 ** 40,
      memCache: 3,
      diskUsed: 4,
      diskTotal: 5,
    },
  ]);
  assert.equal(await s.getSetting('admin_key_hash'), 'hash-of-the-admin-key');
  assert.deepEqual(await s.teams.getTeam('team-b'), {
    teamId: 'team-b',
    name: 'b',
    createdAt: T0,
    quotas: { maxRunningSandboxes: 3 },
  });
  assert.equal((await s.teams.getTeam('admin'))?.name, 'admin');
  assert.deepEqual(await s.teams.getApiKey('key-1'), {
    keyId: 'key-1',
    teamId: 'team-b',
    name: 'ci',
    keyHash: 'hash-1',
    mask: 'e2b_…abcd',
    createdAt: T0,
    lastUsedAt: T0 + 900,
  });
  assert.deepEqual(await s.teams.usage('team-b', T0 + 1), {
    runningSandboxes: 1,
    vcpus: 1,
    memoryMB: 512,
    pausedSandboxes: 1,
    snapshots: 1,
    templates: 1,
  });

  // New writes of each kind land beside the old rows.
  await s.insertSandbox({ ...SBX_BARE, sandboxId: 'sbx-new', startedAt: T0 + 2 });
  assert.deepEqual(
    (await s.listSandboxes()).map((r) => r.sandboxId),
    ['sbx-new', 'sbx-bare', 'sbx-full'],
  );
  assert.equal(await s.transitionSandbox('sbx-full', ['paused'], { state: 'running', pausedImage: undefined }), true);
  await Promise.all([1, 2, 3].map((i) => s.recordTemplateSpawn('tpl-1', T0 + 1000 + i)));
  assert.equal((await s.findTemplate('tpl-1'))?.spawnCount, 10);
  assert.equal((await s.appendBuildLog({ ...LINE, timestamp: T0, level: 'info', message: 'y' })).seq, 2);
  await s.appendLog({ sandboxId: 'sbx-full', timestamp: T0 + 40, level: 'info', message: 'later', fields: {} });
  const seqs = (await s.queryLogs('sbx-full', { limit: 10, direction: 'forward' })).map((e) => e.seq);
  assert.equal(seqs.length, 3);
  assert.ok(seqs[2] > seqs[1] && seqs[1] > seqs[0], `log seq keeps increasing: ${seqs}`);
  await s.upsertBuild({ ...SHAPE, buildId: 'b3', status: 'building', createdAt: T0 + 600, updatedAt: T0 + 600 });
  const before = await s.completeBuild('tpl-1', 'b3', { status: 'ready', finishedAt: T0 + 700 }, (cur) => ({
    buildId: 'b3',
    buildCount: cur.buildCount + 1,
  }));
  assert.equal(before?.buildId, 'b2');
  assert.equal((await s.findTemplate('tpl-1'))?.buildId, 'b3');
  assert.equal((await s.getBuild('tpl-1', 'b3'))?.status, 'ready');
  await s.setSetting('admin_key_hash', 'rotated');
  assert.equal(await s.getSetting('admin_key_hash'), 'rotated');
  const key2 = { keyId: 'key-2', teamId: 'team-b', name: 'new', keyHash: 'hash-2', mask: 'm', createdAt: T0 };
  await s.teams.insertApiKey(key2);
  assert.deepEqual(
    (await s.teams.listApiKeys('team-b')).map((k) => k.keyId),
    ['key-1', 'key-2'],
  );
}

/** Table → sorted column names, and the index names (how a database's shape is compared here). */
type Shape = { columns: Record<string, string[]>; indexes: string[] };

function sqliteShape(file: string): Shape {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all();
    const columns: Record<string, string[]> = {};
    for (const { name } of tables as { name: string }[]) {
      columns[name] = (db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name).sort();
    }
    const idx = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'`).all();
    return { columns, indexes: (idx as { name: string }[]).map((r) => r.name).sort() };
  } finally {
    db.close();
  }
}

async function postgresShape(url: string): Promise<Shape> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const cols = await c.query(
      `SELECT table_name AS t, column_name AS c, data_type AS ty FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, column_name`,
    );
    const columns: Record<string, string[]> = {};
    for (const r of cols.rows) (columns[r.t] ??= []).push(`${r.c} ${r.ty}`);
    const idx = await c.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
    return { columns, indexes: idx.rows.map((r) => r.indexname) };
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  it('released migrations are frozen (append new ones; PostgreSQL 1–5 are the texts servers already ran)', () => {
    const hashes = (d: typeof POSTGRES) =>
      MIGRATIONS.slice(0, 6).map((m) => createHash('sha256').update(m(d)).digest('hex').slice(0, 16));
    assert.deepEqual(hashes(POSTGRES), [
      '814f731a86bb126d',
      'a826ae6e1b33aaef',
      'd778f4c55a0df5aa',
      'f47faceb524245cc',
      '9b278494a4498791',
      '91fe6f619f89cce3',
    ]);
    assert.deepEqual(hashes(SQLITE), [
      '632347973b93cd43',
      'a826ae6e1b33aaef',
      '3002c38f709c14c1',
      '7d1e6d475fc0a676',
      '94afd1b7504bcd36',
      '91fe6f619f89cce3',
    ]);
  });

  it('SQLite: an unversioned database keeps every row, takes new writes, matches a fresh one', async () => {
    const file = path.join(dir, 'unversioned.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(fixture('sqlite-unversioned.sql'));
    old.exec(fixture('unversioned-rows.sql'));
    old.close();
    const store = new SqliteStore(file);
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
    const again = new SqliteStore(file);
    assert.equal((await again.findTemplate('tpl-1'))?.spawnCount, 10, 'reopening changes nothing');
    await again.close();
    const db = new Database(file, { readonly: true });
    assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: SCHEMA_VERSION }]);
    db.close();
    const fresh = path.join(dir, 'fresh.db');
    await new SqliteStore(fresh).close();
    assert.deepEqual(sqliteShape(file), sqliteShape(fresh));
  });

  it('SQLite: an unversioned database that lacks a column, or a newer one, is refused and left unchanged', async () => {
    const file = path.join(dir, 'old.db');
    const old = new Database(file);
    old.exec(fixture('sqlite-unversioned.sql').replace('ALTER TABLE sandboxes ADD COLUMN network TEXT;', ''));
    old.close();
    const shape = sqliteShape(file);
    assert.throws(() => new SqliteStore(file), /made before versioned schema migrations and lacks sandboxes\.network/);
    assert.deepEqual(sqliteShape(file), shape);

    const newer = path.join(dir, 'newer.db');
    await new SqliteStore(newer).close();
    const db = new Database(newer);
    db.prepare('UPDATE schema_version SET version = 99').run();
    db.close();
    assert.throws(() => new SqliteStore(newer), /schema version 99 is newer than this server's/);
  });

  it('PostgreSQL: a database at version 5 keeps every row, takes new writes, matches a fresh one', async () => {
    const url = await postgres.createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const m of MIGRATIONS.slice(0, 5)) await c.query(m(POSTGRES));
      await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (5)');
      await c.query(fixture('unversioned-rows.sql'));
    } finally {
      await c.end();
    }
    const store = await PostgresStore.connect(url);
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
    const fresh = await postgres.createDatabase();
    await (await PostgresStore.connect(fresh)).close();
    assert.deepEqual(await postgresShape(url), await postgresShape(fresh));
  });
});
