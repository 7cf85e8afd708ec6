/**
 * The shared Store test suite: every Store implementation runs it (sqlite.test.ts, postgres.test.ts), so both behave
 * the same for every method — round trips of every field, ordering, cursors, filters, upserts, per-build log numbering,
 * cascading deletes and pruning. Each test gets a fresh, empty store from the factory and closes it afterwards.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { MetricSample, SandboxRecord, SnapshotRecord, Store, TemplateBuildRecord, TemplateRecord } from './store.js';

export interface StoreSuiteOptions {
  name: string;
  /** A new, empty store. */
  makeStore(): Promise<Store>;
  skip?: string | false;
}

const T0 = 1_700_000_000_000;

function sandbox(id: string, over: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    sandboxId: id,
    templateId: 'tpl',
    state: 'running',
    startedAt: T0,
    endAt: T0 + 60_000,
    timeoutMs: 60_000,
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: 10_240,
    metadata: {},
    envVars: {},
    onTimeout: 'kill',
    autoResume: false,
    allowInternetAccess: true,
    teamId: 'admin',
    ...over,
  };
}

function template(id: string, over: Partial<TemplateRecord> = {}): TemplateRecord {
  return {
    templateId: id,
    buildId: `${id}-b1`,
    names: [],
    cpuCount: 2,
    memoryMB: 1024,
    diskSizeMB: 4096,
    layers: [],
    status: 'ready',
    public: false,
    createdAt: T0,
    updatedAt: T0,
    spawnCount: 0,
    buildCount: 1,
    teamId: 'admin',
    ...over,
  };
}

function build(templateId: string, buildId: string, over: Partial<TemplateBuildRecord> = {}): TemplateBuildRecord {
  return { buildId, templateId, status: 'building', cpuCount: 2, memoryMB: 1024, diskSizeMB: 4096, createdAt: T0, updatedAt: T0, ...over };
}

function snapshot(id: string, over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    snapshotId: id,
    sandboxId: 'sbx',
    templateId: 'tpl',
    createdAt: T0,
    imageDir: `/snap/${id}`,
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: 10_240,
    envVars: {},
    allowInternetAccess: false,
    teamId: 'admin',
    ...over,
  };
}

function metric(sandboxId: string, timestamp: number, over: Partial<MetricSample> = {}): MetricSample {
  return {
    sandboxId,
    timestamp,
    cpuCount: 2,
    cpuUsedPct: 12.5,
    memUsed: 512 * 2 ** 20,
    memTotal: 2 ** 40, // past 2^32: 64-bit columns, numbers back
    memCache: 3,
    diskUsed: 4,
    diskTotal: 5,
    ...over,
  };
}

const ids = (rows: { sandboxId: string }[]) => rows.map((r) => r.sandboxId);

/**
 * Registers the suite with node:test.
 *
 * @example
 * storeSuite({ name: 'sqlite', makeStore: async () => new SqliteStore(path.join(dir, `${n++}.db`)) });
 */
export function storeSuite(o: StoreSuiteOptions): void {
  describe(`store suite: ${o.name}`, { skip: o.skip }, () => {
    let store: Store | undefined;
    const open = async () => (store = await o.makeStore());
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    describe('sandboxes', () => {
      it('round-trips every field; optional ones stay absent; unknown IDs are undefined', async () => {
        const s = await open();
        const full = sandbox('full', {
          alias: 'my-alias',
          state: 'paused',
          metadata: { userId: '123', 'k"ey': "va'lue" },
          envVars: { API_TOKEN: 'xxx', EMPTY: '' },
          onTimeout: 'pause',
          autoResume: true,
          envdAccessToken: 'tok',
          allowInternetAccess: false,
          runtime: { pid: 4242, address: '10.13.0.2', envdUrl: 'http://10.13.0.2:49983' },
          pausedImage: '/snap/v1/sandboxes/full/1',
          nodeId: 'node-a',
        });
        const bare = sandbox('bare');
        await s.insertSandbox(full);
        await s.insertSandbox(bare);
        assert.deepEqual(await s.getSandbox('full'), full);
        assert.deepEqual(await s.getSandbox('bare'), bare);
        assert.equal(await s.getSandbox('nope'), undefined);
      });

      it('insert of an existing ID replaces the record', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('a', { alias: 'x', metadata: { a: '1' } }));
        const again = sandbox('a', { state: 'paused', metadata: { b: '2' } });
        await s.insertSandbox(again);
        assert.deepEqual(await s.getSandbox('a'), again);
        assert.equal((await s.listSandboxes()).length, 1);
      });

      it('update changes only the given fields; undefined clears; sandboxId and unknown keys are ignored', async () => {
        const s = await open();
        const rt = { pid: 1, address: '10.13.0.6', envdUrl: 'http://10.13.0.6:49983' };
        await s.insertSandbox(sandbox('u', { runtime: rt, metadata: { m: '1' } }));
        await s.updateSandbox('u', { state: 'paused', runtime: undefined, pausedImage: '/img', endAt: T0 + 5 });
        assert.deepEqual(await s.getSandbox('u'), sandbox('u', { state: 'paused', pausedImage: '/img', endAt: T0 + 5, metadata: { m: '1' } }));
        await s.updateSandbox('u', { metadata: { m: '2' }, autoResume: true, runtime: rt, pausedImage: undefined });
        assert.deepEqual(await s.getSandbox('u'), sandbox('u', { state: 'paused', endAt: T0 + 5, metadata: { m: '2' }, autoResume: true, runtime: rt }));
        await s.updateSandbox('u', { sandboxId: 'other', bogus: 1 } as Partial<SandboxRecord>);
        await s.updateSandbox('u', {});
        await s.updateSandbox('missing', { state: 'paused' });
        assert.equal((await s.getSandbox('u'))?.sandboxId, 'u');
        assert.equal(await s.getSandbox('other'), undefined);
        assert.equal(await s.getSandbox('missing'), undefined);
      });

      it('transition applies only from an expected state, once: of two racing transitions exactly one wins', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('t', { metadata: { m: '1' } }));
        assert.equal(await s.transitionSandbox('t', ['paused'], { state: 'running', endAt: T0 + 9 }), false);
        assert.deepEqual(await s.getSandbox('t'), sandbox('t', { metadata: { m: '1' } }));
        const wins = await Promise.all([
          s.transitionSandbox('t', ['running'], { state: 'paused', pausedImage: '/a' }),
          s.transitionSandbox('t', ['running'], { state: 'paused', pausedImage: '/b' }),
        ]);
        assert.deepEqual(wins.sort(), [false, true]);
        const after = await s.getSandbox('t');
        assert.equal(after?.state, 'paused');
        assert.ok(after?.pausedImage === '/a' || after?.pausedImage === '/b');
        assert.equal(await s.transitionSandbox('t', ['running', 'paused'], {}), true, 'an empty patch still checks the state');
        assert.equal(await s.transitionSandbox('t', [], { state: 'running' }), false);
        assert.equal(await s.transitionSandbox('missing', ['running'], { state: 'paused' }), false);
      });

      it('lists newest first (ties by ID, descending) and filters by state', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('b', { startedAt: T0 + 1 }));
        await s.insertSandbox(sandbox('a', { startedAt: T0 + 1, state: 'paused' }));
        await s.insertSandbox(sandbox('c', { startedAt: T0 }));
        await s.insertSandbox(sandbox('d', { startedAt: T0 + 2 }));
        assert.deepEqual(ids(await s.listSandboxes()), ['d', 'b', 'a', 'c']);
        assert.deepEqual(ids(await s.listSandboxes({ states: ['paused'] })), ['a']);
        assert.deepEqual(ids(await s.listSandboxes({ states: ['running', 'paused'] })), ['d', 'b', 'a', 'c']);
        assert.deepEqual(ids(await s.listSandboxes({ states: [] })), ['d', 'b', 'a', 'c'], 'an empty state list filters nothing');
        assert.deepEqual(ids(await s.listSandboxes({ limit: 2 })), ['d', 'b']);
      });

      it('pages with the (startedAt, sandboxId) cursor across ties without gaps or repeats', async () => {
        const s = await open();
        const want: string[] = [];
        // Three per start time, inserted in the opposite order.
        for (const t of [3, 2, 1]) for (const id of ['z', 'm', 'a']) want.push(`${id}${t}`);
        for (const id of [...want].reverse()) await s.insertSandbox(sandbox(id, { startedAt: T0 + Number(id.slice(1)) }));
        const seen: string[] = [];
        let after: { startedAt: number; sandboxId: string } | undefined;
        for (;;) {
          const page = await s.listSandboxes({ limit: 2, after });
          if (!page.length) break;
          assert.ok(page.length <= 2);
          seen.push(...ids(page));
          const last = page[page.length - 1];
          after = { startedAt: last.startedAt, sandboxId: last.sandboxId };
        }
        assert.deepEqual(seen, want);
        assert.deepEqual(ids(await s.listSandboxes({ after: { startedAt: T0 + 2, sandboxId: 'm2' }, states: ['running'] })), ['a2', 'z1', 'm1', 'a1']);
      });

      it('orders oldest first on request (cursor pages that way too) and filters by template and start time', async () => {
        const s = await open();
        for (const [id, t, tpl] of [['a', 1, 'x'], ['b', 2, 'y'], ['c', 2, 'x'], ['d', 3, 'x']] as const) {
          await s.insertSandbox(sandbox(id, { startedAt: T0 + t, templateId: tpl }));
        }
        assert.deepEqual(ids(await s.listSandboxes({ order: 'asc' })), ['a', 'b', 'c', 'd']);
        assert.deepEqual(ids(await s.listSandboxes({ order: 'desc' })), ['d', 'c', 'b', 'a']);
        assert.deepEqual(ids(await s.listSandboxes({ order: 'asc', after: { startedAt: T0 + 2, sandboxId: 'b' } })), ['c', 'd']);
        assert.deepEqual(ids(await s.listSandboxes({ templateId: 'x' })), ['d', 'c', 'a']);
        assert.deepEqual(ids(await s.listSandboxes({ templateId: `x' OR '1'='1` })), []);
        assert.deepEqual(ids(await s.listSandboxes({ startedAfterMs: T0 + 2 })), ['d', 'c', 'b'], 'at or after');
        assert.deepEqual(ids(await s.listSandboxes({ startedAfterMs: T0 + 2, templateId: 'x', order: 'asc', limit: 1 })), ['c']);
      });

      it('filters by metadata: every pair must match, keys and values with quotes and path characters are literal', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('q1', { metadata: { user: '1', 'we"ird': `it's "quoted"`, 'a.b': 'dot', '$[0]': 'path' } }));
        await s.insertSandbox(sandbox('q2', { metadata: { user: '1', 'we"ird': 'other' } }));
        await s.insertSandbox(sandbox('q3', { metadata: { user: '2' }, startedAt: T0 - 1 }));
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '1' } })).sort(), ['q1', 'q2']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '1', 'we"ird': `it's "quoted"` } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { 'we"ird': 'other' } })), ['q2']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { 'a.b': 'dot' } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { '$[0]': 'path' } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: `1' OR '1'='1` } })), []);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { missing: '' } })), [], 'an absent key is not an empty value');
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '2' }, states: ['running'] })), ['q3']);
      });

      it('expired: endAt at or before now, running and paused alike', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('past', { endAt: T0 - 1 }));
        await s.insertSandbox(sandbox('now', { endAt: T0, state: 'paused' }));
        await s.insertSandbox(sandbox('future', { endAt: T0 + 1 }));
        assert.deepEqual(ids(await s.expiredSandboxes(T0)).sort(), ['now', 'past']);
        assert.deepEqual(await s.expiredSandboxes(T0 - 10), []);
        const [rec] = await s.expiredSandboxes(T0 - 1);
        assert.deepEqual(rec, sandbox('past', { endAt: T0 - 1 }), 'whole records');
      });

      it('deletes (unknown IDs too)', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('x'));
        await s.insertSandbox(sandbox('y'));
        await s.deleteSandbox('x');
        await s.deleteSandbox('never');
        assert.deepEqual(ids(await s.listSandboxes()), ['y']);
      });
    });

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
        assert.deepEqual((await s.listTemplates()).map((t) => t.templateId), ['t1', 't2', 't3']);
      });

      it('builds: round trip, upsert updates, listed newest first and per template', async () => {
        const s = await open();
        const failed = build('t', 'b1', { status: 'error', source: 'image debian:bookworm', reason: { message: 'boom', step: 'RUN x', exitCode: 2 }, finishedAt: T0 + 5 });
        await s.upsertBuild(build('t', 'b1'));
        await s.upsertBuild(failed);
        await s.upsertBuild(build('t', 'b3', { createdAt: T0 + 10 }));
        await s.upsertBuild(build('t', 'b2', { createdAt: T0 + 10 }));
        await s.upsertBuild(build('other', 'b9', { createdAt: T0 + 20 }));
        assert.deepEqual(await s.getBuild('t', 'b1'), failed);
        assert.deepEqual(await s.getBuild('t', 'b2'), build('t', 'b2', { createdAt: T0 + 10 }));
        assert.equal(await s.getBuild('other', 'b1'), undefined);
        assert.equal(await s.getBuild('t', 'none'), undefined);
        assert.deepEqual((await s.listBuilds('t')).map((b) => b.buildId), ['b3', 'b2', 'b1']);
        assert.deepEqual(await s.listBuilds('nobody'), []);
      });

      it('build logs: seq counts per build from 0, in call order even when calls overlap', async () => {
        const s = await open();
        const line = (buildId: string, message: string, level: 'debug' | 'info' | 'warn' | 'error' = 'info', step?: string) => ({
          templateId: 't',
          buildId,
          timestamp: T0,
          level,
          message,
          ...(step ? { step } : {}),
        });
        assert.deepEqual(await s.appendBuildLog(line('b1', 'first', 'info', 'FROM')), { ...line('b1', 'first', 'info', 'FROM'), seq: 0 });
        assert.equal((await s.appendBuildLog(line('b1', 'second'))).seq, 1);
        assert.equal((await s.appendBuildLog(line('b2', 'other build'))).seq, 0);
        assert.equal((await s.appendBuildLog({ ...line('b1', 'other template'), templateId: 'u' })).seq, 0);
        const many = await Promise.all(Array.from({ length: 20 }, (_, i) => s.appendBuildLog(line('b3', `m${i}`))));
        assert.deepEqual(many.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i));
        const stored = await s.queryBuildLogs('t', 'b3', { offset: 0, limit: 100 });
        assert.deepEqual(stored.map((e) => `${e.seq}:${e.message}`), many.map((e) => `${e.seq}:${e.message}`));
      });

      it('build logs: offset, limit and minLevel; step absent when not given', async () => {
        const s = await open();
        const levels = ['debug', 'info', 'warn', 'error', 'info', 'error'] as const;
        for (const [i, level] of levels.entries()) {
          await s.appendBuildLog({ templateId: 't', buildId: 'b', timestamp: T0 + i, level, message: `l${i}`, ...(i === 2 ? { step: 'RUN make' } : {}) });
        }
        const all = await s.queryBuildLogs('t', 'b', { offset: 0, limit: 100 });
        assert.deepEqual(all.map((e) => e.seq), [0, 1, 2, 3, 4, 5]);
        assert.deepEqual(all[0], { templateId: 't', buildId: 'b', seq: 0, timestamp: T0, level: 'debug', message: 'l0' });
        assert.equal(all[2].step, 'RUN make');
        assert.deepEqual((await s.queryBuildLogs('t', 'b', { offset: 2, limit: 2 })).map((e) => e.seq), [2, 3]);
        assert.deepEqual((await s.queryBuildLogs('t', 'b', { offset: 0, limit: 100, minLevel: 'warn' })).map((e) => e.seq), [2, 3, 5]);
        assert.deepEqual((await s.queryBuildLogs('t', 'b', { offset: 3, limit: 1, minLevel: 'info' })).map((e) => e.seq), [3]);
        assert.deepEqual(await s.queryBuildLogs('t', 'b', { offset: 6, limit: 10 }), []);
        assert.deepEqual(await s.queryBuildLogs('t', 'x', { offset: 0, limit: 10 }), []);
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
        assert.equal((await s.appendBuildLog({ templateId: 'gone', buildId: 'b1', timestamp: T0, level: 'info', message: 'y' })).seq, 0);
      });
    });

    describe('sandbox logs', () => {
      it('query forward and backward with cursor, limit, minLevel and a literal, case-insensitive search', async () => {
        const s = await open();
        const add = (sandboxId: string, timestamp: number, level: 'debug' | 'info' | 'warn' | 'error', message: string, fields = {}) =>
          s.appendLog({ sandboxId, timestamp, level, message, fields });
        await add('a', T0 + 1, 'info', 'Sandbox created', { templateId: 'default', quote: `"'` });
        await add('a', T0 + 2, 'debug', 'probe');
        await add('a', T0 + 2, 'warn', '100% full');
        await add('a', T0 + 3, 'error', 'OOM killed');
        await add('b', T0 + 1, 'info', 'other sandbox');
        const fwd = await s.queryLogs('a', { limit: 10, direction: 'forward' });
        assert.deepEqual(fwd.map((e) => e.message), ['Sandbox created', 'probe', '100% full', 'OOM killed']);
        assert.deepEqual(fwd[0].fields, { templateId: 'default', quote: `"'` });
        assert.equal(fwd[0].sandboxId, 'a');
        assert.equal(fwd[0].timestamp, T0 + 1);
        assert.equal(fwd[0].level, 'info');
        assert.ok(fwd.every((e, i) => i === 0 || e.seq > fwd[i - 1].seq), 'seq increases');
        const back = await s.queryLogs('a', { limit: 10, direction: 'backward' });
        assert.deepEqual(back.map((e) => e.message), ['OOM killed', '100% full', 'probe', 'Sandbox created']);
        assert.deepEqual((await s.queryLogs('a', { limit: 10, direction: 'forward', cursor: T0 + 1 })).map((e) => e.message), ['probe', '100% full', 'OOM killed']);
        assert.deepEqual((await s.queryLogs('a', { limit: 10, direction: 'backward', cursor: T0 + 3 })).map((e) => e.message), ['100% full', 'probe', 'Sandbox created']);
        assert.deepEqual((await s.queryLogs('a', { limit: 2, direction: 'forward' })).map((e) => e.message), ['Sandbox created', 'probe']);
        assert.deepEqual((await s.queryLogs('a', { limit: 10, direction: 'forward', minLevel: 'warn' })).map((e) => e.message), ['100% full', 'OOM killed']);
        assert.deepEqual((await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'oom' })).map((e) => e.message), ['OOM killed']);
        assert.deepEqual((await s.queryLogs('a', { limit: 10, direction: 'forward', search: '0%' })).map((e) => e.message), ['100% full']);
        assert.deepEqual(await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'o%d' }), [], '% is no wildcard');
        assert.deepEqual(await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'pr_be' }), [], '_ is no wildcard');
        assert.deepEqual(await s.queryLogs('nobody', { limit: 10, direction: 'forward' }), []);
      });

      it('pruneLogs deletes old entries of sandboxes that are gone, and only those', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('alive'));
        for (const id of ['alive', 'dead']) {
          await s.appendLog({ sandboxId: id, timestamp: T0, level: 'info', message: 'old', fields: {} });
          await s.appendLog({ sandboxId: id, timestamp: T0 + 100, level: 'info', message: 'new', fields: {} });
        }
        await s.pruneLogs(T0 + 100);
        const msgs = async (id: string) => (await s.queryLogs(id, { limit: 10, direction: 'forward' })).map((e) => e.message);
        assert.deepEqual(await msgs('alive'), ['old', 'new']);
        assert.deepEqual(await msgs('dead'), ['new']);
      });
    });

    describe('metrics', () => {
      it('query a time range (inclusive, in order); a second sample at the same time replaces the first', async () => {
        const s = await open();
        await s.appendMetric(metric('a', T0 + 2000));
        await s.appendMetric(metric('a', T0));
        await s.appendMetric(metric('a', T0 + 1000, { cpuUsedPct: 0.25 }));
        await s.appendMetric(metric('a', T0 + 1000, { cpuUsedPct: 99.75, memUsed: 7 }));
        await s.appendMetric(metric('b', T0 + 1000));
        const all = await s.queryMetrics('a', T0, T0 + 2000);
        assert.deepEqual(all.map((m) => m.timestamp), [T0, T0 + 1000, T0 + 2000]);
        assert.deepEqual(all[1], metric('a', T0 + 1000, { cpuUsedPct: 99.75, memUsed: 7 }));
        assert.equal(typeof all[0].memTotal, 'number');
        assert.deepEqual((await s.queryMetrics('a', T0 + 1, T0 + 1999)).map((m) => m.timestamp), [T0 + 1000]);
        assert.deepEqual(await s.queryMetrics('a', T0 + 3000, T0 + 4000), []);
      });

      it('latestMetrics gives the newest sample of each asked sandbox', async () => {
        const s = await open();
        for (const t of [T0, T0 + 2000, T0 + 1000]) {
          await s.appendMetric(metric('a', t, { memUsed: t - T0 }));
          await s.appendMetric(metric('b', t + 5, { memUsed: t - T0 }));
        }
        await s.appendMetric(metric('c', T0 + 9000));
        const latest = (await s.latestMetrics(['a', 'b', 'nobody'])).sort((x, y) => x.sandboxId.localeCompare(y.sandboxId));
        assert.deepEqual(latest, [metric('a', T0 + 2000, { memUsed: 2000 }), metric('b', T0 + 2005, { memUsed: 2000 })]);
        assert.deepEqual(await s.latestMetrics([]), []);
      });

      it('pruneMetrics deletes old samples, and every sample of sandboxes that are gone', async () => {
        const s = await open();
        await s.insertSandbox(sandbox('alive'));
        for (const id of ['alive', 'dead']) {
          await s.appendMetric(metric(id, T0));
          await s.appendMetric(metric(id, T0 + 100));
        }
        await s.pruneMetrics(T0 + 100);
        assert.deepEqual((await s.queryMetrics('alive', 0, T0 + 1000)).map((m) => m.timestamp), [T0 + 100]);
        assert.deepEqual(await s.queryMetrics('dead', 0, T0 + 1000), []);
      });
    });

    describe('snapshots', () => {
      it('round-trips every field; found by ID or by name (the newest of that name; an ID wins)', async () => {
        const s = await open();
        const full = snapshot('s1', { name: 'before-step', envVars: { A: '1' }, envdAccessToken: 'tok', allowInternetAccess: true, createdAt: T0 + 1 });
        await s.insertSnapshot(full);
        await s.insertSnapshot(snapshot('s0', { name: 'before-step' }));
        await s.insertSnapshot(snapshot('s2', { name: 's0', createdAt: T0 + 5 }));
        assert.deepEqual(await s.findSnapshot('s1'), full);
        assert.deepEqual(await s.findSnapshot('before-step'), full);
        assert.equal((await s.findSnapshot('s0'))?.snapshotId, 's0');
        assert.deepEqual(await s.findSnapshot('s2'), snapshot('s2', { name: 's0', createdAt: T0 + 5 }));
        assert.equal(await s.findSnapshot('nope'), undefined);
      });

      it('lists newest first with sandbox and name filters, cursor pages across ties, 100 by default', async () => {
        const s = await open();
        const want: string[] = [];
        for (const t of [3, 2, 1]) for (const id of ['z', 'm', 'a']) want.push(`${id}${t}`);
        for (const id of [...want].reverse()) {
          const t = Number(id.slice(1));
          await s.insertSnapshot(snapshot(id, { createdAt: T0 + t, sandboxId: t === 2 ? 'two' : 'sbx', name: id.startsWith('m') ? 'mid' : undefined }));
        }
        const sids = (rows: SnapshotRecord[]) => rows.map((r) => r.snapshotId);
        assert.deepEqual(sids(await s.listSnapshots({})), want);
        assert.deepEqual(sids(await s.listSnapshots({ sandboxId: 'two' })), ['z2', 'm2', 'a2']);
        assert.deepEqual(sids(await s.listSnapshots({ name: 'mid' })), ['m3', 'm2', 'm1']);
        assert.deepEqual(sids(await s.listSnapshots({ name: 'mid', sandboxId: 'sbx' })), ['m3', 'm1']);
        const seen: string[] = [];
        let after: { createdAt: number; snapshotId: string } | undefined;
        for (;;) {
          const page = await s.listSnapshots({ limit: 2, after });
          if (!page.length) break;
          seen.push(...sids(page));
          const last = page[page.length - 1];
          after = { createdAt: last.createdAt, snapshotId: last.snapshotId };
        }
        assert.deepEqual(seen, want);
        for (let i = 0; i < 95; i++) await s.insertSnapshot(snapshot(`n${String(i).padStart(3, '0')}`, { createdAt: T0 - i }));
        assert.equal((await s.listSnapshots({})).length, 100);
      });

      it('deletes snapshots', async () => {
        const s = await open();
        await s.insertSnapshot(snapshot('d1', { name: 'n' }));
        await s.insertSnapshot(snapshot('d2'));
        await s.deleteSnapshot('d1');
        await s.deleteSnapshot('never');
        assert.equal(await s.findSnapshot('d1'), undefined);
        assert.equal(await s.findSnapshot('n'), undefined);
        assert.deepEqual((await s.listSnapshots({})).map((r) => r.snapshotId), ['d2']);
      });
    });

    describe('settings', () => {
      it('get, set, overwrite', async () => {
        const s = await open();
        assert.equal(await s.getSetting('api_key'), undefined);
        await s.setSetting('api_key', 'e2b_1');
        await s.setSetting('other', 'ünïcode ✓ "quoted"');
        await s.setSetting('api_key', 'e2b_2');
        assert.equal(await s.getSetting('api_key'), 'e2b_2');
        assert.equal(await s.getSetting('other'), 'ünïcode ✓ "quoted"');
        await s.setSetting('empty', '');
        assert.equal(await s.getSetting('empty'), '');
      });
    });
  });
}
