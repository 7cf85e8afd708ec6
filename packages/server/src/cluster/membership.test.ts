/**
 * Membership over a real store shared by two "nodes" (two SqliteStore connections on one file, as two servers on
 * one database): heartbeats keep both alive; when node A stops beating, B declares it dead once its lease passed and
 * settles its sandboxes (running → lost with the reason, resuming → paused, paused untouched); when A beats again it
 * learns it was declared dead, gives up its copies (onSelfDead) and registers again as alive — the lost records stay
 * lost (it does not fight over them).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../store/sqlite.js';
import { sandbox } from '../store/store-suite-records.js';
import type { Store } from '../store/store.js';
import { settleDeadNode } from './lost.js';
import { Membership } from './membership.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-membership-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CAP = { cpuCount: 2, memoryMB: 1024, freeMemoryMB: 512, sandboxSlots: 10, runningSandboxes: 0 };

function member(store: Store, nodeId: string, events: string[]) {
  return new Membership({
    store,
    nodeId,
    heartbeatMs: 50,
    leaseMs: 400,
    capacity: async () => CAP,
    onNodeDead: async (n, reason) => {
      events.push(`${nodeId} declared ${n.nodeId} dead`);
      await settleDeadNode(store, n.nodeId, reason, () => {});
    },
    onSelfDead: async () => void events.push(`${nodeId} learned it was dead`),
    log: () => {},
  });
}

describe('membership: heartbeats, leases, dead nodes', () => {
  it('a node past its lease is declared dead once; its sandboxes settle; it comes back without fighting', async () => {
    const file = path.join(dir, 'db.sqlite');
    const storeA = new SqliteStore(file);
    const storeB = new SqliteStore(file);
    const events: string[] = [];
    const a = member(storeA, 'node-a', events);
    const b = member(storeB, 'node-b', events);
    await a.start('http://a:3000');
    await b.start('http://b:3000');
    await storeA.insertSandbox(sandbox('runs', { state: 'running', nodeId: 'node-a', endAt: Date.now() + 60_000 }));
    await storeA.insertSandbox(sandbox('resumes', { state: 'resuming', nodeId: 'node-a', pausedImage: '/img' }));
    await storeA.insertSandbox(sandbox('sleeps', { state: 'paused', pausedImage: '/img2' }));
    await storeA.insertSandbox(sandbox('elsewhere', { state: 'running', nodeId: 'node-b' }));
    await sleep(800);
    assert.deepEqual(events, [], 'both heartbeat within the lease');
    assert.deepEqual(
      (await b.refresh()).map((n) => [n.nodeId, n.state, b.isLive(n)]),
      [
        ['node-a', 'alive', true],
        ['node-b', 'alive', true],
      ],
    );

    await a.stop(); // A stalls
    const t0 = Date.now();
    while (!events.length && Date.now() - t0 < 5000) await sleep(20);
    assert.deepEqual(events, ['node-b declared node-a dead']);
    assert.ok(Date.now() - t0 >= 300, 'not before the lease');
    const runs = await storeB.getSandbox('runs');
    assert.equal(runs?.state, 'lost');
    assert.match(runs?.stateReason ?? '', /node 'node-a' missed its lease .* declared dead by 'node-b'/);
    assert.equal(runs?.runtime, undefined);
    const resumes = await storeB.getSandbox('resumes');
    assert.equal(resumes?.state, 'paused');
    assert.equal(resumes?.nodeId, undefined);
    assert.equal((await storeB.getSandbox('sleeps'))?.state, 'paused');
    assert.equal((await storeB.getSandbox('elsewhere'))?.state, 'running');
    assert.equal((await storeB.getNode('node-a'))?.state, 'dead');

    // A comes back: its heartbeat is refused, it cleans up and registers again; the lost sandbox stays lost.
    const back = member(storeA, 'node-a', events);
    await back.beat();
    assert.deepEqual(events, ['node-b declared node-a dead', 'node-a learned it was dead']);
    assert.equal((await storeA.getNode('node-a'))?.state, 'alive');
    assert.equal((await storeA.getSandbox('runs'))?.state, 'lost');
    await b.stop();
    await storeA.close();
    await storeB.close();
  });
});
