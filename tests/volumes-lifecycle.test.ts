/**
 * Volumes through our own clients and across the lifecycle, against a real server and real sandboxes: the TypeScript
 * SDK's `Volume` and file helpers, the CLI's `volume` commands, snapshots and forks sharing the volume, the disk quota,
 * and a server restart (the re-adopted sandbox keeps its volume; the last user out unmounts it). The stock SDK and the
 * abuse cases are in volumes.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tb from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import { as, makeTeam } from './helpers/teams.js';
import { cliFor } from './helpers/cli.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

describe('volumes (our TypeScript SDK)', () => {
  it('Volume.create/get/list/delete, volumeMounts, and the file helpers', async () => {
    const conn = s.conn;
    const vol = await tb.Volume.create('ts-sdk', { ...conn, sizeMB: 32 });
    assert.equal(vol.sizeMB, 32);
    assert.equal((await tb.Volume.get('ts-sdk', conn)).volumeId, vol.volumeId);
    assert.ok((await tb.Volume.list(conn)).some((v) => v.name === 'ts-sdk'));
    await vol.makeDir('/in/deep', { force: true });
    await vol.writeFile('/in/deep/x.bin', new Uint8Array([1, 2, 3]), { mode: 0o600 });
    const sbx = await tb.Sandbox.create('default', { ...conn, timeoutMs: 60_000, volumeMounts: { '/mnt/v': vol } });
    try {
      const r = await sbx.commands.run('stat -c %a:%s /mnt/v/in/deep/x.bin; echo out > /mnt/v/out.txt', {
        user: 'root',
      });
      assert.equal(r.stdout, '600:3\n');
      assert.deepEqual((await sbx.getInfo()).volumeMounts, [{ name: 'ts-sdk', path: '/mnt/v' }]);
      await assert.rejects(tb.Volume.delete('ts-sdk', conn), tb.ConflictError);
    } finally {
      await sbx.kill();
    }
    assert.equal(await vol.readFile('/out.txt'), 'out\n');
    assert.deepEqual(await vol.readFile('/in/deep/x.bin', { format: 'bytes' }), new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      (await vol.list('/', { depth: 3 })).map((e) => e.path),
      ['/in', '/in/deep', '/in/deep/x.bin', '/lost+found', '/out.txt'],
    );
    assert.equal((await vol.getInfo('/in')).type, 'directory');
    await vol.remove('/in');
    await assert.rejects(vol.getInfo('/in'), tb.NotFoundError);
    await assert.rejects(vol.writeFile('/big', new Uint8Array(40 << 20)), tb.NotEnoughSpaceError);
    await tb.Volume.delete(vol.volumeId, conn);
    await assert.rejects(tb.Volume.get('ts-sdk', conn), tb.NotFoundError);
  });
});

describe('volumes (CLI)', () => {
  const cli = cliFor(() => s);
  it('volume create/list/get/delete; sandbox create --volume NAME:/path', async () => {
    const made = await cli(['volume', 'create', 'cli-vol', '--size-mb', '16']);
    assert.equal(made.code, 0, made.stderr);
    const id = made.stdout.trim();
    assert.match(id, /^vol/);
    const list = JSON.parse((await cli(['vol', 'ls', '--json'])).stdout);
    assert.ok(list.some((v: { volumeID: string; sizeMB: number }) => v.volumeID === id && v.sizeMB === 16));
    assert.match((await cli(['volume', 'get', 'cli-vol'])).stdout, /cli-vol\s+16/);
    const sbx = await cli(['sandbox', 'create', '--volume', 'cli-vol:/mnt/c', '--timeout-ms', '60000']);
    assert.equal(sbx.code, 0, sbx.stderr);
    const sandboxId = sbx.stdout.trim();
    assert.equal((await cli(['sandbox', 'exec', sandboxId, '--', 'sh', '-c', 'echo cli > /mnt/c/f'])).code, 0);
    const busy = await cli(['volume', 'delete', 'cli-vol']);
    assert.equal(busy.code, 6, 'conflict exit code');
    assert.match(busy.stderr, /mounted by sandbox/);
    await cli(['sandbox', 'kill', sandboxId]);
    assert.equal((await cli(['volume', 'rm', id])).code, 0);
    assert.equal((await cli(['volume', 'get', id])).code, 3, 'not found exit code');
    assert.equal((await cli(['volume', 'create', 'x', '--size-mb', 'big'])).code, 2);
    assert.equal((await cli(['sandbox', 'create', '--volume', 'no-path'])).code, 2);
  });
});

describe('volumes with snapshots, forks and quotas', () => {
  it('a snapshot or a fork shares the volume (not a copy): it mounts the same one and sees its current files', async () => {
    const conn = s.conn;
    const vol = await tb.Volume.create('snap-vol', { ...conn, sizeMB: 16 });
    const src = await tb.Sandbox.create('default', { ...conn, timeoutMs: 120_000, volumeMounts: { '/mnt/s': vol } });
    const made: tb.Sandbox[] = [src];
    try {
      await src.commands.run('echo v1 > /mnt/s/f.txt; exec 3>>/mnt/s/open.log; echo opened >&3; sleep 600 &');
      const snap = await src.createSnapshot('with-volume');
      await vol.writeFile('/f.txt', 'v2');
      const fromSnap = await tb.Sandbox.create(snap.snapshotId, { ...conn, timeoutMs: 60_000 });
      made.push(fromSnap);
      assert.equal((await fromSnap.commands.run('cat /mnt/s/f.txt')).stdout, 'v2', 'the current contents');
      await fromSnap.commands.run('echo from-snap > /mnt/s/g.txt');
      assert.equal((await src.commands.run('cat /mnt/s/g.txt')).stdout, 'from-snap\n');
      const [fork] = await src.fork();
      made.push(fork);
      assert.equal((await fork.commands.run('cat /mnt/s/g.txt')).stdout, 'from-snap\n');
      // A start from the snapshot may not name other volumes.
      const other = await api(s, 'POST', '/sandboxes', {
        templateID: snap.snapshotId,
        volumeMounts: [{ name: 'snap-vol', path: '/elsewhere' }],
      });
      assert.equal(other.status, 400);
      assert.match(other.body.message, /mounts its own volumes \(snap-vol at \/mnt\/s\)/);
      await assert.rejects(tb.Volume.delete('snap-vol', conn), tb.ConflictError);
    } finally {
      for (const x of made) await x.kill().catch(() => {});
    }
    await tb.Volume.delete('snap-vol', conn);
  });

  it("a volume's size counts toward the team's maxDiskMB quota", async () => {
    const team = await makeTeam(s, `vol-quota-${process.pid}`);
    assert.equal((await api(s, 'PATCH', `/teams/${team.teamID}`, { quotas: { maxDiskMB: 40 } })).status, 200);
    const b = as(s.url, team.key);
    assert.equal((await b('POST', '/volumes', { name: 'one', sizeMB: 24 })).status, 201);
    assert.equal((await b('GET', '/teams/current')).body.usage.diskMB, 24);
    const over = await b('POST', '/volumes', { name: 'two', sizeMB: 24 });
    assert.equal(over.status, 429);
    assert.match(over.body.message, /maxDiskMB \(40\)/);
    assert.equal((await b('POST', '/volumes', { name: 'two', sizeMB: 16 })).status, 201);
    for (const v of (await b('GET', '/volumes')).body) {
      assert.equal((await b('DELETE', `/volumes/${v.volumeID}`)).status, 204);
    }
  });
});

describe('volumes across a server restart', () => {
  it('a re-adopted sandbox keeps its volume; the last user out unmounts it; delete removes the image', async () => {
    const mounted = (dataDir: string, id: string) =>
      readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path.join(dataDir, 'volume-mounts', id, 'rw')} `);
    const first = await startTestServer();
    let vol: tb.Volume;
    let sbx: tb.Sandbox;
    try {
      vol = await tb.Volume.create('restart', { ...first.conn, sizeMB: 16 });
      sbx = await tb.Sandbox.create('default', { ...first.conn, timeoutMs: 120_000, volumeMounts: { '/mnt/r': vol } });
      await sbx.commands.run('echo before > /mnt/r/f.txt');
      assert.equal(mounted(first.dataDir, vol.volumeId), true);
    } catch (err) {
      await first.close();
      throw err;
    }
    await first.close({ keepDataDir: true });
    const second = await startTestServer({}, first.dataDir);
    try {
      const again = await tb.Volume.get('restart', second.conn);
      assert.equal(await again.readFile('/f.txt'), 'before\n');
      // The content request's end must not unmount what the re-adopted sandbox uses.
      assert.equal(mounted(second.dataDir, vol.volumeId), true);
      const adopted = await tb.Sandbox.connect(sbx.sandboxId, second.conn);
      assert.equal((await adopted.commands.run('cat /mnt/r/f.txt')).stdout, 'before\n');
      await adopted.kill();
      for (let i = 0; i < 50 && mounted(second.dataDir, vol.volumeId); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(mounted(second.dataDir, vol.volumeId), false, 'unmounted once no sandbox uses it');
      const img = path.join(second.dataDir, 'volumes', `${vol.volumeId}.img`);
      assert.equal(existsSync(img), true);
      await tb.Volume.delete('restart', second.conn);
      assert.equal(existsSync(img), false);
    } finally {
      await second.close();
    }
  });
});
