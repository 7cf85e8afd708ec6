/**
 * Isolation per sandbox, against two in-memory FakeDrivers registered as `container` (the default) and `microvm`
 * (milliseconds, no root): which isolation a create gets (request > template > server default), that every later
 * operation of a sandbox — pause, resume, snapshot, fork, kill, metrics, restart reconciliation — reaches the
 * driver that runs it and never the other, that a checkpoint starts only with the isolation that wrote it, and
 * the 400s for a value that is no isolation or one this server cannot run. The real drivers are
 * tests/isolation-server.test.ts.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FakeDriver } from '@tensor-box/runtime';
import { ApiError, toHttpError } from '../errors.js';
import { MetricsSampler } from '../services/metrics-sampler.js';
import type { SandboxService } from '../services/sandbox-service.js';
import type { SqliteStore } from '../store/sqlite.js';
import { addFakeTemplate, fakeService, type FakeService } from '../testing/fake-service.js';
import { Drivers } from './drivers.js';

let dir: string;
let fx: FakeService | undefined;
let container: FakeDriver;
let vm: FakeDriver;
let store: SqliteStore;
let svc: SandboxService;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-isolation-'));
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await fx?.close();
  rmSync(path.join(dir, 'snapshots'), { recursive: true, force: true });
  fx = await fakeService(dir);
  ({ driver: container, vmDriver: vm, store, svc } = fx);
});

/** The driver calls of one sandbox, per driver. */
const callsOf = (id: string) => ({
  container: container.calls.filter((c) => c.endsWith(` ${id}`)).map((c) => c.split(' ')[0]),
  microvm: vm.calls.filter((c) => c.endsWith(` ${id}`)).map((c) => c.split(' ')[0]),
});

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

async function addTemplate(templateId: string, isolation?: 'container' | 'microvm'): Promise<void> {
  await addFakeTemplate(store, templateId, { isolation });
}

describe('choosing the isolation of a new sandbox', () => {
  it('the server default, the template, then the request: the later wins', async () => {
    const plain = await svc.create({ templateID: 'default' });
    assert.equal(plain.isolation, 'container');
    assert.deepEqual(callsOf(plain.sandboxID), { container: ['create'], microvm: [] });

    await addTemplate('vmtpl', 'microvm');
    const fromTemplate = await svc.create({ templateID: 'vmtpl' });
    assert.equal(fromTemplate.isolation, 'microvm');
    assert.deepEqual(callsOf(fromTemplate.sandboxID), { container: [], microvm: ['create'] });

    const overridden = await svc.create({ templateID: 'vmtpl', isolation: 'container' });
    assert.equal(overridden.isolation, 'container');
    assert.deepEqual(callsOf(overridden.sandboxID), { container: ['create'], microvm: [] });

    const asked = await svc.create({ templateID: 'default', isolation: 'microvm' });
    assert.equal((await store.getSandbox(asked.sandboxID))?.isolation, 'microvm');
    assert.equal((await svc.detail(asked.sandboxID)).isolation, 'microvm');
    const listed = new Map((await svc.list({})).items.map((s) => [s.sandboxID, s.isolation]));
    assert.equal(listed.get(asked.sandboxID), 'microvm');
    assert.equal(listed.get(plain.sandboxID), 'container');

    // A server whose default is microvm: a template without one follows it.
    const vmDefault = fx!.rebuild({ drivers: new Drivers({ container, microvm: vm }, 'microvm') });
    assert.equal((await vmDefault.create({ templateID: 'default' })).isolation, 'microvm');
  });

  it('refuses what is no isolation, and one this server cannot run naming what it lacks; nothing starts', async () => {
    const before = container.calls.length + vm.calls.length;
    // The REST layer refuses other values against the spec's enum; the service checks too (SDK-free callers).
    const bad = await failure(svc.create({ templateID: 'default', isolation: 'firecracker' as never }));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /isolation must be one of container, microvm, not 'firecracker'/);

    const missing = 'qemu-system-x86_64 (Debian package qemu-system-x86)';
    const noVm = fx!.rebuild({ drivers: new Drivers({ container }, 'container', { microvm: missing }) });
    const r = await failure(noVm.create({ templateID: 'default', isolation: 'microvm' }));
    assert.equal(r.status, 400);
    assert.match(r.message, /isolation 'microvm' is not available on this server: it needs qemu-system-x86_64/);
    // A template that asks for microvm on that server: the same 400.
    await addTemplate('vmtpl', 'microvm');
    assert.equal((await failure(noVm.create({ templateID: 'vmtpl' }))).status, 400);
    assert.equal(container.calls.length + vm.calls.length, before, 'no driver was called');
    assert.deepEqual(await store.listSandboxes(), [], 'no record');
  });
});

describe('operations reach the driver of the sandbox', () => {
  it('pause, resume, snapshot, a start from the snapshot, fork and kill of a microvm sandbox', async () => {
    const s = await svc.create({ templateID: 'default', isolation: 'microvm' });
    const id = s.sandboxID;
    await svc.pause(id);
    await svc.resume(id);
    const snap = await svc.createSnapshot(id, 'vm-snap');
    assert.equal(snap.isolation, 'microvm');
    assert.equal((await store.findSnapshot(snap.snapshotID))?.isolation, 'microvm');
    const forks = await svc.fork(id, { count: 1 });
    const forkId = forks[0].sandbox!.sandboxID;
    assert.equal(forks[0].sandbox!.isolation, 'microvm');
    const copy = await svc.create({ templateID: snap.snapshotID });
    assert.equal(copy.isolation, 'microvm');
    await svc.kill(id);
    assert.deepEqual(callsOf(id), {
      container: [],
      microvm: ['create', 'checkpoint', 'restore', 'checkpoint', 'checkpoint', 'destroy'],
    });
    assert.deepEqual(callsOf(forkId), { container: [], microvm: ['restore'] });
    assert.deepEqual(callsOf(copy.sandboxID), { container: [], microvm: ['restore'] });
  });

  it('a snapshot starts only with the isolation that wrote it (400 otherwise, nothing started)', async () => {
    const vmSbx = await svc.create({ templateID: 'default', isolation: 'microvm' });
    const vmSnap = await svc.createSnapshot(vmSbx.sandboxID);
    const cSbx = await svc.create({ templateID: 'default' });
    const cSnap = await svc.createSnapshot(cSbx.sandboxID);
    const before = container.calls.length + vm.calls.length;
    const a = await failure(svc.create({ templateID: vmSnap.snapshotID, isolation: 'container' }));
    assert.equal(a.status, 400);
    assert.match(a.message, /saved by a microvm sandbox; it can only start as one, not as container/);
    const b = await failure(svc.create({ templateID: cSnap.snapshotID, isolation: 'microvm' }));
    assert.equal(b.status, 400);
    assert.match(b.message, /saved by a container sandbox/);
    assert.equal(container.calls.length + vm.calls.length, before);
    // Asking for the isolation it has is fine.
    assert.equal((await svc.create({ templateID: cSnap.snapshotID, isolation: 'container' })).isolation, 'container');
  });

  it('reconcile lists both drivers: records adopted from theirs, orphans destroyed by theirs', async () => {
    const c = await svc.create({ templateID: 'default' });
    const v = await svc.create({ templateID: 'default', isolation: 'microvm' });
    // A microvm sandbox no record knows (a crash mid-create), and a pre-isolation record of a microvm sandbox.
    await vm.create({
      sandboxId: 'orphanvm',
      layers: [],
      cpuCount: 1,
      memoryMB: 256,
      diskMB: 0,
      internetAccess: false,
    });
    await store.updateSandbox(v.sandboxID, { isolation: undefined });
    const r = await fx!.rebuild().reconcile();
    assert.deepEqual(r, { adopted: 2, lost: 0, orphans: 1 });
    assert.ok(vm.calls.includes('destroy orphanvm') && !container.calls.includes('destroy orphanvm'));
    assert.equal((await store.getSandbox(v.sandboxID))?.isolation, 'microvm', 'learnt from the driver that runs it');
    assert.equal((await store.getSandbox(c.sandboxID))?.isolation, 'container');
  });

  it("metrics are read from the sandbox's driver (the other does not know it)", async () => {
    const v = await svc.create({ templateID: 'default', isolation: 'microvm' });
    const sampler = new MetricsSampler({ store, drivers: new Drivers({ container, microvm: vm }, 'container') });
    assert.ok(await sampler.sample((await store.getSandbox(v.sandboxID))!), 'a sample from the microvm driver');
    assert.equal(await sampler.sample({ sandboxId: v.sandboxID }), undefined, 'the container driver has none');
  });
});
