/**
 * Crash safety of pause and resume: the control plane is killed with SIGKILL in the middle of a pause and of a resume;
 * after a restart on the same data dir the sandbox is either paused with a complete image or running — never lost —
 * and connecting to it gives back its processes and files. Killed in the middle of a kill, the sandbox ends gone for
 * good or (when the kill had not begun) running — never half-killed. The same for a filesystem-only pause and the
 * boot that resumes it: the files are never lost, and a booted sandbox is set up (env vars, token) after the restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A server in its own process (so it can be killed for real) on `dataDir`. */
async function serverProcess(
  dataDir: string,
): Promise<{ child: ChildProcess; conn: { domain: string; apiKey: string } }> {
  const script = `
    import { startTestServer } from './tests/helpers/harness.ts';
    const s = await startTestServer({}, ${JSON.stringify(dataDir)});
    console.log(JSON.stringify({ url: s.url, apiKey: s.apiKey }));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const { url, apiKey } = JSON.parse(line);
  return { child, conn: { domain: url, apiKey } };
}

function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const COUNTER = `i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.02; done`;

async function checkIntact(s: TestServer, id: string, sum: string, atLeast: number) {
  const conn = s.conn;
  const info = await Sandbox.getInfo(id, conn).catch((e) =>
    assert.fail(`sandbox lost: ${e.message}\nserver log:\n${s.logs.join('\n')}`),
  );
  assert.ok(info.state === 'paused' || info.state === 'running', `state after restart: ${info.state}`);
  const sbx = await Sandbox.connect(id, { ...conn, timeoutMs: 60_000 });
  assert.equal((await sbx.commands.run('sha256sum /home/user/blob')).stdout.split(' ')[0], sum, 'file intact');
  const c1 = Number(await sbx.files.read('/tmp/count'));
  assert.ok(c1 >= atLeast, `counter kept its value (${c1} ≥ ${atLeast})`);
  await sleep(200);
  assert.ok(Number(await sbx.files.read('/tmp/count')) > c1, 'counter runs');
  return sbx;
}

describe('crash safety', () => {
  it('a control plane killed during pause and during resume loses nothing', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-crash-'));
    let child: ChildProcess | undefined;
    try {
      let srv = await serverProcess(dataDir);
      child = srv.child;
      const sbx = await Sandbox.create('default', { ...srv.conn, timeoutMs: 300_000 });
      const id = sbx.sandboxId;
      (await sbx.commands.run(COUNTER, { background: true })).disconnect();
      // Enough touched memory that the dump takes a while.
      (
        await sbx.commands.run(`python3 -c "import os,time; b=os.urandom(200*1024*1024); time.sleep(100000)"`, {
          background: true,
        })
      ).disconnect();
      const sum = (
        await sbx.commands.run('head -c 5000000 /dev/urandom > /home/user/blob && sha256sum /home/user/blob')
      ).stdout.split(' ')[0];
      await sleep(1500);
      const before = Number(await sbx.files.read('/tmp/count'));

      // 1. Killed in the middle of a pause.
      const pausing = fetch(`${srv.conn.domain}/sandboxes/${id}/pause`, {
        method: 'POST',
        headers: { 'X-API-Key': srv.conn.apiKey },
      }).catch(() => undefined);
      await sleep(150);
      await killHard(child);
      await pausing;
      let s = await startTestServer({}, dataDir);
      try {
        await checkIntact(s, id, sum, before);
        await Sandbox.pause(id, s.conn); // a clean pause for the next round
      } finally {
        await s.close({ keepDataDir: true });
      }

      // 2. Killed in the middle of a resume.
      srv = await serverProcess(dataDir);
      child = srv.child;
      const resuming = fetch(`${srv.conn.domain}/sandboxes/${id}/connect`, {
        method: 'POST',
        headers: { 'X-API-Key': srv.conn.apiKey, 'content-type': 'application/json' },
        body: '{"timeout": 60}',
      }).catch(() => undefined);
      await sleep(120);
      await killHard(child);
      await resuming;
      child = undefined;
      s = await startTestServer({}, dataDir);
      try {
        await checkIntact(s, id, sum, before);
      } finally {
        await s.close({ keepDataDir: true });
      }

      // 3. Killed in the middle of a kill: after the restart the sandbox is gone for good (the kill is finished), or
      // — when the kill had not begun — still running; never stuck half-killed, and nothing of it is left once
      // gone.
      srv = await serverProcess(dataDir);
      child = srv.child;
      const killing = fetch(`${srv.conn.domain}/sandboxes/${id}`, {
        method: 'DELETE',
        headers: { 'X-API-Key': srv.conn.apiKey },
      }).catch(() => undefined);
      await sleep(40);
      await killHard(child);
      await killing;
      child = undefined;
      s = await startTestServer({}, dataDir);
      try {
        const after = await api(s, 'GET', `/sandboxes/${id}`);
        assert.ok(
          after.status === 404 || after.body.state === 'running',
          `after a crash mid-kill: ${after.status} ${after.body?.state}`,
        );
        if (after.status === 200) assert.equal((await api(s, 'DELETE', `/sandboxes/${id}`)).status, 204);
        assert.equal((await api(s, 'GET', `/sandboxes/${id}`)).status, 404);
        assert.equal(existsSync(path.join(dataDir, 'sandboxes', id)), false, 'no runtime state left');
      } finally {
        await s.close();
      }
    } finally {
      if (child) await killHard(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a control plane killed during a filesystem-only pause and during its boot loses no file', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-crash-fs-'));
    let child: ChildProcess | undefined;
    const intact = async (s: TestServer, id: string, sum: string) => {
      const info = await Sandbox.getInfo(id, s.conn).catch((e) =>
        assert.fail(`sandbox lost: ${e.message}\nserver log:\n${s.logs.join('\n')}`),
      );
      assert.ok(info.state === 'paused' || info.state === 'running', `state after restart: ${info.state}`);
      const sbx = await Sandbox.connect(id, { ...s.conn, timeoutMs: 60_000 });
      assert.equal((await sbx.commands.run('sha256sum /home/user/blob')).stdout.split(' ')[0], sum, 'file intact');
      // Set up as after a create: the access token the SDK holds works, the env var is there.
      assert.equal((await sbx.commands.run('echo $KEPT')).stdout, 'yes\n');
    };
    try {
      let srv = await serverProcess(dataDir);
      child = srv.child;
      const sbx = await Sandbox.create('default', { ...srv.conn, timeoutMs: 300_000, envs: { KEPT: 'yes' } });
      const id = sbx.sandboxId;
      const sum = (
        await sbx.commands.run('head -c 50000000 /dev/urandom > /home/user/blob && sha256sum /home/user/blob')
      ).stdout.split(' ')[0];
      const post = (conn: typeof srv.conn, p: string, body: string) =>
        fetch(`${conn.domain}${p}`, {
          method: 'POST',
          headers: { 'X-API-Key': conn.apiKey, 'content-type': 'application/json' },
          body,
        }).catch(() => undefined);

      // 1. Killed in the middle of a filesystem-only pause.
      const pausing = post(srv.conn, `/sandboxes/${id}/pause`, '{"memory": false}');
      await sleep(30);
      await killHard(child);
      await pausing;
      let s = await startTestServer({}, dataDir);
      try {
        await intact(s, id, sum);
        await Sandbox.pause(id, { ...s.conn, keepMemory: false });
      } finally {
        await s.close({ keepDataDir: true });
      }

      // 2. Killed in the middle of its boot (resume), at a few moments: before, during and after the boot itself.
      for (const delayMs of [300, 1200, 2000]) {
        srv = await serverProcess(dataDir);
        child = srv.child;
        const resuming = post(srv.conn, `/sandboxes/${id}/connect`, '{"timeout": 60}');
        await sleep(delayMs);
        await killHard(child);
        await resuming;
        child = undefined;
        s = await startTestServer({}, dataDir);
        try {
          await intact(s, id, sum);
          await Sandbox.pause(id, { ...s.conn, keepMemory: false });
        } finally {
          await s.close({ keepDataDir: true });
        }
      }
    } finally {
      if (child) await killHard(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
