/**
 * A server with TENSOR_BOX_ISOLATION=microvm (config `isolation: 'microvm'`): through the SDK, sandboxes are QEMU
 * microVMs behind the same API — commands with the /init env vars and user, files, the host name, pause and resume
 * keeping a running process and the files — and a server that lacks QEMU's guest says so at start-up.
 * Runs under TCG where /dev/kvm cannot run a stock guest (slow: the first create boots and saves a template VM).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from 'tensor-box';
import { startServer } from '../packages/server/src/index.js';
import { startTestServer, testConfig, type TestServer } from './helpers/harness.js';

const cacheDir = process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box';
const guestDir = path.join(cacheDir, 'microvm', 'guest');
const hasQemu = (() => {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !hasQemu || !existsSync(path.join(guestDir, 'vmlinuz'))
      ? 'QEMU or the microVM guest missing (packages/runtime/setup.sh installs them)'
      : false;

describe('server with microvm isolation', { skip }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ isolation: 'microvm' });
  });
  after(async () => {
    await s?.close();
  });

  it('runs SDK sandboxes as microVMs: commands, env vars, user, files, pause and resume', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000, envs: { FOO: 'bar' } });
    try {
      const r = await sbx.commands.run('uname -r; echo $FOO; whoami; hostname');
      const kernel = path.basename(realpathSync(guestDir)).replace(/^guest-/, '');
      assert.deepEqual(r.stdout.trim().split('\n'), [kernel, 'bar', 'user', sbx.sandboxId]);
      await sbx.files.write('/home/user/note.txt', 'kept');
      const counter = `i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done`;
      await sbx.commands.run(`nohup bash -c '${counter}' >/dev/null 2>&1 &`);
      await sleep(1000);
      const before = Number((await sbx.files.read('/tmp/n')).trim());
      await sbx.pause();
      await sbx.resume(300_000);
      assert.equal(await sbx.files.read('/home/user/note.txt'), 'kept');
      const n1 = Number((await sbx.files.read('/tmp/n')).trim());
      assert.ok(n1 >= before && n1 < before + 200, `the counter continued from ${before} (now ${n1})`);
      await sleep(1500);
      assert.ok(Number((await sbx.files.read('/tmp/n')).trim()) > n1, 'the process runs after resume');
    } finally {
      await sbx.kill();
    }
  });

  it('refuses to start without the microVM guest, naming what is missing', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-novm-'));
    const emptyCache = mkdtempSync(path.join(os.tmpdir(), 'tb-novm-cache-'));
    try {
      await assert.rejects(
        startServer(testConfig(dataDir, { isolation: 'microvm', cacheDir: emptyCache })),
        /TENSOR_BOX_ISOLATION=microvm needs .*microVM guest/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(emptyCache, { recursive: true, force: true });
    }
  });
});
