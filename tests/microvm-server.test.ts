/**
 * One server, both boundaries: with QEMU and the guest kernel here the server runs containers (its default) and
 * microVMs side by side, chosen per sandbox (SDK `isolation`, the template's, the server's default) — one sandbox of
 * each through the SDK, with their kernels, what getInfo and list say, pause and resume of the microVM (a live counter
 * and its files) reaching the microvm driver, a snapshot that starts only in its own isolation, and the 400s for a
 * value that is no isolation or one the host cannot run; a microVM's internet access (through the host's NAT), egress
 * rules and blocked addresses against a test network of its own. A server whose default is microvm refuses to start
 * without its guest. Runs under TCG where /dev/kvm cannot run a stock guest (slow): every microVM here is the `default`
 * template's shape, so one template snapshot (booted once, by the first microVM create) serves them all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from 'tensor-box';
import { startServer } from '../packages/server/src/index.js';
import { api, startTestServer, testConfig, type TestServer } from './helpers/harness.js';
import { startTestNet, TCP_PORT } from './security/helpers/test-net.js';

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

/** A cache dir with the shared root filesystems but no microVM guest: a host that cannot run microVMs. */
function cacheWithoutGuest(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-novm-cache-'));
  for (const entry of ['rootfs', 'images', 'blobs']) {
    if (existsSync(path.join(cacheDir, entry))) symlinkSync(path.join(cacheDir, entry), path.join(dir, entry));
  }
  mkdirSync(path.join(dir, 'microvm'));
  return dir;
}

describe('one server with container and microvm isolation', { skip }, () => {
  let s: TestServer;
  const guestKernel = () => path.basename(realpathSync(guestDir)).replace(/^guest-/, '');
  before(async () => {
    s = await startTestServer({});
  });
  after(async () => {
    await s?.close();
  });

  it('runs one sandbox of each: own kernel or the host kernel; getInfo and list say which', async () => {
    const opts = { ...s.conn, timeoutMs: 300_000 };
    const ctr = await Sandbox.create('default', opts);
    const vm = await Sandbox.create('default', { ...opts, isolation: 'microvm', envs: { FOO: 'bar' } });
    try {
      assert.equal((await ctr.commands.run('uname -r')).stdout.trim(), os.release());
      const r = await vm.commands.run('uname -r; echo $FOO; whoami; hostname');
      assert.deepEqual(r.stdout.trim().split('\n'), [guestKernel(), 'bar', 'user', vm.sandboxId]);
      assert.notEqual(guestKernel(), os.release());
      assert.equal((await ctr.getInfo()).isolation, 'container');
      assert.equal((await vm.getInfo()).isolation, 'microvm');
      const listed = new Map((await Sandbox.list(s.conn)).map((i) => [i.sandboxId, i.isolation]));
      assert.equal(listed.get(ctr.sandboxId), 'container');
      assert.equal(listed.get(vm.sandboxId), 'microvm');
      const rows = new Map((await s.store.listSandboxes()).map((x) => [x.sandboxId, x.isolation]));
      assert.deepEqual([rows.get(ctr.sandboxId), rows.get(vm.sandboxId)], ['container', 'microvm']);

      // Pause and resume reach the microvm driver: the same processes and files come back in the VM.
      await vm.files.write('/home/user/note.txt', 'kept');
      const counter = `i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done`;
      await vm.commands.run(`nohup bash -c '${counter}' >/dev/null 2>&1 &`);
      const count = async () => Number((await vm.commands.run('cat /tmp/n 2>/dev/null || echo 0')).stdout.trim());
      // An emulated guest on a busy host is slow: wait for the counter (and, after resume, for it to move on).
      const passes = async (ok: () => Promise<boolean>, timeoutMs: number) => {
        for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(250)) if (await ok()) return true;
        return false;
      };
      assert.ok(await passes(async () => (await count()) > 2, 30_000), 'the counter runs');
      const before = await count();
      // The guest's boot time by its clocks (wall clock minus time since boot): it moves when the wall clock is set.
      const clocks = 'read up _ < /proc/uptime; echo "$(date +%s.%N) $up"';
      const bootAt = async () => {
        const sentAt = Date.now();
        const [wall, up] = (await vm.commands.run(clocks)).stdout.trim().split(' ').map(Number);
        return { wallMs: wall * 1000, bootMs: (wall - up) * 1000, sentAt, doneAt: Date.now() };
      };
      const b0 = await bootAt();
      await vm.pause();
      assert.equal((await Sandbox.getInfo(vm.sandboxId, s.conn)).state, 'paused');
      const pausedAt = Date.now();
      await sleep(5000);
      await vm.resume(300_000);
      // The VM comes back with the clock it was saved with; the resume's /init sets it to now (envd, clock.go).
      const b1 = await bootAt();
      // Read between sentAt and doneAt on the host; envd sets a clock that is over 1 s off.
      const off = b1.wallMs < b1.sentAt ? b1.wallMs - b1.sentAt : Math.max(0, b1.wallMs - b1.doneAt);
      assert.ok(Math.abs(off) < 1500, `guest clock ${off} ms off the host's`);
      assert.ok(b1.bootMs - b0.bootMs > 3000, `the clock was set forward (by ${b1.bootMs - b0.bootMs} ms)`);
      assert.ok(Date.now() - pausedAt >= 5000);
      assert.equal((await vm.commands.run('uname -r')).stdout.trim(), guestKernel(), 'resumed as a microVM');
      assert.equal(await vm.files.read('/home/user/note.txt'), 'kept');
      const n1 = await count();
      assert.ok(n1 >= before && n1 < before + 200, `the counter continued from ${before} (now ${n1})`);
      assert.ok(await passes(async () => (await count()) > n1, 30_000), 'the process runs after resume');
      assert.equal((await vm.getInfo()).isolation, 'microvm');
    } finally {
      await ctr.kill();
      await vm.kill();
    }
  });

  it('a microVM reaches the internet through the host, within its egress rules, and not without access', async () => {
    const tn = await startTestNet();
    const made: Sandbox[] = [];
    const vm = async (o: object) => {
      const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 180_000, isolation: 'microvm', ...o });
      made.push(sbx);
      return sbx;
    };
    // A TCP connection from the guest, as root: the first line the server answers, or BLOCKED.
    const tcp = async (sbx: Sandbox, ip: string) =>
      (
        await sbx.commands.run(
          `timeout 10 bash -c 'exec 3<>/dev/tcp/${ip}/${TCP_PORT} && head -1 <&3' 2>/dev/null || echo BLOCKED`,
          { user: 'root', timeoutMs: 30_000 },
        )
      ).stdout.trim();
    try {
      const open = await vm({});
      assert.match(await tcp(open, tn.publicIp), /^hello /, 'internet access (masqueraded by the host)');
      assert.equal(await tcp(open, tn.metadataIp), 'BLOCKED', 'the cloud metadata address stays blocked');
      assert.equal(await tcp(open, tn.lanIp), 'BLOCKED', "the host's own networks stay blocked");
      const ruled = await vm({ network: { denyOut: ['0.0.0.0/0'], allowOut: [`${tn.publicIp}/32`] } });
      assert.match(await tcp(ruled, tn.publicIp), /^hello /);
      assert.equal(await tcp(ruled, tn.publicIp2), 'BLOCKED', 'denied by its egress rules');
      await ruled.updateNetwork({ denyOut: [tn.publicIp] });
      assert.equal(await tcp(ruled, tn.publicIp), 'BLOCKED', 'the new rules are in force at once');
      assert.match(await tcp(ruled, tn.publicIp2), /^hello /);
      const offline = await vm({ allowInternetAccess: false });
      assert.equal(await tcp(offline, tn.publicIp), 'BLOCKED', 'no internet access');
    } finally {
      for (const sbx of made) await sbx.kill().catch(() => {});
      await tn.close();
    }
  });

  it("the template's isolation is the default, a create's own overrides it", async () => {
    await s.store.updateTemplate('default', { isolation: 'microvm' });
    try {
      const vm = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
      const ctr = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000, isolation: 'container' });
      try {
        assert.equal((await vm.getInfo()).isolation, 'microvm');
        assert.equal((await vm.commands.run('uname -r')).stdout.trim(), guestKernel());
        assert.equal((await ctr.getInfo()).isolation, 'container');
        assert.equal((await ctr.commands.run('uname -r')).stdout.trim(), os.release());
      } finally {
        await vm.kill();
        await ctr.kill();
      }
    } finally {
      await s.store.updateTemplate('default', { isolation: undefined });
    }
    // Registering a template records its isolation (and says so); an unknown one is refused.
    const reg = await api(s, 'POST', '/v3/templates', { name: `vm-tpl-${process.pid}`, isolation: 'microvm' });
    assert.equal(reg.status, 202, JSON.stringify(reg.body));
    assert.equal((await api(s, 'GET', `/templates/${reg.body.templateID}`)).body.isolation, 'microvm');
    const bad = await api(s, 'POST', '/v3/templates', { name: `bad-tpl-${process.pid}`, isolation: 'vm' });
    assert.equal(bad.status, 400);
  });

  it('refuses what is no isolation, and starts a snapshot only in its own isolation', async () => {
    const bad = await api(s, 'POST', '/sandboxes', { templateID: 'default', isolation: 'kvm' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 400);
    assert.match(bad.body.message, /isolation/);
    const ctr = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      const snap = await ctr.createSnapshot();
      assert.equal((await s.store.findSnapshot(snap.snapshotId))?.isolation, 'container');
      const r = await api(s, 'POST', '/sandboxes', { templateID: snap.snapshotId, isolation: 'microvm' });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /saved by a container sandbox; it can only start as one, not as microvm/);
    } finally {
      await ctr.kill();
    }
    assert.deepEqual(
      (await s.store.listSandboxes()).map((x) => x.sandboxId),
      [],
      'nothing half-created',
    );
  });

  it('a host without the microVM guest runs containers and answers 400 naming what it lacks', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-novm-'));
    const noGuest = cacheWithoutGuest();
    const other = await startServer(testConfig(dataDir, { cacheDir: noGuest, consoleDir: '' }));
    try {
      const r = await api(other, 'POST', '/sandboxes', { templateID: 'default', isolation: 'microvm' });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /isolation 'microvm' is not available on this server: it needs .*microVM guest/);
      const t = await api(other, 'POST', '/v3/templates', { name: 'wants-vm', isolation: 'microvm' });
      assert.equal(t.status, 400);
      assert.deepEqual(await other.store.listSandboxes(), []);
    } finally {
      await other.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(noGuest, { recursive: true, force: true });
    }
  });

  it('a server whose default is microvm refuses to start without the guest, naming what is missing', async () => {
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
