/** The store suite's templates part: templates and builds, lookups by name, deletes, and the atomic writes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from './store.js';
import { T0, build, template } from './store-suite-records.js';

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function templateCases(open: () => Promise<Store>): void {
  describe('templates and builds', () => {
    it('round-trips every field and finds templates by ID or by any of their names', async () => {
      const s = await open();
      const full = template('tfull', {
        names: ['python', 'py3'],
        layers: ['/t/tfull/b2/rootfs', '/t/default/b1/rootfs'],
        status: 'building',
        startCmd: 'python3 -m http.server',
        readyCmd: 'curl -s localhost:8000',
        public: true,
        spawnCount: 7,
        lastSpawnedAt: T0 + 9,
        envVars: { PATH: '/usr/bin' },
        defaultUser: 'user',
        defaultWorkdir: '/home/user',
        parentTemplateId: 'default',
        warmImage: '/snap/warm',
      });
      const bare = template('tbare');
      await s.upsertTemplate(full);
      await s.upsertTemplate(bare);
      assert.deepEqual(await s.findTemplate('tfull'), full);
      assert.deepEqual(await s.findTemplate('py3'), full);
      assert.deepEqual(await s.findTemplate('python'), full);
      assert.deepEqual(await s.findTemplate('tbare'), bare);
      assert.equal(await s.findTemplate('pyth'), undefined, 'names match whole');
      assert.equal(await s.findTemplate('"python"'), undefined);
      assert.equal(await s.findTemplate('nope'), undefined);
    });

    it('an ID match wins over another template of that name; upsert replaces names', async () => {
      const s = await open();
      await s.upsertTemplate(template('alpha', { names: ['beta'], createdAt: T0 }));
      await s.upsertTemplate(template('beta', { createdAt: T0 + 1 }));
      assert.equal((await s.findTemplate('beta'))?.templateId, 'beta');
      await s.upsertTemplate(template('alpha', { names: ['gamma'], spawnCount: 3 }));
      assert.equal((await s.findTemplate('gamma'))?.spawnCount, 3);
      assert.equal((await s.findTemplate('beta'))?.templateId, 'beta');
      await s.deleteTemplate('beta');
      assert.equal(await s.findTemplate('beta'), undefined, 'the old name is gone');
    });

    it('lists templates oldest first', async () => {
      const s = await open();
      await s.upsertTemplate(template('t2', { createdAt: T0 + 2 }));
      await s.upsertTemplate(template('t1', { createdAt: T0 + 1 }));
      await s.upsertTemplate(template('t3', { createdAt: T0 + 3 }));
      assert.deepEqual(
        (await s.listTemplates()).map((t) => t.templateId),
        ['t1', 't2', 't3'],
      );
    });

    it('builds: round trip, upsert updates, listed newest first and per template', async () => {
      const s = await open();
      const failed = build('t', 'b1', {
        status: 'error',
        source: 'image debian:bookworm',
        reason: { message: 'boom', step: 'RUN x', exitCode: 2 },
        finishedAt: T0 + 5,
      });
      await s.upsertBuild(build('t', 'b1'));
      await s.upsertBuild(failed);
      await s.upsertBuild(build('t', 'b3', { createdAt: T0 + 10 }));
      await s.upsertBuild(build('t', 'b2', { createdAt: T0 + 10 }));
      await s.upsertBuild(build('other', 'b9', { createdAt: T0 + 20 }));
      assert.deepEqual(await s.getBuild('t', 'b1'), failed);
      assert.deepEqual(await s.getBuild('t', 'b2'), build('t', 'b2', { createdAt: T0 + 10 }));
      assert.equal(await s.getBuild('other', 'b1'), undefined);
      assert.equal(await s.getBuild('t', 'none'), undefined);
      assert.deepEqual(
        (await s.listBuilds('t')).map((b) => b.buildId),
        ['b3', 'b2', 'b1'],
      );
      assert.deepEqual(await s.listBuilds('nobody'), []);
    });

    it('update sets only the given fields and never the spawn counters; false for an unknown template', async () => {
      const s = await open();
      await s.upsertTemplate(template('u', { names: ['n'], startCmd: 'run', spawnCount: 4, lastSpawnedAt: T0 + 4 }));
      const patch = { public: true, startCmd: undefined, spawnCount: 99, lastSpawnedAt: 1, updatedAt: T0 + 9 };
      assert.equal(await s.updateTemplate('u', patch), true);
      const kept = { spawnCount: 4, lastSpawnedAt: T0 + 4 };
      const want = template('u', { names: ['n'], public: true, ...kept, updatedAt: T0 + 9 });
      assert.deepEqual(await s.findTemplate('u'), want);
      assert.equal(await s.updateTemplate('u', { templateId: 'v' }), true, 'nothing to set: only checks it exists');
      assert.equal(await s.updateTemplate('missing', { public: true }), false);
      assert.equal(await s.updateTemplate('missing', {}), false);
      assert.equal(await s.findTemplate('v'), undefined);
    });

    it('concurrent spawns lose no increment, and an update or a build completion meanwhile keeps them', async () => {
      const s = await open();
      await s.upsertTemplate(template('busy', { status: 'building', buildCount: 0 }));
      await s.upsertBuild(build('busy', 'b2'));
      const spawns = Array.from({ length: 40 }, (_, i) => s.recordTemplateSpawn('busy', T0 + 1 + i));
      const layers = ['/t/busy/b2/layer'];
      const completed = s.completeBuild('busy', 'b2', { status: 'ready', finishedAt: T0 + 50 }, (cur) => ({
        buildId: 'b2',
        layers,
        status: 'ready',
        buildCount: cur.buildCount + 1,
      }));
      const updated = s.updateTemplate('busy', { public: true });
      await Promise.all([...spawns, completed, updated]);
      const t = await s.findTemplate('busy');
      assert.equal(t?.spawnCount, 40);
      assert.ok(t?.lastSpawnedAt && t.lastSpawnedAt > T0, 'a spawn time');
      assert.deepEqual([t?.buildId, t?.layers, t?.status, t?.buildCount, t?.public], ['b2', layers, 'ready', 1, true]);
      assert.deepEqual(await s.getBuild('busy', 'b2'), build('busy', 'b2', { status: 'ready', finishedAt: T0 + 50 }));
      await s.recordTemplateSpawn('nobody', T0);
      assert.equal(await s.findTemplate('nobody'), undefined);
    });

    it('completeBuild: change sees the stored row, may change nothing; a gone template still ends it', async () => {
      const s = await open();
      const tags = { v1: { buildId: 'c-b1', createdAt: T0 } };
      await s.upsertTemplate(template('c', { status: 'ready', tags }));
      await s.upsertBuild(build('c', 'c-b2'));
      await s.recordTemplateSpawn('c', T0 + 3);
      const before = await s.completeBuild('c', 'c-b2', { status: 'error', reason: { message: 'boom' } }, (cur) => {
        assert.equal(cur.spawnCount, 1);
        return cur.status === 'ready' ? undefined : { status: 'error' };
      });
      assert.deepEqual(before, template('c', { status: 'ready', tags, spawnCount: 1, lastSpawnedAt: T0 + 3 }));
      assert.deepEqual(await s.findTemplate('c'), before);
      const failed = build('c', 'c-b2', { status: 'error', reason: { message: 'boom' } });
      assert.deepEqual(await s.getBuild('c', 'c-b2'), failed);
      await s.upsertBuild(build('gone', 'g1'));
      assert.equal(await s.completeBuild('gone', 'g1', { status: 'ready' }, () => ({ status: 'ready' })), undefined);
      assert.equal((await s.getBuild('gone', 'g1'))?.status, 'ready');
      assert.equal(await s.findTemplate('gone'), undefined);
    });

    it('deleteTemplate removes the template with its builds and build logs, and nothing of others', async () => {
      const s = await open();
      for (const id of ['gone', 'kept']) {
        await s.upsertTemplate(template(id, { names: [`${id}-name`] }));
        await s.upsertBuild(build(id, 'b1'));
        await s.appendBuildLog({ templateId: id, buildId: 'b1', timestamp: T0, level: 'info', message: 'x' });
      }
      await s.deleteTemplate('gone');
      await s.deleteTemplate('never-existed');
      assert.equal(await s.findTemplate('gone'), undefined);
      assert.equal(await s.findTemplate('gone-name'), undefined);
      assert.deepEqual(await s.listBuilds('gone'), []);
      assert.deepEqual(await s.queryBuildLogs('gone', 'b1', { offset: 0, limit: 10 }), []);
      assert.equal((await s.findTemplate('kept-name'))?.templateId, 'kept');
      assert.equal((await s.listBuilds('kept')).length, 1);
      assert.equal((await s.queryBuildLogs('kept', 'b1', { offset: 0, limit: 10 })).length, 1);
      // A template made again under the same ID starts its build log from 0.
      assert.equal(
        (await s.appendBuildLog({ templateId: 'gone', buildId: 'b1', timestamp: T0, level: 'info', message: 'y' })).seq,
        0,
      );
    });
  });
}
