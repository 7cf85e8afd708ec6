/**
 * The store suite's sandboxes part: round trips, replace, patch, conditional transitions, listing, cursors, filters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SandboxRecord, Store } from './store.js';
import { T0, ids, sandbox } from './store-suite-records.js';

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function sandboxCases(open: () => Promise<Store>): void {
  describe('sandboxes', () => {
    it('round-trips every field; optional ones stay absent; unknown IDs are undefined', async () => {
      const s = await open();
      const full = sandbox('full', {
        alias: 'my-alias',
        state: 'paused',
        metadata: { userId: '123', 'k"ey': "va'lue" },
        envVars: { API_TOKEN: 'xxx', EMPTY: '' },
        onTimeout: 'pause',
        autoPauseMemory: false,
        autoResume: true,
        envdAccessToken: 'tok',
        allowInternetAccess: false,
        runtime: { pid: 4242, address: '10.13.0.2', envdUrl: 'http://10.13.0.2:49983' },
        pausedImage: '/snap/v1/sandboxes/full/1',
        pauseMode: 'filesystem',
        nodeId: 'node-a',
        stateReason: 'why',
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
      assert.deepEqual(
        await s.getSandbox('u'),
        sandbox('u', { state: 'paused', pausedImage: '/img', endAt: T0 + 5, metadata: { m: '1' } }),
      );
      await s.updateSandbox('u', { metadata: { m: '2' }, autoResume: true, runtime: rt, pausedImage: undefined });
      assert.deepEqual(
        await s.getSandbox('u'),
        sandbox('u', { state: 'paused', endAt: T0 + 5, metadata: { m: '2' }, autoResume: true, runtime: rt }),
      );
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
      assert.equal(
        await s.transitionSandbox('t', ['running', 'paused'], {}),
        true,
        'an empty patch still checks the state',
      );
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
      assert.deepEqual(
        ids(await s.listSandboxes({ states: [] })),
        ['d', 'b', 'a', 'c'],
        'an empty state list filters nothing',
      );
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
      assert.deepEqual(
        ids(await s.listSandboxes({ after: { startedAt: T0 + 2, sandboxId: 'm2' }, states: ['running'] })),
        ['a2', 'z1', 'm1', 'a1'],
      );
    });

    it(
      'orders oldest first on request (cursor pages that ' + 'way too) and filters by template and start time',
      async () => {
        const s = await open();
        for (const [id, t, tpl] of [
          ['a', 1, 'x'],
          ['b', 2, 'y'],
          ['c', 2, 'x'],
          ['d', 3, 'x'],
        ] as const) {
          await s.insertSandbox(sandbox(id, { startedAt: T0 + t, templateId: tpl }));
        }
        assert.deepEqual(ids(await s.listSandboxes({ order: 'asc' })), ['a', 'b', 'c', 'd']);
        assert.deepEqual(ids(await s.listSandboxes({ order: 'desc' })), ['d', 'c', 'b', 'a']);
        assert.deepEqual(ids(await s.listSandboxes({ order: 'asc', after: { startedAt: T0 + 2, sandboxId: 'b' } })), [
          'c',
          'd',
        ]);
        assert.deepEqual(ids(await s.listSandboxes({ templateId: 'x' })), ['d', 'c', 'a']);
        assert.deepEqual(ids(await s.listSandboxes({ templateId: `x' OR '1'='1` })), []);
        assert.deepEqual(ids(await s.listSandboxes({ startedAfterMs: T0 + 2 })), ['d', 'c', 'b'], 'at or after');
        assert.deepEqual(
          ids(await s.listSandboxes({ startedAfterMs: T0 + 2, templateId: 'x', order: 'asc', limit: 1 })),
          ['c'],
        );
      },
    );

    it(
      'filters by metadata: every pair must match, keys and ' + 'values with quotes and path characters are literal',
      async () => {
        const s = await open();
        await s.insertSandbox(
          sandbox('q1', { metadata: { user: '1', 'we"ird': `it's "quoted"`, 'a.b': 'dot', '$[0]': 'path' } }),
        );
        await s.insertSandbox(sandbox('q2', { metadata: { user: '1', 'we"ird': 'other' } }));
        await s.insertSandbox(sandbox('q3', { metadata: { user: '2' }, startedAt: T0 - 1 }));
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '1' } })).sort(), ['q1', 'q2']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '1', 'we"ird': `it's "quoted"` } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { 'we"ird': 'other' } })), ['q2']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { 'a.b': 'dot' } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { '$[0]': 'path' } })), ['q1']);
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: `1' OR '1'='1` } })), []);
        assert.deepEqual(
          ids(await s.listSandboxes({ metadata: { missing: '' } })),
          [],
          'an absent key is not an empty value',
        );
        assert.deepEqual(ids(await s.listSandboxes({ metadata: { user: '2' }, states: ['running'] })), ['q3']);
      },
    );

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
}
