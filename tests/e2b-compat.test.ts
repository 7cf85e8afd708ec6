/**
 * The stock `e2b` npm SDK, unchanged, against our server: the proof that the wire protocol is real. It is pointed at
 * the server with E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY, exactly as a self-hosting user would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, CommandExitError, NotFoundError, Template, TimeoutError } from 'e2b';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
  process.env.E2B_API_URL = s.url;
  process.env.E2B_SANDBOX_URL = s.url;
  process.env.E2B_API_KEY = s.apiKey;
});
after(async () => {
  await s?.close();
});

describe('stock e2b SDK', () => {
  it('create, run, stream stdout, files, list dir, watchDir, background + kill, list, kill', async () => {
    const sbx = await Sandbox.create({ timeoutMs: 120_000, metadata: { via: 'e2b' } });
    try {
      const r = await sbx.commands.run('echo hello; whoami');
      assert.equal(r.stdout, 'hello\nuser\n');
      assert.equal(r.exitCode, 0);

      const chunks: string[] = [];
      await sbx.commands.run('for i in 1 2 3; do echo line$i; sleep 0.1; done', {
        onStdout: (d) => void chunks.push(d),
      });
      assert.equal(chunks.join(''), 'line1\nline2\nline3\n');
      assert.ok(chunks.length >= 2);

      const err = await sbx.commands.run('exit 7').catch((e) => e);
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 7);

      await sbx.files.write('/home/user/e2b.txt', 'from e2b');
      assert.equal(await sbx.files.read('/home/user/e2b.txt'), 'from e2b');
      await sbx.files.write([
        { path: '/home/user/multi/a.txt', data: 'a' },
        { path: '/home/user/multi/b.txt', data: 'b' },
      ]);
      const entries = await sbx.files.list('/home/user/multi');
      assert.deepEqual(entries.map((e) => e.name).sort(), ['a.txt', 'b.txt']);
      await assert.rejects(sbx.files.read('/home/user/missing.txt'), NotFoundError);
      assert.equal(await sbx.files.exists('/home/user/e2b.txt'), true);

      const events: string[] = [];
      const watcher = await sbx.files.watchDir('/home/user', (e) => void events.push(`${e.type}:${e.name}`), {
        recursive: true,
      });
      await sbx.files.write('/home/user/watched.txt', 'x');
      await sbx.commands.run('mkdir -p /home/user/wd && echo y > /home/user/wd/inner.txt');
      for (let i = 0; i < 50 && !events.some((e) => e.includes('inner.txt')); i++)
        await new Promise((r) => setTimeout(r, 100));
      await watcher.stop();
      assert.ok(
        events.some((e) => e.includes('watched.txt')),
        `events: ${events}`,
      );
      assert.ok(
        events.some((e) => e.includes('inner.txt')),
        `recursive events: ${events}`,
      );

      const bg = await sbx.commands.run('sleep 300', { background: true });
      assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid));
      assert.equal(await bg.kill(), true);
      assert.ok(!(await sbx.commands.list()).some((p) => p.pid === bg.pid));

      const listed = await Sandbox.list({ query: { metadata: { via: 'e2b' } } }).nextItems();
      assert.deepEqual(
        listed.map((x) => x.sandboxId),
        [sbx.sandboxId],
      );
      assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running');
    } finally {
      await sbx.kill();
    }
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(Sandbox.connect(sbx.sandboxId), NotFoundError);
  });

  it('pause, connect (resumes), snapshot, create from the snapshot, delete it', async () => {
    const sbx = await Sandbox.create({ timeoutMs: 120_000 });
    try {
      await sbx.files.write('/home/user/kept.txt', 'kept');
      const bg = await sbx.commands.run('sleep 600', { background: true });
      assert.equal(await Sandbox.pause(sbx.sandboxId), true);
      assert.equal(await Sandbox.pause(sbx.sandboxId), false, 'already paused');
      assert.equal(await sbx.isRunning(), false);
      const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
      assert.ok(paused.some((x) => x.sandboxId === sbx.sandboxId));
      const again = await Sandbox.connect(sbx.sandboxId);
      assert.equal(await again.isRunning(), true);
      assert.equal(await again.files.read('/home/user/kept.txt'), 'kept');
      assert.ok(
        (await again.commands.list()).some((p) => p.pid === bg.pid),
        'background process survived',
      );

      const snap = await Sandbox.createSnapshot(sbx.sandboxId, { name: 'e2b-snap' });
      assert.ok(snap.snapshotId);
      assert.deepEqual(snap.names, ['e2b-snap']);
      const copy = await Sandbox.create(snap.snapshotId, { timeoutMs: 60_000 });
      assert.equal(await copy.files.read('/home/user/kept.txt'), 'kept');
      await copy.kill();
      assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), true);
      assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), false);
    } finally {
      await sbx.kill();
    }
  });

  it(
    'killing the sandbox during a command ends the stream ' + 'with E2B\'s error; the proxy says "was not found"',
    async () => {
      const sbx = await Sandbox.create({ timeoutMs: 60_000 });
      const bg = await sbx.commands.run('sleep 60', { background: true });
      await sbx.kill();
      const err = await bg.wait().catch((e) => e);
      assert.ok(err instanceof TimeoutError, String(err));
      assert.match(err.message, /ended before the stream completed/);
      const health = await fetch(`${s.url}/health`, {
        headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' },
      });
      assert.equal(health.status, 502);
      assert.deepEqual(await health.json(), {
        code: 502,
        sandboxId: sbx.sandboxId,
        message: 'The sandbox was not found',
        error_code: 'not_found',
      });
    },
  );

  it('getInfo, setTimeout, getMetrics, pty, commands.connect', async () => {
    const sbx = await Sandbox.create({ timeoutMs: 60_000, metadata: { k: 'v' } });
    try {
      const info = await sbx.getInfo();
      assert.equal(info.sandboxId, sbx.sandboxId);
      assert.deepEqual(info.metadata, { k: 'v' });
      await sbx.setTimeout(90_000);
      assert.ok((await sbx.getInfo()).endAt.getTime() > Date.now() + 80_000);
      const metrics = await sbx.getMetrics();
      assert.ok(metrics.length >= 1 && metrics[0].memTotal > 0);
      let out = '';
      const pty = await sbx.pty.create({
        cols: 80,
        rows: 24,
        onData: (d) => void (out += new TextDecoder().decode(d)),
      });
      await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('echo pty-$((20+22))\n'));
      for (let i = 0; i < 100 && !out.includes('pty-42'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /pty-42/);
      await sbx.pty.kill(pty.pid);
      const bg = await sbx.commands.run('sleep 0.5; echo later', { background: true });
      const attached = await sbx.commands.connect(bg.pid);
      assert.equal((await attached.wait()).stdout, 'later\n');
    } finally {
      await sbx.kill();
    }
  });

  it(
    'Template.build: fromTemplate, runCmd, setEnvs, setWorkdir, copy (files ' +
      'uploaded by hash), startCmd + readyCmd; then Sandbox.create(name)',
    async () => {
      const ctx = mkdtempSync(path.join(os.tmpdir(), 'tb-e2b-ctx-'));
      try {
        writeFileSync(path.join(ctx, 'app.txt'), 'copied by the e2b SDK\n');
        const name = `e2b-built-${process.pid}`;
        const logs: string[] = [];
        const template = Template({ fileContextPath: ctx })
          .fromTemplate('base')
          .runCmd('echo from-run > /tmp/run.txt', { user: 'root' })
          .setEnvs({ E2B_BUILT: 'yes' })
          .setWorkdir('/home/user/app')
          .copy('app.txt', '/home/user/app/app.txt')
          .setStartCmd('python3 -m http.server 8000', 'curl -sf localhost:8000');
        const built = await Template.build(template, name, { onBuildLogs: (l) => void logs.push(l.message) });
        assert.ok(built.templateId);
        assert.ok(
          logs.some((m) => /build ready/.test(m)),
          logs.join('\n'),
        );
        assert.equal(await Template.exists(name), true);
        assert.equal(await Template.exists(`${name}-missing`), false);
        const sbx = await Sandbox.create(name, { timeoutMs: 60_000 });
        try {
          const r = await sbx.commands.run(
            'cat /tmp/run.txt app.txt; echo $E2B_BUILT; pwd; curl -s -o /dev/null -w "%{http_code}" localhost:8000/',
          );
          assert.equal(r.stdout, 'from-run\ncopied by the e2b SDK\nyes\n/home/user/app\n200');
        } finally {
          await sbx.kill();
        }
        // A failing step surfaces as BuildError with the server's reason.
        const broken = Template().fromTemplate('base').runCmd('exit 4');
        await assert.rejects(
          Template.build(broken, `${name}-broken`),
          (e: Error) => e.name === 'BuildError' && /exit code 4/.test(e.message),
        );
      } finally {
        rmSync(ctx, { recursive: true, force: true });
      }
    },
  );

  it('network: allowPublicTraffic with the traffic token, egress rules, updateNetwork and getInfo', async () => {
    const sbx = await Sandbox.create({
      timeoutMs: 120_000,
      network: { allowPublicTraffic: false, denyOut: ['0.0.0.0/0'], allowOut: ['203.0.113.7', '*.example.test'] },
    });
    try {
      assert.ok(sbx.trafficAccessToken, 'the SDK gets a traffic access token');
      let info = await sbx.getInfo();
      assert.equal(info.network?.allowPublicTraffic, false);
      assert.deepEqual(info.network?.denyOut, ['0.0.0.0/0']);
      assert.deepEqual(info.network?.allowOut, ['203.0.113.7', '*.example.test']);
      await sbx.commands.run('python3 -m http.server 8000 >/dev/null 2>&1', { background: true });
      const url = `${s.url}/`;
      const headers = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8000' };
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await fetch(url, { headers: { ...headers, 'e2b-traffic-access-token': sbx.trafficAccessToken! } }))
          .status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200);
      assert.equal((await fetch(url, { headers })).status, 403);
      await sbx.updateNetwork({ denyOut: ['198.51.100.0/24'] });
      info = await sbx.getInfo();
      assert.deepEqual(info.network?.denyOut, ['198.51.100.0/24']);
      assert.deepEqual(info.network?.allowOut, []);
      await sbx.updateNetwork({ allowInternetAccess: false });
      assert.deepEqual((await sbx.getInfo()).network?.denyOut, ['0.0.0.0/0']);
    } finally {
      await sbx.kill();
    }
  });
});
