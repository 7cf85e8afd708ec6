/**
 * Filesystem-only pause (E2B's `keepMemory: false` / `autoPauseMemory: false`) against a real server and real
 * sandboxes: the files stay, every process ends (a double-forked daemon too — checked on the host), the sandbox boots
 * afresh on resume (a new boot ID; a memory pause keeps it) with its template's start command run again and its env
 * vars and token; timeouts pause filesystem-only when asked; a server restart and a reboot of a memory pause; what
 * is refused (autoResume with it, traffic waking it); and the stock e2b JS SDK doing it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox as E2bSandbox } from 'e2b';
import { Sandbox, Template, waitForFile } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
const TEMPLATE = 'fs-pause-start';
/** The template's start command: logs each run (the sandbox's boot ID with it), then stays. */
const START_CMD = "sh -c 'cat /proc/sys/kernel/random/boot_id >> /home/user/starts.log; exec sleep 100000'";

before(async () => {
  s = await startTestServer({ sweepIntervalMs: 100 });
  process.env.E2B_API_URL = s.url;
  process.env.E2B_SANDBOX_URL = s.url;
  process.env.E2B_API_KEY = s.apiKey;
  const t = Template().fromTemplate('default').setStartCmd(START_CMD, waitForFile('/home/user/starts.log'));
  await Template.build(t, { ...s.conn, alias: TEMPLATE, cpuCount: 1, memoryMB: 512 });
});
after(async () => {
  await s?.close();
});

/** Whether a `sleep 200000` started through the agent runs (its command line, as `commands.list` shows it). */
const sleeping = async (sbx: { commands: { list(): Promise<{ cmd: string; args: string[] }[]> } }) =>
  (await sbx.commands.list()).some((p) => [p.cmd, ...p.args].join(' ').includes('sleep 200000'));
const bootId = async (sbx: Sandbox) => (await sbx.files.read('/proc/sys/kernel/random/boot_id')).trim();
const hostBootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** Host processes whose command line holds `marker` (a sandbox's processes are host processes too). */
function hostProcesses(marker: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** The pause image the sandbox's record names, and what its manifest says. */
async function pausedImage(id: string): Promise<{ dir: string; manifest: { memory?: boolean } }> {
  const rec = await s.store.getSandbox(id);
  assert.ok(rec?.pausedImage, 'the record names its pause image');
  const manifest = JSON.parse(readFileSync(path.join(rec.pausedImage, 'checkpoint.json'), 'utf8'));
  return { dir: rec.pausedImage, manifest };
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('filesystem-only pause', () => {
  it(
    'keeps the files, ends every process (a double-forked daemon too), boots afresh: ' + 'new boot ID, startCmd again',
    async () => {
      const sbx = await Sandbox.create(TEMPLATE, { ...s.conn, timeoutMs: 120_000, envs: { MINE: 'kept' } });
      try {
        const marker = `tb-fs-daemon-${sbx.sandboxId}`;
        const boot1 = await bootId(sbx);
        assert.notEqual(boot1, hostBootId(), "the sandbox does not see the host's boot ID");
        assert.equal((await sbx.files.read('/home/user/starts.log')).trim().split('\n').length, 1);
        await sbx.files.write('/home/user/kept.txt', 'written before the pause');
        await sbx.commands.run('head -c 3000000 /dev/urandom > /tmp/blob && sha256sum /tmp/blob > /home/user/blob.sum');
        // A daemon that double-forks away from envd (setsid, parent exits) and one that ignores SIGTERM.
        await sbx.commands.run(
          `(setsid bash -c 'trap "" TERM HUP; exec -a ${marker} bash -c "while :; do date +%s%N > /tmp/beat; ` +
            `sleep 0.1; done"' </dev/null >/dev/null 2>&1 &)`,
        );
        await waitFor('daemon', async () => hostProcesses(marker).length > 0);
        const bg = await sbx.commands.run('sleep 200000', { background: true });
        bg.disconnect();
        assert.ok(await sleeping(sbx));

        // A memory pause keeps the boot (same boot ID, the daemon and background process still there).
        await sbx.pause();
        await sbx.resume();
        assert.equal(await bootId(sbx), boot1, 'a memory pause is the same boot');
        assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid));
        assert.ok(hostProcesses(marker).length > 0, 'the daemon survived the memory pause');

        await sbx.pause({ keepMemory: false });
        assert.equal((await sbx.getInfo()).state, 'paused');
        assert.deepEqual(hostProcesses(marker), [], 'no process of the sandbox is left on the host');
        const { dir, manifest } = await pausedImage(sbx.sandboxId);
        assert.equal(manifest.memory, false);
        assert.equal(existsSync(path.join(dir, 'criu')), false, 'no memory image');
        assert.equal((await s.store.getSandbox(sbx.sandboxId))?.pauseMode, 'filesystem');

        await sbx.resume();
        assert.equal(await sbx.files.read('/home/user/kept.txt'), 'written before the pause');
        const sum = (await sbx.commands.run('sha256sum /tmp/blob')).stdout;
        assert.equal(sum, await sbx.files.read('/home/user/blob.sum'), '/tmp is on the kept layer');
        const boot2 = await bootId(sbx);
        assert.notEqual(boot2, boot1, 'a new boot');
        const starts = (await sbx.files.read('/home/user/starts.log')).trim().split('\n');
        assert.deepEqual(starts.slice(1), [boot2], 'the start command ran again, in the new boot');
        const ps = (await sbx.commands.run('ps -eo args --no-headers')).stdout;
        assert.doesNotMatch(ps, new RegExp(marker), 'the daemon is gone');
        assert.match(ps, /sleep 100000/, 'the new start command runs');
        assert.equal(await sleeping(sbx), false, 'the background command is gone');
        assert.deepEqual(hostProcesses(marker), []);
        // The sandbox's env vars and access token came back with it (the SDK's calls carry the old token).
        assert.equal((await sbx.commands.run('echo $MINE')).stdout, 'kept\n');
        assert.equal((await s.store.getSandbox(sbx.sandboxId))?.pauseMode, undefined);
        const logs = await api(s, 'GET', `/v2/sandboxes/${sbx.sandboxId}/logs`);
        assert.match(JSON.stringify(logs.body), /filesystem only/);
        assert.match(JSON.stringify(logs.body), /booted afresh/);
      } finally {
        await sbx.kill();
      }
    },
  );

  it(
    'a timeout with keepMemory false pauses filesystem-only; autoResume with it is refused; ' +
      'traffic does not wake it',
    async () => {
      const bad = await api(s, 'POST', '/sandboxes', {
        templateID: 'default',
        autoPause: true,
        autoPauseMemory: false,
        autoResume: { enabled: true },
      });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /autoResume cannot be combined with autoPauseMemory: false/);
      assert.equal((await Sandbox.list(s.conn)).length, 0, 'nothing was started');

      const sbx = await Sandbox.create('default', {
        ...s.conn,
        timeoutMs: 1000,
        lifecycle: { onTimeout: { action: 'pause', keepMemory: false } },
      });
      try {
        await sbx.files.write('/home/user/t.txt', 'timed out');
        await waitFor('auto-pause', async () => (await sbx.getInfo()).state === 'paused');
        assert.equal((await pausedImage(sbx.sandboxId)).manifest.memory, false);
        const again = await Sandbox.connect(sbx.sandboxId, { ...s.conn, timeoutMs: 60_000 });
        assert.equal(await again.files.read('/home/user/t.txt'), 'timed out');
      } finally {
        await sbx.kill();
      }

      // An autoResume sandbox paused filesystem-only by request: traffic does not wake it, connect does.
      const woke = await Sandbox.create('default', {
        ...s.conn,
        timeoutMs: 60_000,
        lifecycle: { onTimeout: 'pause', autoResume: true },
      });
      try {
        await woke.pause({ keepMemory: false });
        const r = await api(s, 'GET', '/health', undefined, {
          'E2b-Sandbox-Id': woke.sandboxId,
          'E2b-Sandbox-Port': '49983',
        });
        assert.equal(r.status, 502);
        assert.match(r.body.message, /paused; connect to it/);
        assert.equal((await woke.getInfo()).state, 'paused', 'the request did not resume it');
        await woke.resume();
        assert.equal((await woke.getInfo()).state, 'running');
      } finally {
        await woke.kill();
      }
    },
  );

  it('a boot whose agent cannot be set up is paused again with its files (nothing lost); a later resume works', async () => {
    const sbx = await Sandbox.create(TEMPLATE, { ...s.conn, timeoutMs: 60_000 });
    const t = (await s.store.findTemplate(TEMPLATE))!;
    try {
      await sbx.files.write('/home/user/safe.txt', 'not lost');
      await sbx.pause({ keepMemory: false });
      const first = (await s.store.getSandbox(sbx.sandboxId))!.pausedImage;
      // The template's start command now runs as a user the sandbox does not have: the set-up after the boot fails.
      await s.store.updateTemplate(t.templateId, { defaultUser: 'no-such-user' });
      await assert.rejects(sbx.resume(), /no-such-user|user/i);
      const rec = (await s.store.getSandbox(sbx.sandboxId))!;
      assert.equal(rec.state, 'paused');
      assert.equal(rec.pauseMode, 'filesystem');
      assert.notEqual(rec.pausedImage, first, 'paused again into a new generation');
      assert.equal((await pausedImage(sbx.sandboxId)).manifest.memory, false);
      await s.store.updateTemplate(t.templateId, { defaultUser: t.defaultUser });
      await sbx.resume();
      assert.equal(await sbx.files.read('/home/user/safe.txt'), 'not lost');
    } finally {
      await s.store.updateTemplate(t.templateId, { defaultUser: t.defaultUser });
      await sbx.kill();
    }
  });

  it('bad input: a non-boolean memory is a 400; pausing a paused sandbox is a 409; nothing changes', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    try {
      const bad = await api(s, 'POST', `/sandboxes/${sbx.sandboxId}/pause`, { memory: 'no' });
      assert.equal(bad.status, 400);
      assert.equal((await sbx.getInfo()).state, 'running');
      await sbx.pause({ keepMemory: false });
      const twice = await api(s, 'POST', `/sandboxes/${sbx.sandboxId}/pause`, { memory: false });
      assert.equal(twice.status, 409);
    } finally {
      await sbx.kill();
    }
  });

  it('onResume reboot: a memory-paused sandbox boots afresh on its files, its memory image is not used', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    try {
      const boot1 = await bootId(sbx);
      await sbx.files.write('/home/user/r.txt', 'rebooted');
      const bg = await sbx.commands.run('sleep 200000', { background: true });
      bg.disconnect();
      assert.ok(await sleeping(sbx));
      await sbx.pause();
      const again = await Sandbox.connect(sbx.sandboxId, { ...s.conn, onResume: 'reboot' });
      assert.equal(await again.files.read('/home/user/r.txt'), 'rebooted');
      assert.notEqual(await bootId(again), boot1);
      assert.equal(await sleeping(again), false);
    } finally {
      await sbx.kill();
    }
  });

  it(
    'the stock e2b JS SDK: pause({keepMemory: false}), connect; ' + 'onTimeout {action: pause, keepMemory: false}',
    async () => {
      const sbx = await E2bSandbox.create({ timeoutMs: 60_000 });
      try {
        await sbx.files.write('/home/user/e2b.txt', 'from e2b');
        const boot1 = (await sbx.files.read('/proc/sys/kernel/random/boot_id')).trim();
        await sbx.commands.run('sleep 200000', { background: true });
        assert.ok(await sleeping(sbx));
        assert.equal(await sbx.pause({ keepMemory: false }), true);
        assert.equal(await sbx.isRunning(), false);
        const again = await E2bSandbox.connect(sbx.sandboxId);
        assert.equal(await again.files.read('/home/user/e2b.txt'), 'from e2b');
        assert.notEqual((await again.files.read('/proc/sys/kernel/random/boot_id')).trim(), boot1);
        assert.equal(await sleeping(again), false);
      } finally {
        await sbx.kill();
      }
      const timed = await E2bSandbox.create({
        timeoutMs: 1000,
        lifecycle: { onTimeout: { action: 'pause', keepMemory: false } },
      });
      try {
        await timed.files.write('/home/user/t.txt', 'kept');
        await waitFor('auto-pause', async () => (await E2bSandbox.getInfo(timed.sandboxId)).state === 'paused');
        assert.equal((await s.store.getSandbox(timed.sandboxId))?.pauseMode, 'filesystem');
        const again = await E2bSandbox.connect(timed.sandboxId, { timeoutMs: 60_000 });
        assert.equal(await again.files.read('/home/user/t.txt'), 'kept');
      } finally {
        await timed.kill();
      }
    },
  );

  it('resumes on a restarted server (the mode is in the record, the layer in the snapshot store)', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    try {
      const sbx = await Sandbox.create('default', { ...first.conn, timeoutMs: 60_000 });
      const boot1 = await bootId(sbx);
      await sbx.files.write('/home/user/restart.txt', 'across a restart');
      await sbx.pause({ keepMemory: false });
      await first.close({ keepDataDir: true });
      second = await startTestServer({}, first.dataDir);
      assert.equal((await second.store.getSandbox(sbx.sandboxId))?.pauseMode, 'filesystem');
      const again = await Sandbox.connect(sbx.sandboxId, { ...second.conn, timeoutMs: 60_000 });
      assert.equal(await again.files.read('/home/user/restart.txt'), 'across a restart');
      assert.notEqual(await bootId(again), boot1);
    } finally {
      await (second ?? first).close();
    }
  });
});
