/**
 * The lifecycle state machine against the in-memory FakeDriver and SQLite store (milliseconds, no root): the
 * transition table, operations that meet on one sandbox (the driver's `gate` holds a call so the other can arrive
 * while the first holds its transitional state), a race lost at the store (another node got there first), what the
 * wire shows for each state, and restart reconciliation of a server that died in the middle of each transition.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DriverError, type FakeDriver } from '@tensor-box/runtime';
import { ApiError, toHttpError } from '../errors.js';
import type { SandboxService } from '../services/sandbox-service.js';
import { DirectorySnapshotStore } from '../services/snapshot-store.js';
import type { SqliteStore } from '../store/sqlite.js';
import type { SandboxRecord } from '../store/store.js';
import { fakeService, type FakeService } from '../testing/fake-service.js';
import { ALL_STATES, canMove, STATES, storedStates, wireState } from './states.js';
import { move } from './transitions.js';

let dir: string;
let fx: FakeService | undefined;
let driver: FakeDriver;
let store: SqliteStore;
let svc: SandboxService;
let snapshots: DirectorySnapshotStore;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-lifecycle-'));
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await fx?.close();
  rmSync(path.join(dir, 'snapshots'), { recursive: true, force: true });
  fx = await fakeService(dir);
  ({ driver, store, svc } = fx);
  snapshots = new DirectorySnapshotStore(path.join(dir, 'snapshots'));
});

const stateOf = async (id: string) => (await store.getSandbox(id))?.state;

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Holds the driver's next `call` until the returned release is called. */
function hold(call: 'checkpoint' | 'restore' | 'destroy'): () => void {
  let release!: () => void;
  driver.gate[call] = new Promise<void>((r) => (release = r)).then(() => {
    delete driver.gate[call];
  });
  return release;
}

/** The error a promise rejects with, with its HTTP body. */
async function failure(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e) => e,
  );
  assert.ok(err instanceof ApiError, `an ApiError, not ${err}`);
  const http = toHttpError(err);
  assert.equal(http.body.code, http.status, 'E2B body {code, message}');
  return { status: http.status, message: http.body.message };
}

describe('the transition table', () => {
  it('every state is reachable, only running, paused and lost are stable; the wire shows three states', () => {
    for (const s of ALL_STATES) {
      if (s !== 'running')
        assert.ok(
          ALL_STATES.some((f) => canMove(f, s)),
          `${s} reachable`,
        );
      assert.equal(STATES[s].transitional, s !== 'running' && s !== 'paused' && s !== 'lost');
    }
    assert.deepEqual(storedStates(['lost']), ['lost']);
    assert.deepEqual(STATES.lost.next, ['killing'], 'a lost sandbox can only be deleted');
    assert.deepEqual(storedStates(['running']).sort(), ['pausing', 'running', 'snapshotting']);
    assert.deepEqual(storedStates(['paused']).sort(), ['paused', 'resuming']);
    assert.equal(wireState('killing'), undefined);
    // Operations begin only from stable states; transitional ones end in a stable one.
    for (const to of ['pausing', 'resuming', 'snapshotting', 'killing'] as const) {
      for (const from of ALL_STATES.filter((f) => canMove(f, to))) {
        assert.ok(!STATES[from].transitional, `${from}→${to}`);
      }
    }
  });

  it('quotas count a sandbox as running while it runs: pausing, snapshotting, killing with a runtime', async () => {
    const sbx = await svc.create({ templateID: 'default', timeout: 60 });
    const teamId = (await store.getSandbox(sbx.sandboxID))!.teamId ?? 'admin';
    const usage = async (patch: Partial<SandboxRecord>) => {
      await store.updateSandbox(sbx.sandboxID, patch);
      const u = await store.teams.usage(teamId, Date.now());
      return [u.runningSandboxes, u.pausedSandboxes];
    };
    const runtime = (await store.getSandbox(sbx.sandboxID))!.runtime;
    assert.deepEqual(await usage({ state: 'pausing' }), [1, 0]);
    assert.deepEqual(await usage({ state: 'snapshotting' }), [1, 0]);
    assert.deepEqual(await usage({ state: 'killing' }), [1, 0]);
    assert.deepEqual(await usage({ state: 'resuming', runtime: undefined }), [0, 1], 'its slot is a run claim');
    assert.deepEqual(await usage({ state: 'killing' }), [0, 0], 'a paused sandbox being killed holds no slot');
    assert.deepEqual(await usage({ state: 'running', runtime }), [1, 0]);
  });

  it('a move the table forbids throws; an allowed one is a conditional write that a stale reader loses', async () => {
    const sbx = await svc.create({ templateID: 'default', timeout: 60 });
    const s = (await store.getSandbox(sbx.sandboxID))!;
    await assert.rejects(move(store, s, 'resuming'), /no transition running → resuming/);
    assert.equal(await move(store, s, 'pausing'), true);
    assert.equal(await move(store, s, 'snapshotting'), false, 'read as running, but it is pausing now');
    assert.equal(await stateOf(s.sandboxId), 'pausing');
  });
});

describe('operations that meet on one sandbox', () => {
  it('pause while pausing: 409 naming the pause under way; the first pause completes', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    const release = hold('checkpoint');
    const first = svc.pause(s.sandboxID);
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'pausing');
    const second = await failure(svc.pause(s.sandboxID));
    assert.equal(second.status, 409);
    assert.match(second.message, /is being paused/);
    release();
    await first;
    assert.equal(await stateOf(s.sandboxID), 'paused');
    assert.equal(driver.calls.filter((c) => c === `checkpoint ${s.sandboxID}`).length, 1);
  });

  it('a kill that wins the race: a pause arriving after it answers 404 (a killed sandbox is gone)', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    const release = hold('destroy');
    const killing = svc.kill(s.sandboxID);
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'killing');
    assert.equal((await failure(svc.pause(s.sandboxID))).status, 404);
    assert.equal((await failure(svc.detail(s.sandboxID))).status, 404);
    assert.equal((await svc.list({})).items.length, 0, 'a killing sandbox is not listed');
    release();
    await killing;
    assert.ok(!driver.calls.includes(`checkpoint ${s.sandboxID}`));
  });

  it('pause vs resume: a resume during a pause waits and resumes; a pause during a resume is a 409', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    let release = hold('checkpoint');
    const pausing = svc.pause(s.sandboxID);
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'pausing');
    const resuming = svc.resume(s.sandboxID);
    release();
    await pausing;
    assert.equal((await resuming).state, 'running');
    assert.equal(await stateOf(s.sandboxID), 'running');

    await svc.pause(s.sandboxID);
    release = hold('restore');
    const again = svc.resume(s.sandboxID);
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'resuming');
    const lost = await failure(svc.pause(s.sandboxID));
    assert.equal(lost.status, 409);
    assert.match(lost.message, /is being resumed/);
    assert.equal((await svc.detail(s.sandboxID)).state, 'paused', 'the wire shows paused until the resume commits');
    release();
    await again;
    assert.equal(await stateOf(s.sandboxID), 'running');
  });

  it('concurrent resumes (auto-resume traffic) restore once and all get the running sandbox', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    await svc.pause(s.sandboxID);
    const release = hold('restore');
    const all = Array.from({ length: 5 }, () => svc.resume(s.sandboxID));
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'resuming');
    release();
    for (const r of await Promise.all(all)) assert.ok(r.runtime, 'running, with its runtime');
    assert.equal(driver.calls.filter((c) => c === `restore ${s.sandboxID}`).length, 1);
  });

  it('concurrent kills destroy once and all succeed; a kill during a snapshot waits for it', async () => {
    const a = await svc.create({ templateID: 'default', timeout: 60 });
    const release = hold('destroy');
    const kills = Array.from({ length: 3 }, () => svc.kill(a.sandboxID));
    await waitFor(async () => (await stateOf(a.sandboxID)) === 'killing');
    release();
    await Promise.all(kills);
    assert.equal(driver.calls.filter((c) => c === `destroy ${a.sandboxID}`).length, 1);

    const b = await svc.create({ templateID: 'default', timeout: 60 });
    const snap = hold('checkpoint');
    const snapshot = svc.createSnapshot(b.sandboxID, 'mid');
    await waitFor(async () => (await stateOf(b.sandboxID)) === 'snapshotting');
    assert.equal((await svc.detail(b.sandboxID)).state, 'running', 'snapshotting shows as running');
    assert.equal((await failure(svc.fork(b.sandboxID, {}))).status, 409);
    const connected = await svc.connect(b.sandboxID, 120_000);
    assert.equal(connected.resumed, false, 'a connect during a snapshot only extends the timeout, without waiting');
    assert.equal(await stateOf(b.sandboxID), 'snapshotting');
    const kill = svc.kill(b.sandboxID);
    snap();
    assert.equal((await snapshot).name, 'mid');
    await kill;
    assert.equal(await store.getSandbox(b.sandboxID), undefined);
  });

  it('failed operations put back the state they started from', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    driver.failNext.checkpoint = new DriverError('internal', 'criu said no');
    await assert.rejects(svc.pause(s.sandboxID), /criu said no/);
    assert.equal(await stateOf(s.sandboxID), 'running');
    driver.failNext.checkpoint = new DriverError('internal', 'criu said no');
    await assert.rejects(svc.createSnapshot(s.sandboxID), /criu said no/);
    assert.equal(await stateOf(s.sandboxID), 'running');
    await svc.pause(s.sandboxID);
    driver.failNext.restore = new DriverError('internal', 'restore said no');
    await assert.rejects(svc.resume(s.sandboxID), /restore said no/);
    const rec = (await store.getSandbox(s.sandboxID))!;
    assert.equal(rec.state, 'paused');
    assert.equal(rec.nodeId, undefined, 'a paused sandbox belongs to no node again');
    driver.failNext.destroy = new DriverError('internal', 'destroy said no');
    await assert.rejects(svc.kill(s.sandboxID), /destroy said no/);
    assert.equal(await stateOf(s.sandboxID), 'paused');
  });

  it('a runtime without filesystem-only pause (as microvm) refuses it with 400; nothing changes', async () => {
    const lifecycle = { templateID: 'default', timeout: 60, autoPause: true, autoPauseMemory: false };
    const refused = await failure(svc.create(lifecycle));
    assert.equal(refused.status, 400);
    assert.match(refused.message, /cannot pause sandboxes filesystem-only/);
    assert.deepEqual(await store.listSandboxes(), [], 'no record');
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    const byPause = await failure(svc.pause(s.sandboxID, 'requested', false));
    assert.equal(byPause.status, 400);
    assert.equal(await stateOf(s.sandboxID), 'running');
    assert.equal((await store.getSandbox(s.sandboxID))!.pauseMode, undefined);
    await svc.pause(s.sandboxID);
    const byReboot = await failure(svc.resume(s.sandboxID, undefined, false));
    assert.equal(byReboot.status, 400);
    assert.equal(await stateOf(s.sandboxID), 'paused');
    assert.equal((await store.getSandbox(s.sandboxID))!.pauseMode, 'memory');
    await svc.resume(s.sandboxID);
    assert.equal((await store.getSandbox(s.sandboxID))!.pauseMode, undefined, 'cleared once running');
  });

  it('a race lost at the store (another node moved the record first) is a 409, not an overwrite', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    await svc.pause(s.sandboxID);
    // Another node starts resuming it between our read and our write: its write wins.
    const real = store.transitionSandbox.bind(store);
    store.transitionSandbox = async (id, from, patch) => {
      store.transitionSandbox = real;
      await real(id, ['paused'], { state: 'resuming', nodeId: 'node-b' });
      return real(id, from, patch);
    };
    const err = await failure(svc.updateNetwork(s.sandboxID, { denyOut: ['10.0.0.0/8'] }));
    assert.equal(err.status, 409);
    assert.match(err.message, /being resumed/);
    const rec = (await store.getSandbox(s.sandboxID))!;
    assert.equal(rec.nodeId, 'node-b');
    assert.equal(rec.network?.denyOut, undefined, 'the loser wrote nothing');
  });

  it('the sweep leaves sandboxes mid-operation alone and does not kill one a client resumed meanwhile', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    const release = hold('checkpoint');
    const pausing = svc.pause(s.sandboxID);
    await waitFor(async () => (await stateOf(s.sandboxID)) === 'pausing');
    await store.updateSandbox(s.sandboxID, { endAt: Date.now() - 1 });
    await svc.sweep();
    assert.equal(await stateOf(s.sandboxID), 'pausing');
    release();
    await pausing;
    assert.equal(await stateOf(s.sandboxID), 'paused');
  });
});

describe('restart reconciliation after a crash mid-transition', () => {
  /** A record forced into `state`, as a crashed server left it. */
  async function leftIn(state: SandboxRecord['state'], patch: Partial<SandboxRecord> = {}): Promise<string> {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    await store.updateSandbox(s.sandboxID, { state, ...patch });
    return s.sandboxID;
  }
  /** Takes the sandbox out of the fake runtime with a complete pause image, as a dump that finished does. */
  async function dumped(id: string): Promise<string> {
    const image = snapshots.newPauseImage(id);
    await driver.checkpoint(id, image);
    return image;
  }

  it('pausing: alive → running; dump complete → paused with it; neither → removed', async () => {
    const alive = await leftIn('pausing');
    const done = await leftIn('pausing');
    const image = await dumped(done);
    const lost = await leftIn('pausing');
    await driver.destroy(lost);
    const restarted = fx!.rebuild();
    const r = await restarted.reconcile();
    assert.equal(await stateOf(alive), 'running');
    const p = (await store.getSandbox(done))!;
    assert.deepEqual([p.state, p.pausedImage, p.runtime, p.nodeId], ['paused', image, undefined, undefined]);
    assert.equal(await store.getSandbox(lost), undefined);
    assert.deepEqual(r, { adopted: 1, lost: 1, orphans: 0 });
  });

  it('resuming: restore done → running (old image deleted); not → paused again; another node’s is left', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await svc.create({ templateID: 'default', timeout: 60 });
      await svc.pause(s.sandboxID);
      ids.push(s.sandboxID);
    }
    const [finished, interrupted, other] = ids;
    const img = (await store.getSandbox(finished))!.pausedImage!;
    const rec = (await store.getSandbox(finished))!;
    const spec = {
      sandboxId: finished,
      layers: [],
      cpuCount: 1,
      memoryMB: rec.memoryMB,
      diskMB: 1,
      hostname: finished,
    };
    await driver.restore({ ...spec, internetAccess: true }, img);
    await store.updateSandbox(finished, { state: 'resuming', nodeId: 'node-a' });
    await store.updateSandbox(interrupted, { state: 'resuming', nodeId: 'node-a' });
    await store.updateSandbox(other, { state: 'resuming', nodeId: 'node-b' });
    await fx!.rebuild().reconcile();
    const f = (await store.getSandbox(finished))!;
    assert.deepEqual([f.state, f.pausedImage, f.nodeId], ['running', undefined, 'node-a']);
    assert.ok(!snapshots.isComplete(img), 'the image the restore used is gone');
    const i = (await store.getSandbox(interrupted))!;
    assert.deepEqual([i.state, i.nodeId], ['paused', undefined]);
    assert.ok(snapshots.isComplete(i.pausedImage!), 'its image is kept');
    assert.equal(await stateOf(other), 'resuming', 'node-b reconciles its own');
    // The one left paused resumes normally afterwards.
    assert.equal((await svc.resume(interrupted)).state, 'running');
  });

  it('killing: the kill is finished (runtime destroyed, images, record deleted); snapshotting → running', async () => {
    const live = await leftIn('killing');
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    await svc.pause(s.sandboxID);
    const img = (await store.getSandbox(s.sandboxID))!.pausedImage!;
    await store.updateSandbox(s.sandboxID, { state: 'killing' });
    const copying = await leftIn('snapshotting');
    await fx!.rebuild().reconcile();
    assert.equal(await store.getSandbox(live), undefined);
    assert.ok(!driver.sandboxes.has(live));
    assert.equal(await store.getSandbox(s.sandboxID), undefined);
    assert.ok(!snapshots.isComplete(img));
    assert.equal(await stateOf(copying), 'running');
    await svc.pause(copying); // usable again
  });
});
