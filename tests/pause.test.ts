/**
 * Pause and resume through the TypeScript SDK against a real server: memory, processes and files survive (20 cycles),
 * timeout-triggered auto-pause, auto-resume through the ingress, servers come back listening, and the bad inputs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, Snapshot, ConflictError, InvalidArgumentError, NotFoundError } from 'tensor-box';
import { api, httpGet, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ sweepIntervalMs: 100 });
});
after(async () => {
  await s?.close();
});

/** A counter that lives only in a shell variable, printed to a file so we can read it. */
const COUNTER = `i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.02; done`;
/** Holds 32 MB of random bytes in memory; re-hashes them whenever /tmp/rehash appears. */
const HASHER = `import hashlib, os, time
b = os.urandom(32 * 1024 * 1024)
open('/tmp/h0.new', 'w').write(hashlib.sha256(b).hexdigest())
os.rename('/tmp/h0.new', '/tmp/h0')
while True:
    if os.path.exists('/tmp/rehash'):
        os.remove('/tmp/rehash')
        open('/tmp/h.new', 'w').write(hashlib.sha256(b).hexdigest())
        os.rename('/tmp/h.new', '/tmp/h')
    time.sleep(0.05)
`;

/** The counter's value (the loop renames a complete file into place; an empty read would only mean "read again"). */
async function count(sbx: Sandbox): Promise<number> {
  for (;;) {
    const text = (await sbx.files.read('/tmp/count')).trim();
    if (text) return Number(text);
    await sleep(5);
  }
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('pause and resume', () => {
  it('keeps a live in-memory counter and a 10 MB file across 20 pause/resume cycles', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
    try {
      const bg = await sbx.commands.run(COUNTER, { background: true });
      bg.disconnect();
      // 32 MB of random bytes held in a process's memory, hashed now and re-hashed on demand (touch /tmp/rehash).
      await sbx.files.write('/tmp/mem.py', HASHER);
      (await sbx.commands.run('python3 /tmp/mem.py', { background: true })).disconnect();
      await waitFor('memory hash', () => sbx.files.exists('/tmp/h0'));
      const h0 = await sbx.files.read('/tmp/h0');
      const sum = (
        await sbx.commands.run('head -c 10485760 /dev/urandom > /home/user/blob && sha256sum /home/user/blob')
      ).stdout.split(' ')[0];
      await waitFor('counter', async () => (await count(sbx).catch(() => 0)) > 2);
      let last = 0;
      for (let cycle = 1; cycle <= 20; cycle++) {
        const before = await count(sbx);
        assert.ok(before > last, `cycle ${cycle}: counter moved on (${last} → ${before})`);
        await sbx.pause();
        assert.equal((await sbx.getInfo()).state, 'paused');
        await sbx.resume();
        const after = await count(sbx);
        // Continues from where it was (a restart would begin again at 1).
        assert.ok(after >= before, `cycle ${cycle}: counter continued (${before} → ${after})`);
        assert.equal(
          (await sbx.commands.run('sha256sum /home/user/blob')).stdout.split(' ')[0],
          sum,
          `cycle ${cycle}: file intact`,
        );
        last = after;
      }
      assert.ok(
        (await sbx.commands.list()).some((p) => p.pid === bg.pid),
        'the same process is still there',
      );
      await sbx.commands.run('rm -f /tmp/h && touch /tmp/rehash');
      await waitFor('re-hash', () => sbx.files.exists('/tmp/h'));
      assert.equal(await sbx.files.read('/tmp/h'), h0, 'memory contents identical after 20 cycles');
    } finally {
      await sbx.kill();
    }
  });

  it('auto-pauses on timeout and comes back on connect with files and processes', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 1000, lifecycle: { onTimeout: 'pause' } });
    try {
      await sbx.files.write('/home/user/note.txt', 'kept');
      const bg = await sbx.commands.run(COUNTER, { background: true });
      bg.disconnect();
      await waitFor('auto-pause', async () => (await Sandbox.getInfo(sbx.sandboxId, s.conn)).state === 'paused');
      const paused = await Sandbox.list({ ...s.conn, query: { state: ['paused'] } });
      assert.ok(
        paused.some((x) => x.sandboxId === sbx.sandboxId),
        'listed as paused',
      );
      // Without autoResume a request through the ingress does not wake it.
      const r = await api(s, 'GET', '/health', undefined, {
        'E2b-Sandbox-Id': sbx.sandboxId,
        'E2b-Sandbox-Port': '49983',
      });
      assert.equal(r.status, 502, 'E2B: a sandbox that is not running answers 502 at the edge');
      assert.match(r.body.message, /paused; connect to it/);
      const again = await Sandbox.connect(sbx.sandboxId, { ...s.conn, timeoutMs: 60_000 });
      assert.equal((await again.getInfo()).state, 'running');
      assert.equal(await again.files.read('/home/user/note.txt'), 'kept');
      assert.ok(
        (await again.commands.list()).some((p) => p.pid === bg.pid),
        'process survived',
      );
      const c = await count(again);
      await sleep(200);
      assert.ok((await count(again)) > c, 'counter runs again');
      // Auto-pause persists across resumes.
      assert.equal((await api(s, 'GET', `/sandboxes/${sbx.sandboxId}`)).body.lifecycle.onTimeout, 'pause');
    } finally {
      await sbx.kill();
    }
  });

  it('auto-resumes on traffic through the ingress, and a listening server serves again', async () => {
    const sbx = await Sandbox.create('default', {
      ...s.conn,
      timeoutMs: 60_000,
      lifecycle: { onTimeout: 'pause', autoResume: true },
    });
    try {
      await sbx.commands.run('mkdir -p /tmp/www && echo served > /tmp/www/index.html');
      (await sbx.commands.run('cd /tmp/www && python3 -m http.server 8000', { background: true })).disconnect();
      const host = sbx.getHost(8000);
      await waitFor('web server', async () => (await httpGet(`${s.url}/index.html`, host)).body === 'served\n');
      await sbx.pause();
      assert.equal((await sbx.getInfo()).state, 'paused');
      // The request itself wakes the sandbox; the server process is the same one, still listening.
      const r = await httpGet(`${s.url}/index.html`, host);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'served\n');
      assert.equal((await sbx.getInfo()).state, 'running');
      // envd calls wake it too.
      await sbx.pause();
      assert.equal((await sbx.commands.run('echo awake')).stdout, 'awake\n');
    } finally {
      await sbx.kill();
    }
  });

  it('answers bad requests clearly and cleans up the images of killed paused sandboxes', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    // A process CRIU cannot checkpoint (a multipath-TCP socket): the pause fails, says why, and the sandbox runs on.
    const mptcp = await sbx.commands.run(
      `python3 -c "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); ` +
        `s.bind(('0.0.0.0', 9999)); s.listen(); open('/tmp/mptcp', 'w').close(); time.sleep(600)"`,
      { background: true },
    );
    await waitFor('mptcp listener', () => sbx.files.exists('/tmp/mptcp'));
    await assert.rejects(sbx.pause(), (e: Error) => /cannot pause/.test(e.message) && /proto 262/.test(e.message));
    assert.equal((await sbx.getInfo()).state, 'running');
    assert.equal((await sbx.commands.run('echo still here')).stdout, 'still here\n');
    await mptcp.kill();
    await sbx.pause();
    await assert.rejects(sbx.pause(), ConflictError, 'pausing a paused sandbox');
    const images = path.join(s.dataDir, 'snapshots', 'v1', 'sandboxes', sbx.sandboxId);
    assert.equal(readdirSync(images).length, 1, 'one image while paused');
    await sbx.resume();
    const running = await api(s, 'POST', `/sandboxes/${sbx.sandboxId}/resume`, {});
    assert.equal(running.status, 409, 'resuming a running sandbox (E2B: conflict)');
    // The old image goes once every page has been fetched (lazy restore).
    await waitFor('old image removed', async () => !(existsSync(images) && readdirSync(images).length > 0));
    await sbx.pause();
    await sbx.kill();
    assert.equal(existsSync(images), false, 'killing a paused sandbox deletes its images');
    await assert.rejects(Sandbox.pause(sbx.sandboxId, s.conn), NotFoundError);
    await assert.rejects(Sandbox.connect(sbx.sandboxId, s.conn), NotFoundError);
    const nf = await api(s, 'POST', '/sandboxes/nosuchsandbox0000000/pause');
    assert.equal(nf.status, 404);
    assert.equal(nf.body.code, 404);
  });

  it(
    'operations that meet on one sandbox: one pause wins ' + '(the other is a 409), concurrent connects resume once',
    async () => {
      const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
      const id = sbx.sandboxId;
      (await sbx.commands.run(COUNTER, { background: true })).disconnect();
      await waitFor('counter', async () => (await count(sbx).catch(() => 0)) > 2);
      const pauses = await Promise.all([1, 2].map(() => api(s, 'POST', `/sandboxes/${id}/pause`)));
      assert.deepEqual(pauses.map((r) => r.status).sort(), [204, 409], 'one pause, one conflict');
      const lost = pauses.find((r) => r.status === 409)!;
      assert.equal(lost.body.code, 409);
      assert.match(lost.body.message, /being paused|already paused/);
      assert.equal((await sbx.getInfo()).state, 'paused');
      const before = await api(s, 'GET', `/sandboxes/${id}`);
      const connects = await Promise.all(
        [1, 2, 3].map(() => api(s, 'POST', `/sandboxes/${id}/connect`, { timeout: 60 })),
      );
      assert.deepEqual(connects.map((r) => r.status).sort(), [200, 200, 201], 'one resume; the others joined it');
      assert.equal(before.body.state, 'paused');
      assert.equal((await sbx.getInfo()).state, 'running');
      const n = await count(sbx);
      await waitFor('counter goes on', async () => (await count(sbx)) > n);
      // A kill that meets a resume: whichever comes first, the sandbox ends gone with nothing left of it.
      await sbx.pause();
      const [resumed, killed] = await Promise.all([
        api(s, 'POST', `/sandboxes/${id}/connect`, { timeout: 60 }),
        sleep(20).then(() => api(s, 'DELETE', `/sandboxes/${id}`)),
      ]);
      assert.ok([201, 404].includes(resumed.status), `connect: ${resumed.status}`);
      assert.equal(killed.status, 204);
      assert.equal((await api(s, 'GET', `/sandboxes/${id}`)).status, 404);
      const images = path.join(s.dataDir, 'snapshots', 'v1', 'sandboxes', id);
      await waitFor('no image left', async () => !(existsSync(images) && readdirSync(images).length > 0));
    },
  );

  it('snapshots a running sandbox, starts new sandboxes from it, forks, lists and deletes', async () => {
    const src = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000, envs: { FROM: 'source' } });
    try {
      await src.files.write('/home/user/state.txt', 'at snapshot');
      (await src.commands.run(COUNTER, { background: true })).disconnect();
      await waitFor('counter', async () => (await count(src).catch(() => 0)) > 2);
      const snap = await src.createSnapshot('before-risky-step');
      assert.match(snap.snapshotId, /^snap[a-z0-9]+$/);
      assert.equal(snap.sandboxId, src.sandboxId);
      assert.equal(snap.name, 'before-risky-step');
      assert.equal((await src.getInfo()).state, 'running', 'the source keeps running');
      await src.files.write('/home/user/state.txt', 'after snapshot');

      // A new sandbox from the snapshot (by ID, then by name) starts with its files and a running counter.
      const fromId = await Sandbox.create(snap.snapshotId, { ...s.conn, timeoutMs: 60_000, envs: { EXTRA: '1' } });
      const fromName = await Sandbox.create('before-risky-step', { ...s.conn, timeoutMs: 60_000 });
      for (const copy of [fromId, fromName]) {
        assert.notEqual(copy.sandboxId, src.sandboxId);
        assert.equal(await copy.files.read('/home/user/state.txt'), 'at snapshot');
        const c = await count(copy);
        await sleep(200);
        assert.ok((await count(copy)) > c, "the snapshot's process runs in the copy");
      }
      assert.equal(
        (await fromId.commands.run('echo $FROM-$EXTRA')).stdout,
        'source-1\n',
        "env vars: the snapshot's plus the new ones",
      );
      await fromId.kill();
      await fromName.kill();

      const listed = await Snapshot.list({ ...s.conn, sandboxId: src.sandboxId });
      assert.deepEqual(
        listed.map((x) => x.snapshotId),
        [snap.snapshotId],
      );
      assert.ok((await Snapshot.list(s.conn)).length >= 1);

      // Fork: live copies of the source as it is now.
      const copies = await src.fork({ count: 2, timeoutMs: 60_000 });
      assert.equal(copies.length, 2);
      for (const c of copies) {
        assert.equal(await c.files.read('/home/user/state.txt'), 'after snapshot');
        await c.files.write('/home/user/mine.txt', c.sandboxId);
      }
      assert.equal(await src.files.exists('/home/user/mine.txt'), false, 'copies are independent');
      await Promise.all(copies.map((c) => c.kill()));

      // Bad input.
      await assert.rejects(src.createSnapshot('bad name!'), InvalidArgumentError);
      const r = await api(s, 'POST', `/sandboxes/${src.sandboxId}/fork`, { count: 0 });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /count/);
      await src.pause();
      await assert.rejects(src.createSnapshot(), ConflictError, 'a paused sandbox cannot be snapshotted');
      await src.resume();

      assert.equal(await Snapshot.delete(snap.snapshotId, s.conn), true);
      assert.equal(await Snapshot.delete(snap.snapshotId, s.conn), false);
      assert.equal(
        existsSync(path.join(s.dataDir, 'snapshots', 'v1', 'snapshots', snap.snapshotId)),
        false,
        'images deleted',
      );
      await assert.rejects(Sandbox.create(snap.snapshotId, s.conn), NotFoundError);
    } finally {
      await src.kill();
    }
  });
});
