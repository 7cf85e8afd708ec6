/** The store suite's telemetry part: build logs (numbering per build), sandbox logs and metrics, and pruning. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from './store.js';
import { T0, metric, sandbox } from './store-suite-records.js';

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function telemetryCases(open: () => Promise<Store>): void {
  describe('build logs', () => {
    it('build logs: seq counts per build from 0, in call order even when calls overlap', async () => {
      const s = await open();
      const line = (
        buildId: string,
        message: string,
        level: 'debug' | 'info' | 'warn' | 'error' = 'info',
        step?: string,
      ) => ({
        templateId: 't',
        buildId,
        timestamp: T0,
        level,
        message,
        ...(step ? { step } : {}),
      });
      assert.deepEqual(await s.appendBuildLog(line('b1', 'first', 'info', 'FROM')), {
        ...line('b1', 'first', 'info', 'FROM'),
        seq: 0,
      });
      assert.equal((await s.appendBuildLog(line('b1', 'second'))).seq, 1);
      assert.equal((await s.appendBuildLog(line('b2', 'other build'))).seq, 0);
      assert.equal((await s.appendBuildLog({ ...line('b1', 'other template'), templateId: 'u' })).seq, 0);
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => s.appendBuildLog(line('b3', `m${i}`))));
      assert.deepEqual(
        many.map((e) => e.seq),
        Array.from({ length: 20 }, (_, i) => i),
      );
      const stored = await s.queryBuildLogs('t', 'b3', { offset: 0, limit: 100 });
      assert.deepEqual(
        stored.map((e) => `${e.seq}:${e.message}`),
        many.map((e) => `${e.seq}:${e.message}`),
      );
    });

    it('build logs: offset, limit and minLevel; step absent when not given', async () => {
      const s = await open();
      const levels = ['debug', 'info', 'warn', 'error', 'info', 'error'] as const;
      for (const [i, level] of levels.entries()) {
        await s.appendBuildLog({
          templateId: 't',
          buildId: 'b',
          timestamp: T0 + i,
          level,
          message: `l${i}`,
          ...(i === 2 ? { step: 'RUN make' } : {}),
        });
      }
      const all = await s.queryBuildLogs('t', 'b', { offset: 0, limit: 100 });
      assert.deepEqual(
        all.map((e) => e.seq),
        [0, 1, 2, 3, 4, 5],
      );
      assert.deepEqual(all[0], { templateId: 't', buildId: 'b', seq: 0, timestamp: T0, level: 'debug', message: 'l0' });
      assert.equal(all[2].step, 'RUN make');
      assert.deepEqual(
        (await s.queryBuildLogs('t', 'b', { offset: 2, limit: 2 })).map((e) => e.seq),
        [2, 3],
      );
      assert.deepEqual(
        (await s.queryBuildLogs('t', 'b', { offset: 0, limit: 100, minLevel: 'warn' })).map((e) => e.seq),
        [2, 3, 5],
      );
      assert.deepEqual(
        (await s.queryBuildLogs('t', 'b', { offset: 3, limit: 1, minLevel: 'info' })).map((e) => e.seq),
        [3],
      );
      assert.deepEqual(await s.queryBuildLogs('t', 'b', { offset: 6, limit: 10 }), []);
      assert.deepEqual(await s.queryBuildLogs('t', 'x', { offset: 0, limit: 10 }), []);
    });
  });

  describe('sandbox logs', () => {
    it('query forward and backward with cursor, limit, minLevel and a literal, case-insensitive search', async () => {
      const s = await open();
      const add = (
        sandboxId: string,
        timestamp: number,
        level: 'debug' | 'info' | 'warn' | 'error',
        message: string,
        fields = {},
      ) => s.appendLog({ sandboxId, timestamp, level, message, fields });
      await add('a', T0 + 1, 'info', 'Sandbox created', { templateId: 'default', quote: `"'` });
      await add('a', T0 + 2, 'debug', 'probe');
      await add('a', T0 + 2, 'warn', '100% full');
      await add('a', T0 + 3, 'error', 'OOM killed');
      await add('b', T0 + 1, 'info', 'other sandbox');
      const fwd = await s.queryLogs('a', { limit: 10, direction: 'forward' });
      assert.deepEqual(
        fwd.map((e) => e.message),
        ['Sandbox created', 'probe', '100% full', 'OOM killed'],
      );
      assert.deepEqual(fwd[0].fields, { templateId: 'default', quote: `"'` });
      assert.equal(fwd[0].sandboxId, 'a');
      assert.equal(fwd[0].timestamp, T0 + 1);
      assert.equal(fwd[0].level, 'info');
      assert.ok(
        fwd.every((e, i) => i === 0 || e.seq > fwd[i - 1].seq),
        'seq increases',
      );
      const back = await s.queryLogs('a', { limit: 10, direction: 'backward' });
      assert.deepEqual(
        back.map((e) => e.message),
        ['OOM killed', '100% full', 'probe', 'Sandbox created'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 10, direction: 'forward', cursor: T0 + 1 })).map((e) => e.message),
        ['probe', '100% full', 'OOM killed'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 10, direction: 'backward', cursor: T0 + 3 })).map((e) => e.message),
        ['100% full', 'probe', 'Sandbox created'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 2, direction: 'forward' })).map((e) => e.message),
        ['Sandbox created', 'probe'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 10, direction: 'forward', minLevel: 'warn' })).map((e) => e.message),
        ['100% full', 'OOM killed'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'oom' })).map((e) => e.message),
        ['OOM killed'],
      );
      assert.deepEqual(
        (await s.queryLogs('a', { limit: 10, direction: 'forward', search: '0%' })).map((e) => e.message),
        ['100% full'],
      );
      assert.deepEqual(
        await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'o%d' }),
        [],
        '% is no wildcard',
      );
      assert.deepEqual(
        await s.queryLogs('a', { limit: 10, direction: 'forward', search: 'pr_be' }),
        [],
        '_ is no wildcard',
      );
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
      const msgs = async (id: string) =>
        (await s.queryLogs(id, { limit: 10, direction: 'forward' })).map((e) => e.message);
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
      assert.deepEqual(
        all.map((m) => m.timestamp),
        [T0, T0 + 1000, T0 + 2000],
      );
      assert.deepEqual(all[1], metric('a', T0 + 1000, { cpuUsedPct: 99.75, memUsed: 7 }));
      assert.equal(typeof all[0].memTotal, 'number');
      assert.deepEqual(
        (await s.queryMetrics('a', T0 + 1, T0 + 1999)).map((m) => m.timestamp),
        [T0 + 1000],
      );
      assert.deepEqual(await s.queryMetrics('a', T0 + 3000, T0 + 4000), []);
    });

    it('latestMetrics gives the newest sample of each asked sandbox', async () => {
      const s = await open();
      for (const t of [T0, T0 + 2000, T0 + 1000]) {
        await s.appendMetric(metric('a', t, { memUsed: t - T0 }));
        await s.appendMetric(metric('b', t + 5, { memUsed: t - T0 }));
      }
      await s.appendMetric(metric('c', T0 + 9000));
      const latest = (await s.latestMetrics(['a', 'b', 'nobody'])).sort((x, y) =>
        x.sandboxId.localeCompare(y.sandboxId),
      );
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
      assert.deepEqual(
        (await s.queryMetrics('alive', 0, T0 + 1000)).map((m) => m.timestamp),
        [T0 + 100],
      );
      assert.deepEqual(await s.queryMetrics('dead', 0, T0 + 1000), []);
    });
  });
}
