/**
 * The TeamStore of both stores (SQLite on a temp file, PostgreSQL on a private server): teams, keys by hash, the
 * migration's admin team, usage, and run claims — many claims racing for a team's last slots over separate
 * connections take exactly the free ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PostgresInstance } from '../../../../tests/helpers/postgres.js';
import { runBreach, DEFAULT_QUOTAS } from '../teams/quotas.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

let pg: PostgresInstance;
const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-teams-store-'));
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const claim = (store: Store, teamId: string, n: number) =>
  store.teams.claimRun(
    {
      claimId: `c${n}-${Math.random()}`,
      teamId,
      cpuCount: 1,
      memoryMB: 512,
      nodeId: `node-${n % 2}`,
      createdAt: Date.now(),
    },
    (usage) => runBreach({ ...DEFAULT_QUOTAS, maxRunningSandboxes: 3 }, usage, { cpuCount: 1, memoryMB: 512 }),
  );

const kinds: Array<[string, () => Promise<Store[]>]> = [
  [
    'sqlite',
    async () => {
      const file = path.join(dir, `s-${Date.now()}.db`);
      return [new SqliteStore(file), new SqliteStore(file)];
    },
  ],
  [
    'postgres',
    async () => {
      const url = await pg.createDatabase();
      return [await PostgresStore.connect(url), await PostgresStore.connect(url)];
    },
  ],
];

for (const [name, open] of kinds) {
  describe(`TeamStore (${name})`, () => {
    it('has the admin team; teams, keys by hash, usage', async () => {
      const [st, other] = await open();
      try {
        assert.equal((await st.teams.getTeam('admin'))?.name, 'admin');
        await st.teams.insertTeam({ teamId: 't1', name: 'one', createdAt: 1, quotas: { maxTemplates: 2 } });
        assert.deepEqual((await st.teams.getTeam('t1'))?.quotas, { maxTemplates: 2 });
        await st.teams.insertApiKey({
          keyId: 'k1',
          teamId: 't1',
          name: 'n',
          keyHash: 'h1',
          mask: 'e2b_…abcd',
          createdAt: 5,
        });
        assert.equal((await other.teams.findApiKeyByHash('h1'))?.keyId, 'k1');
        await st.teams.touchApiKey('k1', 9);
        assert.equal((await st.teams.getApiKey('k1'))?.lastUsedAt, 9);
        await st.insertSandbox({
          sandboxId: 's1',
          templateId: 'x',
          state: 'running',
          startedAt: 1,
          endAt: 2,
          timeoutMs: 1,
          cpuCount: 2,
          memoryMB: 1024,
          diskSizeMB: 1,
          metadata: {},
          envVars: {},
          onTimeout: 'kill',
          autoResume: false,
          allowInternetAccess: true,
          teamId: 't1',
        });
        const u = await st.teams.usage('t1', Date.now());
        assert.deepEqual([u.runningSandboxes, u.vcpus, u.memoryMB], [1, 2, 1024]);
        assert.equal((await st.getSandbox('s1'))?.teamId, 't1');
        assert.deepEqual((await st.listSandboxes({ teamId: 'admin' })).length, 0);
        assert.equal(await st.teams.deleteApiKey('k1'), true);
        assert.equal(await other.teams.findApiKeyByHash('h1'), undefined);
        assert.equal(await st.teams.ensureSetting('secret', 'a'), 'a');
        assert.equal(await other.teams.ensureSetting('secret', 'b'), 'a', 'the first value stays');
      } finally {
        await st.close();
        await other.close();
      }
    });

    it('claims racing for the last slots over two connections take exactly the free ones', async () => {
      const [x, y] = await open();
      try {
        await x.teams.insertTeam({ teamId: 'race', name: 'race', createdAt: 1, quotas: {} });
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => claim(i % 2 ? x : y, 'race', i)));
        assert.equal(results.filter((r) => r === undefined).length, 3);
        assert.equal(results.find((r) => r)?.quota, 'maxRunningSandboxes');
        assert.equal((await x.teams.usage('race', Date.now())).runningSandboxes, 3);
        await x.teams.releaseNodeClaims('node-0');
        await x.teams.releaseNodeClaims('node-1');
        assert.equal((await y.teams.usage('race', Date.now())).runningSandboxes, 0);
      } finally {
        await x.close();
        await y.close();
      }
    });
  });
}
