/**
 * Host directories mounted into container sandboxes (SandboxSpec.mounts, the volumes' runtime part), with the real
 * launcher and CRIU: shared read-write by two sandboxes at once, the volume's root is the sandbox's root (idmapped in a
 * user namespace), a symlink in the image cannot send the mount outside the sandbox, and the mount comes back after a
 * checkpoint and restore (and must be given again: a restore without it is refused).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerDriver } from './container.js';
import { SandboxCgroup, detectLayout } from './cgroups.js';
import { nsenterShell } from './driver-suite.js';
import type { SandboxRuntimeInfo } from './driver.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from './rootfs/debian.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const launcherPath = path.join(repo, 'build', 'tb-launch');
const agentPath = path.join(repo, 'build', 'envd');
const criuPath = path.join(repo, 'build', 'criu');
const work = mkdtempSync(path.join(os.tmpdir(), 'tb-vols-'));
const stateDir = path.join(work, 'state');
const rootfs = path.join(work, 'rootfs');

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(launcherPath) || !existsSync(agentPath) || !existsSync(criuPath)
      ? 'build/tb-launch, build/envd or build/criu missing (npm run setup builds them)'
      : false;

const inside = (info: SandboxRuntimeInfo, cmd: string) =>
  nsenterShell(info.pid, cmd, new SandboxCgroup(detectLayout(), 'tensor-box', info.sandboxId).dirs());

describe('container driver: volumes (host directories bound into sandboxes)', { skip }, async () => {
  if (!skip) {
    await buildDebianRootfs({
      dest: rootfs,
      ...DEFAULT_TEMPLATE_RECIPE,
      cacheDir: process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box',
    });
  }
  const driver = new ContainerDriver({ stateDir, launcherPath, agentPath, criuPath });
  const vol = path.join(work, 'vol');
  mkdirSync(vol, { mode: 0o755 });
  const tag = process.pid.toString(36);
  const spec = (id: string, sandboxPath = '/mnt/data') => ({
    sandboxId: `vl${tag}${id}`,
    layers: [rootfs],
    cpuCount: 1,
    memoryMB: 256,
    diskMB: 0,
    internetAccess: false,
    mounts: [{ hostPath: vol, sandboxPath }],
  });
  const made: string[] = [];
  after(async () => {
    for (const id of made) await driver.destroy(id).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  it('two sandboxes share one directory read-write; the volume root is the sandbox root', async () => {
    const a = await driver.create(spec('a'));
    made.push(a.sandboxId);
    const b = await driver.create(spec('b', '/home/user/shared'));
    made.push(b.sandboxId);
    inside(a, 'echo from-a > /mnt/data/a.txt');
    assert.equal(inside(b, 'cat /home/user/shared/a.txt'), 'from-a\n');
    // Made by the sandbox's root: owned by root on the host too (idmapped), so every sandbox and the host agree.
    assert.equal(statSync(path.join(vol, 'a.txt')).uid, 0);
    writeFileSync(path.join(vol, 'host.txt'), 'from-host');
    assert.equal(inside(a, 'stat -c %U /mnt/data/host.txt; cat /mnt/data/host.txt'), 'root\nfrom-host');
    // nodev, nosuid on the bind.
    assert.match(inside(a, 'grep " /mnt/data " /proc/self/mountinfo'), /nosuid,nodev/);
  });

  it('a symlink in the image does not lead the mount out of the sandbox', async () => {
    // A layer says /opt/link -> /etc (absolute): the volume at /opt/link/x lands in the sandbox's own /etc/x.
    const evil = path.join(work, 'evil-layer');
    mkdirSync(path.join(evil, 'opt'), { recursive: true });
    symlinkSync('/etc', path.join(evil, 'opt', 'link'));
    const name = `tb-vol-${tag}`;
    const c = await driver.create({ ...spec('c', `/opt/link/${name}`), layers: [evil, rootfs] });
    made.push(c.sandboxId);
    assert.equal(inside(c, `cat /etc/${name}/a.txt`), 'from-a\n');
    assert.equal(existsSync(`/etc/${name}`), false);
  });

  it('a checkpoint keeps the mount out of the image; the restore binds it back', async () => {
    const e = await driver.create(spec('e'));
    made.push(e.sandboxId);
    inside(e, 'echo before > /mnt/data/e.txt');
    const image = path.join(work, 'img-e');
    await driver.checkpoint(e.sandboxId, image);
    writeFileSync(path.join(vol, 'while-paused.txt'), 'host wrote this while it was paused');
    // The mount must be given again.
    await assert.rejects(driver.restore({ ...spec('e'), mounts: [] }, image), /volume at \/mnt\/data/);
    const r = await driver.restore(spec('e'), image, { move: true });
    assert.equal(
      inside(r, 'cat /mnt/data/e.txt /mnt/data/while-paused.txt'),
      'before\nhost wrote this while it was paused',
    );
    inside(r, 'echo after > /mnt/data/e2.txt');
    assert.equal(readFileSync(path.join(vol, 'e2.txt'), 'utf8'), 'after\n');
  });
});
