/** The store suite's volumes part: round trips, names unique per team (a taken name writes nothing), lists, deletes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, VolumeRecord } from './store.js';
import { T0, sandbox } from './store-suite-records.js';

const volume = (volumeId: string, o: Partial<VolumeRecord> = {}): VolumeRecord => ({
  volumeId,
  name: `n-${volumeId}`,
  teamId: 'admin',
  sizeMB: 64,
  createdAt: T0,
  ...o,
});

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function volumeCases(open: () => Promise<Store>): void {
  describe('volumes', () => {
    it('round-trips; a name is unique within a team only; lists oldest first, per team; deletes', async () => {
      const s = await open();
      assert.equal(await s.insertVolume(volume('v1', { name: 'data', createdAt: T0 + 2 })), true);
      assert.equal(await s.insertVolume(volume('v2', { name: 'data' })), false);
      assert.equal(await s.getVolume('v2'), undefined);
      assert.equal(await s.insertVolume(volume('v3', { name: 'data', teamId: 'other', sizeMB: 2048 })), true);
      assert.equal(await s.insertVolume(volume('v4', { name: 'logs', createdAt: T0 + 1 })), true);
      assert.deepEqual(await s.getVolume('v1'), volume('v1', { name: 'data', createdAt: T0 + 2 }));
      assert.equal((await s.findVolumeByName('other', 'data'))?.volumeId, 'v3');
      assert.equal(await s.findVolumeByName('other', 'logs'), undefined);
      assert.deepEqual(
        (await s.listVolumes('admin')).map((v) => v.volumeId),
        ['v4', 'v1'],
      );
      assert.equal((await s.listVolumes()).length, 3);
      await s.deleteVolume('v1');
      assert.equal(await s.getVolume('v1'), undefined);
      assert.equal(await s.insertVolume(volume('v5', { name: 'data' })), true);
    });

    it("a sandbox's and a snapshot's volume mounts round-trip", async () => {
      const s = await open();
      const volumeMounts = [{ volumeId: 'v1', name: 'data', path: '/mnt/data' }];
      await s.insertSandbox(sandbox('sb1', { volumeMounts }));
      assert.deepEqual((await s.getSandbox('sb1'))?.volumeMounts, volumeMounts);
      await s.updateSandbox('sb1', { volumeMounts: undefined });
      assert.equal((await s.getSandbox('sb1'))?.volumeMounts, undefined);
    });
  });
}
