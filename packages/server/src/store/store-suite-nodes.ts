/**
 * The store suite's nodes part: registration, heartbeats on the database's clock, the lease check that exactly one
 * caller wins, a dead node's heartbeat refused until it registers again, draining kept across re-registration.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from './store.js';

const CAP = { cpuCount: 2, memoryMB: 4096, freeMemoryMB: 2048, sandboxSlots: 100, runningSandboxes: 3 };

/** Registers this part of the suite; `open` gives a fresh, empty store (closed after each test). */
export function nodeCases(open: () => Promise<Store>): void {
  describe('nodes', () => {
    it('registers, heartbeats (database clock) and lists nodes', async () => {
      const s = await open();
      const a = await s.registerNode('node-a', 'http://10.0.0.1:3000', CAP);
      assert.equal(a.state, 'alive');
      assert.equal(a.address, 'http://10.0.0.1:3000');
      assert.ok(Math.abs(a.heartbeatAt - a.nowMs) < 1000);
      await s.registerNode('node-b', 'http://10.0.0.2:3000', { ...CAP, runningSandboxes: 0 });
      await new Promise((r) => setTimeout(r, 20));
      const hb = await s.heartbeatNode('node-a', { ...CAP, runningSandboxes: 7 });
      assert.equal(hb?.runningSandboxes, 7);
      assert.ok(hb!.heartbeatAt > a.heartbeatAt);
      assert.deepEqual(
        (await s.listNodes()).map((n) => [n.nodeId, n.runningSandboxes]),
        [
          ['node-a', 7],
          ['node-b', 0],
        ],
      );
      assert.equal(await s.heartbeatNode('nope', CAP), undefined);
      assert.equal(await s.getNode('nope'), undefined);
    });

    it('declares a node dead only past its lease, once; a dead node must register again', async () => {
      const s = await open();
      await s.registerNode('node-a', 'http://a', CAP);
      assert.equal(await s.declareNodeDead('node-a', 60_000, 'x'), false, 'within its lease');
      await new Promise((r) => setTimeout(r, 50));
      const racers = await Promise.all([1, 2, 3].map((i) => s.declareNodeDead('node-a', 10, `by ${i}`)));
      assert.equal(racers.filter(Boolean).length, 1, 'exactly one caller declares it dead');
      const dead = await s.getNode('node-a');
      assert.equal(dead?.state, 'dead');
      assert.match(dead?.stateReason ?? '', /^by \d$/);
      assert.equal(await s.heartbeatNode('node-a', CAP), undefined, 'a dead node cannot just heartbeat on');
      assert.equal((await s.registerNode('node-a', 'http://a', CAP)).state, 'alive');
    });

    it('drains by a conditional change; re-registration keeps a node draining', async () => {
      const s = await open();
      await s.registerNode('node-a', 'http://a', CAP);
      assert.equal(await s.transitionNode('node-a', ['alive'], 'draining', 'by admin'), true);
      assert.equal(await s.transitionNode('node-a', ['alive'], 'draining'), false);
      assert.equal((await s.registerNode('node-a', 'http://a2', CAP)).state, 'draining');
      assert.equal((await s.getNode('node-a'))?.address, 'http://a2');
      assert.equal(await s.transitionNode('node-a', ['draining'], 'alive'), true);
    });
  });
}
