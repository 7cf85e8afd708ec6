/**
 * The container driver's disk pool (disk-pool.ts) with the real launcher and agent: a pooled disk is only ever
 * fresh (a new sandbox never sees what an earlier one wrote), it is mounted exactly as a disk the launcher makes during
 * a create, `close` leaves nothing mounted, and the disks a crashed process left ready are removed by the next driver
 * on that state dir. The crash is real: a child process (this file, with TB_DISK_POOL_CHILD set) fills a pool and is
 * killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ContainerDriver } from '../container.js';
import { SandboxCgroup, detectLayout } from '../cgroups.js';
import { nsenterShell } from '../driver-suite.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from '../rootfs/debian.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const launcherPath = path.join(repo, 'build', 'tb-launch');
const agentPath = path.join(repo, 'build', 'envd');
const cacheDir = process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box';
const DISK_MB = 64;
const POOL = 2;

/** Mount points of `<dir>/.disk-pool`'s entries that are mounted now. */
const poolMounts = (stateDir: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m?.startsWith(path.join(stateDir, '.disk-pool') + '/'));

/** Loop devices whose backing file lies under `dir`. */
function loopsUnder(dir: string): string[] {
  return readdirSync('/sys/block')
    .filter((d) => d.startsWith('loop'))
    .filter((d) => {
      try {
        return readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').startsWith(dir + '/');
      } catch {
        return false;
      }
    });
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Nothing of the pool is left: no entry, no mount, no loop device. */
async function assertPoolGone(stateDir: string): Promise<void> {
  const root = path.join(stateDir, '.disk-pool');
  assert.deepEqual(existsSync(root) ? readdirSync(root) : [], [], 'pool entries');
  assert.deepEqual(poolMounts(stateDir), [], 'pool mounts');
  // A lazily detached loop device lets go once its file system is released.
  await until('the pool loop devices to go', () => loopsUnder(root).length === 0);
}

const spec = (sandboxId: string, diskMB = DISK_MB) => ({
  sandboxId,
  layers: [rootfs],
  cpuCount: 1,
  memoryMB: 256,
  diskMB,
  internetAccess: false,
});

let rootfs = '';

/** The crashing child: fills a pool on the given state dir, says so, and waits for its SIGKILL. */
async function child(stateDir: string): Promise<void> {
  rootfs = process.env.TB_DISK_POOL_ROOTFS!;
  const driver = new ContainerDriver({ stateDir, launcherPath, agentPath, diskPoolSize: POOL });
  await driver.create(spec('crashchild'));
  await driver.destroy('crashchild');
  await until('a full pool', () => poolMounts(stateDir).length === POOL);
  process.stdout.write('full\n');
  setInterval(() => {}, 1000);
}

if (process.env.TB_DISK_POOL_CHILD) {
  await child(process.env.TB_DISK_POOL_CHILD);
} else {
  const skip =
    process.getuid?.() !== 0
      ? 'needs root'
      : !existsSync(launcherPath) || !existsSync(agentPath)
        ? 'build/tb-launch or build/envd missing (npm run setup builds them)'
        : false;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tb-disk-pool-'));
  rootfs = path.join(tmp, 'rootfs');
  if (!skip) await buildDebianRootfs({ dest: rootfs, ...DEFAULT_TEMPLATE_RECIPE, cacheDir });
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const id = (s: string) => `dp${process.pid.toString(36)}${s}`;
  const inside = (info: { pid: number; sandboxId: string }, cmd: string) =>
    nsenterShell(info.pid, cmd, new SandboxCgroup(detectLayout(), 'tensor-box', info.sandboxId).dirs());

  describe('container driver: disk pool', { skip }, () => {
    it('hands out only fresh disks: a new sandbox never sees what an earlier one wrote', async () => {
      const stateDir = path.join(tmp, 'fresh');
      const driver = new ContainerDriver({ stateDir, launcherPath, agentPath, diskPoolSize: POOL });
      try {
        const a = await driver.create(spec(id('a')));
        inside(a, 'echo secret-of-a > /root/secret && echo secret-of-a > /tmp/secret && sync');
        const aUpper = path.join(stateDir, id('a'), 'disk', 'upper');
        assert.ok(existsSync(path.join(aUpper, 'root', 'secret')), "a's file is on its disk");
        await until('a full pool', () => poolMounts(stateDir).length === POOL);
        await driver.destroy(id('a'));
        for (const s of ['b', 'c']) {
          const before = poolMounts(stateDir).length;
          const info = await driver.create(spec(id(s)));
          assert.equal(poolMounts(stateDir).length, before - 1, `${s} took a pooled disk`);
          const seen = inside(info, 'cat /root/secret /tmp/secret 2>&1; ls -a /root');
          assert.doesNotMatch(seen, /secret-of-a/);
          const upper = path.join(stateDir, id(s), 'disk', 'upper');
          assert.ok(!existsSync(path.join(upper, 'root', 'secret')) && !existsSync(path.join(upper, 'tmp', 'secret')));
          await driver.destroy(id(s));
          await until('a full pool', () => poolMounts(stateDir).length === POOL);
        }
      } finally {
        await driver.close();
        for (const s of ['a', 'b', 'c']) await driver.destroy(id(s)).catch(() => {});
      }
      await assertPoolGone(stateDir);
    });

    it('mounts a pooled disk as a create does (nodev, nosuid; root-owned upper and work)', async () => {
      const stateDir = path.join(tmp, 'same');
      const driver = new ContainerDriver({ stateDir, launcherPath, agentPath, diskPoolSize: POOL });
      const view = (sandboxId: string) => {
        const disk = path.join(stateDir, sandboxId, 'disk');
        const line = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .find((l) => l.split(' ')[4] === disk);
        assert.ok(line, `${sandboxId}'s disk is mounted`);
        const [mountOpts, superOpts] = [line.split(' ')[5], line.split(' - ')[1].split(' ')[2]];
        const owner = (sub: string) => {
          const st = statSync(path.join(disk, sub));
          return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
        };
        return { mountOpts, superOpts, upper: owner('upper'), work: owner('work') };
      };
      try {
        await driver.create(spec(id('m')));
        await until('a full pool', () => poolMounts(stateDir).length === POOL);
        await driver.create(spec(id('p'))); // from the pool
        await driver.create(spec(id('q'), DISK_MB + 1)); // a size the pool has none of: made by the launcher
        const pooled = view(id('p'));
        assert.deepEqual(pooled, view(id('q')));
        assert.match(pooled.mountOpts, /(^|,)nodev(,|$)/);
        assert.match(pooled.mountOpts, /(^|,)nosuid(,|$)/);
        assert.equal(pooled.upper, '0:0 755');
      } finally {
        await driver.close();
        for (const s of ['m', 'p', 'q']) await driver.destroy(id(s)).catch(() => {});
      }
      await assertPoolGone(stateDir);
    });

    it('does not hand out a ready disk that was unmounted behind its back', async () => {
      const stateDir = path.join(tmp, 'lost');
      const driver = new ContainerDriver({ stateDir, launcherPath, agentPath, diskPoolSize: 1 });
      try {
        await driver.create(spec(id('x')));
        await until('a full pool', () => poolMounts(stateDir).length === 1);
        execFileSync('umount', [poolMounts(stateDir)[0]]);
        const info = await driver.create(spec(id('y')));
        assert.equal(inside(info, 'echo ok > /root/f && cat /root/f').trim(), 'ok');
        assert.ok(existsSync(path.join(stateDir, id('y'), 'disk', 'upper', 'root', 'f')), 'on a disk of its own');
      } finally {
        await driver.close();
        for (const s of ['x', 'y']) await driver.destroy(id(s)).catch(() => {});
      }
      await assertPoolGone(stateDir);
    });

    it('a driver started after a crash removes the disks the crashed one had ready', async () => {
      const stateDir = path.join(tmp, 'crash');
      const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, TB_DISK_POOL_CHILD: stateDir, TB_DISK_POOL_ROOTFS: rootfs },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      await until('the child to fill its pool', () => out.includes('full'), 60_000);
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      assert.equal(poolMounts(stateDir).length, POOL, 'the crash left mounted disks behind');
      const driver = new ContainerDriver({ stateDir, launcherPath, agentPath });
      assert.deepEqual(await driver.list(), []);
      await assertPoolGone(stateDir);
    });
  });
}
