/** The store suite's snapshots and settings parts: round trips, lookups by name, cursors, deletes; settings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SnapshotRecord, Store } from './store.js';
import { T0, snapshot } from './store-suite-records.js';

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function snapshotCases(open: () => Promise<Store>): void {
  describe('snapshots', () => {
    it('round-trips every field; found by ID or by name (the newest of that name; an ID wins)', async () => {
      const s = await open();
      const full = snapshot('s1', {
        name: 'before-step',
        envVars: { A: '1' },
        envdAccessToken: 'tok',
        allowInternetAccess: true,
        createdAt: T0 + 1,
      });
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
        await s.insertSnapshot(
          snapshot(id, {
            createdAt: T0 + t,
            sandboxId: t === 2 ? 'two' : 'sbx',
            name: id.startsWith('m') ? 'mid' : undefined,
          }),
        );
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
      for (let i = 0; i < 95; i++)
        await s.insertSnapshot(snapshot(`n${String(i).padStart(3, '0')}`, { createdAt: T0 - i }));
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
      assert.deepEqual(
        (await s.listSnapshots({})).map((r) => r.snapshotId),
        ['d2'],
      );
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
}
