/**
 * Team scope and quota claims in the sandbox service, against the in-memory FakeDriver and SQLite (milliseconds, no
 * root): a start under way holds its slot (a second start waits for nothing and is refused), a failed start gives its
 * slot back, and another team's caller finds nothing.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DriverError, FakeDriver } from '@tensor-box/runtime';
import { SqliteStore } from '../store/sqlite.js';
import { Metrics } from '../http/prometheus.js';
import { ApiError } from '../errors.js';
import { SandboxService } from '../services/sandbox-service.js';
import { TemplateService } from '../services/template-service.js';
import { SandboxLogs } from '../services/sandbox-logs.js';
import { MetricsSampler } from '../services/metrics-sampler.js';
import { DirectorySnapshotStore } from '../services/snapshot-store.js';
import { withCaller, type Caller } from './caller.js';
import { QuotaGuard } from './quota-guard.js';
import { DEFAULT_QUOTAS } from './quotas.js';

let dir: string;
let driver: FakeDriver;
let store: SqliteStore;
let svc: SandboxService;
const teamA: Caller = { keyId: 'ka', teamId: 'ta', admin: false };
const teamB: Caller = { keyId: 'kb', teamId: 'tb', admin: false };

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-scope-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  await driver?.stop();
  driver = new FakeDriver();
  await driver.start();
  store = new SqliteStore(':memory:');
  const now = Date.now();
  await store.upsertTemplate({
    templateId: 'default',
    buildId: 'b1',
    names: ['default'],
    cpuCount: 1,
    memoryMB: 256,
    diskSizeMB: 1024,
    layers: ['/nonexistent/rootfs'],
    status: 'ready',
    public: true,
    createdAt: now,
    updatedAt: now,
    spawnCount: 0,
    buildCount: 1,
  });
  for (const t of ['ta', 'tb'])
    await store.teams.insertTeam({ teamId: t, name: t, createdAt: now, quotas: { maxRunningSandboxes: 1 } });
  const snapshots = new DirectorySnapshotStore(path.join(dir, 'snapshots'));
  const templates = new TemplateService({
    store,
    driver,
    templateDir: path.join(dir, 'templates'),
    cacheDir: dir,
    snapshots,
  });
  svc = new SandboxService({
    store,
    driver,
    templates,
    snapshots,
    domain: () => 'localhost:3000',
    logs: new SandboxLogs(store),
    metrics: new MetricsSampler({ store, driver }),
    prom: new Metrics(),
    pausedRetentionMs: 86400_000,
    nodeId: 'node-a',
    quota: new QuotaGuard(store.teams, DEFAULT_QUOTAS, 'node-a'),
  });
});

const as = <T>(c: Caller, fn: () => Promise<T>) => withCaller(c, fn);
const exhausted = (e: unknown) =>
  e instanceof ApiError && e.kind === 'resource_exhausted' && /maxRunningSandboxes \(1\)/.test(e.message);

describe('team scope and run claims (fake driver)', () => {
  it('a start under way holds the last slot: a second start at that moment is refused', async () => {
    let release!: () => void;
    driver.gate.create = new Promise((r) => (release = r));
    const first = as(teamA, () => svc.create({ templateID: 'default', timeout: 60 }));
    await new Promise((r) => setTimeout(r, 20)); // the first is inside driver.create now, its claim taken
    await assert.rejects(
      as(teamA, () => svc.create({ templateID: 'default', timeout: 60 })),
      exhausted,
    );
    release();
    const sbx = await first;
    assert.equal((await store.getSandbox(sbx.sandboxID))?.teamId, 'ta');
    assert.equal((await store.teams.usage('ta', Date.now())).runningSandboxes, 1, 'the claim was released once it ran');
  });

  it('a failed start gives its slot back', async () => {
    driver.failNext.create = new DriverError('internal', 'launcher exploded');
    await assert.rejects(as(teamA, () => svc.create({ templateID: 'default', timeout: 60 })));
    assert.equal((await store.teams.usage('ta', Date.now())).runningSandboxes, 0);
    await as(teamA, () => svc.create({ templateID: 'default', timeout: 60 }));
  });

  it('another team finds nothing; its own quota is its own', async () => {
    const a = await as(teamA, () => svc.create({ templateID: 'default', timeout: 60 }));
    await assert.rejects(
      as(teamB, () => svc.get(a.sandboxID)),
      (e: unknown) => e instanceof ApiError && e.kind === 'not_found',
    );
    await assert.rejects(
      as(teamB, () => svc.kill(a.sandboxID)),
      (e: unknown) => e instanceof ApiError && e.kind === 'not_found',
    );
    assert.deepEqual((await as(teamB, () => svc.list({}))).items, []);
    await as(teamB, () => svc.create({ templateID: 'default', timeout: 60 }));
    assert.equal((await svc.list({})).items.length, 2, 'internal work (no caller) sees every team');
  });
});
