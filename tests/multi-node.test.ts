/**
 * Two control planes ("nodes") on one PostgreSQL database with a shared snapshot store and template directory, as
 * several machines mounting one NFS/JuiceFS path would run: a sandbox paused on node A resumes on node B with its
 * processes and files (paused filesystem-only: boots there with its files); running sandboxes belong to their node (the other refuses to act on them and leaves them alone
 * when it restarts); the `default` template is built once for both.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import { startPostgres, type PostgresInstance } from './helpers/postgres.js';

let pg: PostgresInstance;
let shared: string;
let a: TestServer;
let b: TestServer;
let url: string;

const nodeConfig = (nodeId: string) => ({
  databaseUrl: url,
  nodeId,
  // Nodes share the admin key through the environment (the database keeps only its hash).
  apiKey: `e2b_${'5a'.repeat(16)}`,
  snapshotDir: path.join(shared, 'snapshots'),
  templateDir: path.join(shared, 'templates'),
});

before(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase();
  shared = mkdtempSync(path.join(os.tmpdir(), 'tb-shared-'));
  a = await startTestServer(nodeConfig('node-a'));
  b = await startTestServer(nodeConfig('node-b'));
});
after(async () => {
  await a?.close();
  await b?.close();
  await pg?.stop();
  rmSync(shared, { recursive: true, force: true });
});

describe('several nodes on one database and one snapshot store', () => {
  it('share the API key and the default template (built once)', async () => {
    assert.equal(a.apiKey, b.apiKey);
    const ta = await a.store.findTemplate('default');
    const tb = await b.store.findTemplate('default');
    assert.deepEqual(ta?.layers, tb?.layers);
    assert.ok(ta!.layers[0].startsWith(path.join(shared, 'templates')));
  });

  it('a sandbox paused on node A resumes on node B with its processes and files', async () => {
    const sbx = await Sandbox.create('default', { ...a.conn, timeoutMs: 120_000 });
    try {
      await sbx.commands.run(
        `setsid bash -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done' ` +
          `>/dev/null 2>&1 &`,
      );
      await sbx.files.write('/home/user/notes.txt', 'written on node A');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await api(a, 'POST', `/sandboxes/${sbx.sandboxId}/pause`)).status, 204);
      const before = Number(
        await (await Sandbox.connect(sbx.sandboxId, { ...b.conn, timeoutMs: 120_000 })).files.read('/tmp/n'),
      );
      // connect through node B resumed it there.
      const rec = await b.store.getSandbox(sbx.sandboxId);
      assert.equal(rec?.state, 'running');
      assert.equal(rec?.nodeId, 'node-b');
      const onB = await Sandbox.connect(sbx.sandboxId, { ...b.conn, timeoutMs: 120_000 });
      assert.equal(await onB.files.read('/home/user/notes.txt'), 'written on node A');
      await new Promise((r) => setTimeout(r, 300));
      const later = Number(await onB.files.read('/tmp/n'));
      assert.ok(before > 3 && later > before, `the counter continued on node B (${before} → ${later})`);

      // Node A does not act on a sandbox node B runs, and says where it is.
      const kill = await api(a, 'DELETE', `/sandboxes/${sbx.sandboxId}`);
      assert.equal(kill.status, 409);
      assert.match(kill.body.message, /runs on node 'node-b'/);
      const pause = await api(a, 'POST', `/sandboxes/${sbx.sandboxId}/pause`);
      assert.equal(pause.status, 409);
      // Both nodes list it (one database).
      assert.ok((await api(a, 'GET', '/v2/sandboxes')).body.some((x: any) => x.sandboxID === sbx.sandboxId));

      // A restart of node A leaves node B's running sandbox alone.
      await a.close({ keepDataDir: true });
      a = await startTestServer(nodeConfig('node-a'), a.dataDir);
      assert.equal((await b.store.getSandbox(sbx.sandboxId))?.state, 'running');
      assert.equal((await onB.commands.run('cat /home/user/notes.txt')).stdout, 'written on node A');

      // And back: paused on B, resumed on A.
      assert.equal((await api(b, 'POST', `/sandboxes/${sbx.sandboxId}/pause`)).status, 204);
      const r = await api(a, 'POST', `/sandboxes/${sbx.sandboxId}/connect`, { timeout: 60 });
      assert.equal(r.status, 201);
      assert.equal((await a.store.getSandbox(sbx.sandboxId))?.nodeId, 'node-a');
      const onA = await Sandbox.connect(sbx.sandboxId, { ...a.conn });
      assert.equal(await onA.files.read('/home/user/notes.txt'), 'written on node A');
    } finally {
      await api(a, 'DELETE', `/sandboxes/${sbx.sandboxId}`);
      await api(b, 'DELETE', `/sandboxes/${sbx.sandboxId}`);
    }
    assert.equal((await api(b, 'GET', `/sandboxes/${sbx.sandboxId}`)).status, 404);
  });

  it('a sandbox paused filesystem-only on node A boots on node B with its files (and its token)', async () => {
    const sbx = await Sandbox.create('default', { ...a.conn, timeoutMs: 120_000 });
    try {
      await sbx.files.write('/home/user/fs.txt', 'kept across nodes');
      const boot1 = (await sbx.files.read('/proc/sys/kernel/random/boot_id')).trim();
      await sbx.commands.run('sleep 100000', { background: true });
      const paused = await api(a, 'POST', `/sandboxes/${sbx.sandboxId}/pause`, { memory: false });
      assert.equal(paused.status, 204);
      assert.equal((await b.store.getSandbox(sbx.sandboxId))?.pauseMode, 'filesystem');
      assert.equal((await api(b, 'POST', `/sandboxes/${sbx.sandboxId}/connect`, { timeout: 60 })).status, 201);
      assert.equal((await b.store.getSandbox(sbx.sandboxId))?.nodeId, 'node-b');
      const onB = await Sandbox.connect(sbx.sandboxId, { ...b.conn });
      assert.equal(await onB.files.read('/home/user/fs.txt'), 'kept across nodes');
      assert.notEqual((await onB.files.read('/proc/sys/kernel/random/boot_id')).trim(), boot1);
      assert.equal(
        (await onB.commands.list()).some((p) => /sleep/.test(p.cmd)),
        false,
      );
    } finally {
      await api(b, 'DELETE', `/sandboxes/${sbx.sandboxId}`);
    }
  });
});
