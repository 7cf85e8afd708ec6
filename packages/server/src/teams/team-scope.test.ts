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
import { DriverError, type FakeDriver } from '@tensor-box/runtime';
import type { SqliteStore } from '../store/sqlite.js';
import { ApiError } from '../errors.js';
import type { SandboxService } from '../services/sandbox-service.js';
import { fakeService, type FakeService } from '../testing/fake-service.js';
import { withCaller, type Caller } from './caller.js';
import { QuotaGuard } from './quota-guard.js';
import { DEFAULT_QUOTAS } from './quotas.js';

let dir: string;
let fx: FakeService | undefined;
let driver: FakeDriver;
let store: SqliteStore;
let svc: SandboxService;
const teamA: Caller = { keyId: 'ka', teamId: 'ta', admin: false };
const teamB: Caller = { keyId: 'kb', teamId: 'tb', admin: false };

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-scope-'));
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await fx?.close();
  fx = await fakeService(dir);
  ({ driver, store } = fx);
  const now = Date.now();
  for (const t of ['ta', 'tb'])
    await store.teams.insertTeam({ teamId: t, name: t, createdAt: now, quotas: { maxRunningSandboxes: 1 } });
  svc = fx.rebuild({ quota: new QuotaGuard(store.teams, DEFAULT_QUOTAS, 'node-a') });
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

  it('the admin team (an existing install) has no quotas until the operator sets some', async () => {
    const guard = new QuotaGuard(store.teams, DEFAULT_QUOTAS, 'node-a');
    if (!(await store.teams.getTeam('admin')))
      await store.teams.insertTeam({ teamId: 'admin', name: 'admin', createdAt: Date.now(), quotas: {} });
    const q = await guard.quotas('admin');
    assert.ok(q.maxRunningSandboxes > DEFAULT_QUOTAS.maxRunningSandboxes * 1000, 'unlimited by default');
    assert.equal((await guard.quotas('ta')).maxRunningSandboxes, 1, 'other teams keep theirs');
    await store.teams.setTeamQuotas('admin', { maxRunningSandboxes: 3 });
    assert.equal((await guard.quotas('admin')).maxRunningSandboxes, 3);
  });
});
