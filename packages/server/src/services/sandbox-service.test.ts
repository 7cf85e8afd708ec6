/**
 * The sandbox service's logic against the in-memory FakeDriver and an in-memory SQLite store: milliseconds, no root.
 * What the real suites (tests/) cannot make happen on demand: a checkpoint that fails every time, a create or an agent
 * that fails half-way, a host disk below its reserve, two lifecycle calls at once.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DriverError, type FakeDriver } from '@tensor-box/runtime';
import type { SqliteStore } from '../store/sqlite.js';
import { ApiError } from '../errors.js';
import type { SandboxService } from './sandbox-service.js';
import { HostDisk } from './host-disk.js';
import { fakeService, type FakeService } from '../testing/fake-service.js';

let dir: string;
let fx: FakeService | undefined;
let driver: FakeDriver;
let store: SqliteStore;
let svc: SandboxService;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-svc-'));
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await fx?.close();
  fx = await fakeService(dir);
  ({ driver, store, svc } = fx);
});

const logsOf = async (id: string) =>
  (await store.queryLogs(id, { limit: 100, direction: 'forward' })).map((l) => l.message);

describe('sandbox service (fake driver)', () => {
  it('create: secure by default, the agent gets env vars and the token, the record is running', async () => {
    const sbx = await svc.create({ templateID: 'default', timeout: 60, envVars: { A: '1' } });
    assert.ok(sbx.envdAccessToken);
    const fake = driver.sandboxes.get(sbx.sandboxID)!;
    assert.equal(fake.inits.length, 1);
    assert.deepEqual(fake.inits[0].envVars, { A: '1' });
    assert.equal(fake.inits[0].accessToken, sbx.envdAccessToken);
    assert.equal((await store.getSandbox(sbx.sandboxID))?.state, 'running');
    const open = await svc.create({ templateID: 'default', secure: false });
    assert.equal(open.envdAccessToken, undefined);
  });

  it('a failed create or agent leaves nothing: no record, no driver sandbox', async () => {
    driver.failNext.create = new DriverError('internal', 'launcher exploded');
    await assert.rejects(svc.create({ templateID: 'default' }), /launcher exploded/);
    assert.equal((await store.listSandboxes()).length, 0);
    await assert.rejects(svc.create({ templateID: 'default', envVars: { 'BAD NAME': 'x' } }), ApiError);
    await assert.rejects(svc.create({ templateID: 'default', network: { denyOut: ['bad.example'] } }), /bad\.example/);
    assert.deepEqual(
      driver.calls.filter((c) => c.startsWith('create')).length,
      1,
      'bad input never reaches the driver',
    );
    assert.equal(driver.sandboxes.size, 0);
  });

  it('timeout: the sweep kills an expired sandbox and only that one', async () => {
    const a = await svc.create({ templateID: 'default', timeout: 60 });
    const b = await svc.create({ templateID: 'default', timeout: 60 });
    await store.updateSandbox(a.sandboxID, { endAt: Date.now() - 1 });
    await svc.sweep();
    assert.equal(await store.getSandbox(a.sandboxID), undefined);
    assert.ok(await store.getSandbox(b.sandboxID));
    assert.ok(!driver.sandboxes.has(a.sandboxID));
    assert.ok((await logsOf(a.sandboxID)).some((m) => /timed out/.test(m)));
  });

  it(
    'timeout with onTimeout=pause: paused; a pause that ' + 'keeps failing ends in a kill with the reason logged',
    async () => {
      const ok = await svc.create({ templateID: 'default', timeout: 60, autoPause: true });
      await store.updateSandbox(ok.sandboxID, { endAt: Date.now() - 1 });
      await svc.sweep();
      assert.equal((await store.getSandbox(ok.sandboxID))?.state, 'paused');

      const stuck = await svc.create({ templateID: 'default', timeout: 60, autoPause: true });
      await store.updateSandbox(stuck.sandboxID, { endAt: Date.now() - 1 });
      driver.failAlways.checkpoint = new DriverError('internal', 'criu: cannot seize a traced task');
      await svc.sweep();
      assert.equal(await store.getSandbox(stuck.sandboxID), undefined, 'killed at its timeout');
      assert.equal(driver.calls.filter((c) => c === `checkpoint ${stuck.sandboxID}`).length, 2, 'two attempts');
      assert.ok((await logsOf(stuck.sandboxID)).some((m) => /auto-pause failed \(.*cannot seize.*\); killing/.test(m)));
    },
  );

  it('one transient pause failure is retried and the sandbox is paused, not killed', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60, autoPause: true });
    await store.updateSandbox(s.sandboxID, { endAt: Date.now() - 1 });
    driver.failNext.checkpoint = new DriverError('internal', 'transient');
    await svc.sweep();
    assert.equal((await store.getSandbox(s.sandboxID))?.state, 'paused');
  });

  it('a host disk below its reserve refuses the start with 507 before the driver is asked', async () => {
    svc = fx!.rebuild({ hostDisk: new HostDisk(dir, 1024 * 1024 * 1024) });
    const err = await svc.create({ templateID: 'default' }).catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 507);
    assert.equal(driver.calls.length, 0);
    assert.equal((await store.listSandboxes()).length, 0);
  });

  it('network rules: applied to a running sandbox, kept for a paused one, bad input changes nothing', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60, network: { denyOut: ['10.0.0.0/8'] } });
    assert.deepEqual(driver.sandboxes.get(s.sandboxID)!.spec.egress, { allowOut: [], denyOut: ['10.0.0.0/8'] });
    await svc.updateNetwork(s.sandboxID, { allowOut: ['1.2.3.4'], denyOut: ['0.0.0.0/0'] });
    assert.deepEqual(driver.sandboxes.get(s.sandboxID)!.spec.egress, { allowOut: ['1.2.3.4'], denyOut: ['0.0.0.0/0'] });
    await assert.rejects(svc.updateNetwork(s.sandboxID, { denyOut: ['nope!'] }), /nope!/);
    assert.deepEqual((await store.getSandbox(s.sandboxID))?.network?.denyOut, ['0.0.0.0/0']);
    await svc.pause(s.sandboxID);
    await svc.updateNetwork(s.sandboxID, { denyOut: ['192.0.2.0/24'] });
    await svc.resume(s.sandboxID);
    assert.deepEqual(
      driver.sandboxes.get(s.sandboxID)!.spec.egress,
      { allowOut: [], denyOut: ['192.0.2.0/24'] },
      'resume applies the new rules',
    );
  });

  it('a kill racing a pause: the kill waits for the pause, both settle, the driver sees each once', async () => {
    const s = await svc.create({ templateID: 'default', timeout: 60 });
    let release!: () => void;
    driver.gate.checkpoint = new Promise((r) => (release = r));
    const pausing = svc.pause(s.sandboxID);
    await waitFor(() => driver.calls.includes(`checkpoint ${s.sandboxID}`));
    assert.equal((await store.getSandbox(s.sandboxID))?.state, 'pausing');
    const killing = svc.kill(s.sandboxID);
    release();
    await pausing;
    await killing;
    assert.equal(await store.getSandbox(s.sandboxID), undefined);
    assert.equal(driver.calls.filter((c) => c.endsWith(s.sandboxID) && c.startsWith('checkpoint')).length, 1);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
