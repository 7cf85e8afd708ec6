/**
 * A sandbox's writable layer (the overlay's upper and work dirs), in one of two places decided once — when the
 * sandbox is created or restored — and recorded in its meta.json (`layer`):
 * - `disk`: on a disk of its own (`<dir>/disk.img` loop-mounted at `<dir>/disk`, see sandbox-disk.ts), so diskMB is a
 *   real limit; upper and work are `<dir>/disk/{upper,work}`;
 * - `dir`: `<dir>/{upper,work}` on the state dir's filesystem (no quota, or diskMB 0).
 * Every operation that touches the layer — launcher options, usage, copies and moves into and out of checkpoints and
 * template layers — asks the WritableLayer rather than looking at which files exist. In a checkpoint directory the
 * layer is `disk.img` (a disk), `upper/` (a directory), or absent (it became a template layer: an empty layer).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SandboxSpec } from '../driver.js';
import { moveDir, moveFile } from '../checkpoint-files.js';
import { diskImage, type SandboxDisks } from '../sandbox-disk.js';

const execFileP = promisify(execFile);

export type LayerKind = 'disk' | 'dir';

/** How the launcher finds the disk: it makes (from `blank`) and mounts it, or it is mounted already or absent. */
export type LaunchDisk = { mount: true; blank?: string } | { mount: false };

export class WritableLayer {
  /** `dir`: the sandbox's state directory. */
  constructor(
    readonly kind: LayerKind,
    private readonly dir: string,
    private readonly disks: SandboxDisks,
  ) {}

  /** The layer of a sandbox recorded before `layer` was: decided here, once, from what is on disk. */
  static legacyKind(dir: string): LayerKind {
    return existsSync(diskImage(dir)) ? 'disk' : 'dir';
  }

  /** Where the sandbox in `dir` mounts its disk, if it has one. */
  static mountPointOf(dir: string): string {
    return path.join(dir, 'disk');
  }

  /** The kind a new sandbox's layer gets: a disk when quotas are on and the spec asks for space. */
  static kindFor(spec: SandboxSpec, diskQuota: boolean): LayerKind {
    return diskQuota && spec.diskMB > 0 ? 'disk' : 'dir';
  }

  /** The kind a restored sandbox's layer gets: the checkpoint's disk stays a disk; else as for a new sandbox. */
  static kindForRestore(imageDir: string, spec: SandboxSpec, diskQuota: boolean): LayerKind {
    return existsSync(path.join(imageDir, 'disk.img')) ? 'disk' : WritableLayer.kindFor(spec, diskQuota);
  }

  get upper(): string {
    return this.kind === 'disk' ? path.join(this.mountPoint, 'upper') : path.join(this.dir, 'upper');
  }

  get work(): string {
    return this.kind === 'disk' ? path.join(this.mountPoint, 'work') : path.join(this.dir, 'work');
  }

  get image(): string {
    return diskImage(this.dir);
  }

  private get mountPoint(): string {
    return WritableLayer.mountPointOf(this.dir);
  }

  /** Whether the layer is (still) here: not yet moved into a checkpoint or out as a template layer. */
  present(): boolean {
    return existsSync(this.kind === 'disk' ? this.image : this.upper);
  }

  /** The launcher's `--upper --work [--disk-*]` options. */
  launcherArgs(disk: LaunchDisk): string[] {
    const mount = disk.mount ? ['--disk-image', this.image, '--disk-mount', this.mountPoint] : [];
    const blank = disk.mount && disk.blank ? ['--disk-blank', disk.blank] : [];
    return ['--upper', this.upper, '--work', this.work, ...mount, ...blank];
  }

  /**
   * Prepares an empty layer for a new sandbox: the launcher makes and mounts the disk itself (no extra processes),
   * unless `pooled` — the directory came from the disk pool with a fresh disk mounted (disk-pool.ts).
   */
  async prepareEmpty(diskMB: number, pooled = false): Promise<LaunchDisk> {
    if (this.kind === 'disk' && pooled) return { mount: false };
    if (this.kind === 'disk') {
      mkdirSync(this.mountPoint, { recursive: true });
      return { mount: true, blank: await this.disks.blank(diskMB) };
    }
    for (const sub of ['upper', 'work']) mkdirSync(path.join(this.dir, sub), { recursive: true });
    return { mount: false };
  }

  /**
   * Puts a checkpoint's layer in place for a restore: its disk image (moved or sparse-copied), or its `upper/` dir onto
   * a fresh disk (or as the upper dir), or nothing (an empty layer). `move` consumes the checkpoint's layer.
   */
  async prepareFrom(imageDir: string, diskMB: number, move: boolean): Promise<LaunchDisk> {
    mkdirSync(path.join(this.dir, 'work'), { recursive: true });
    const img = path.join(imageDir, 'disk.img');
    const up = path.join(imageDir, 'upper');
    if (this.kind === 'disk' && existsSync(img)) {
      // Paused moments ago: the old mount of this image may still be flushing (see saveTo).
      await this.disks.waitReleased(img);
      if (move) await moveFile(img, this.image);
      else await execFileP('cp', ['--sparse=always', '--reflink=auto', img, this.image]);
      mkdirSync(this.mountPoint, { recursive: true });
      return { mount: true };
    }
    if (!existsSync(up)) return this.prepareEmpty(diskMB);
    if (this.kind === 'disk') {
      // A layer to copy onto the new disk first: mount it here.
      await this.disks.create(this.dir, diskMB);
      await execFileP('cp', ['-a', '--reflink=auto', `${up}/.`, this.upper]);
      if (move) await rm(up, { recursive: true, force: true });
      return { mount: false };
    }
    if (move) await moveDir(up, this.upper);
    else await execFileP('cp', ['-a', '--reflink=auto', up, this.upper]);
    return { mount: false };
  }

  /** Bytes used and the limit: the disk's, or the upper dir's size against diskMB (or its filesystem when 0). */
  async usage(diskMB: number): Promise<{ used: number; total: number }> {
    const disk = this.kind === 'disk' ? this.disks.usage(this.dir) : undefined;
    if (disk) return disk;
    let used = 0;
    try {
      const { stdout } = await execFileP('du', ['-sxb', this.upper]);
      used = Number(stdout.split('\t')[0]) || 0;
    } catch {
      /* racing a teardown */
    }
    let total = diskMB * 1024 * 1024;
    if (!total) {
      const fs = statfsSync(this.upper);
      total = fs.blocks * fs.bsize;
    }
    return { used, total };
  }

  /** A copy of the upper dir at `dest` (the sandbox must be frozen). cp -a keeps what an overlay layer needs. */
  async copyTo(dest: string): Promise<void> {
    await execFileP('cp', ['-a', '--reflink=auto', this.upper, dest]);
  }

  /**
   * Moves the upper dir to `dest` (a template layer). `release` is called first when the move must copy (another
   * filesystem: the disk, or an EXDEV rename): it must stop the processes and unmount the overlay.
   */
  async moveUpperTo(dest: string, release: () => Promise<void>): Promise<void> {
    const partial = `${dest}.partial`;
    await rm(partial, { recursive: true, force: true });
    mkdirSync(path.dirname(dest), { recursive: true });
    if (this.kind === 'disk') {
      await release();
      await execFileP('cp', ['-a', this.upper, partial]);
      await rename(partial, dest);
      await this.disks.detach(this.dir);
      return;
    }
    try {
      await rename(this.upper, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await release();
      await moveDir(this.upper, partial);
      await rename(partial, dest);
    }
  }

  /**
   * After a complete dump (the processes are gone or frozen for good): the layer goes with the checkpoint in
   * `imageDir` — the disk image renamed while still mounted (the loop device keeps the inode; its lazy unmount
   * flushes after the pause returned, and a restore waits for it), or the upper dir renamed. `release` (unmount overlay
   * and disk, drop the held descriptor) is called first when a copy is needed across filesystems.
   */
  async saveTo(imageDir: string, release: () => Promise<void>): Promise<void> {
    if (!this.present()) return; // recovery after a crash: already moved
    if (this.kind === 'dir') {
      await this.moveUpperTo(path.join(imageDir, 'upper'), release);
      return;
    }
    try {
      await rename(this.image, path.join(imageDir, 'disk.img'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Another filesystem: the copy must be of a released, consistent image.
      await release();
      await this.disks.detach(this.dir);
      await this.disks.waitReleased(this.image);
      await moveFile(this.image, path.join(imageDir, 'disk.img'));
    }
  }

  /** After a failed or interrupted restore that consumed the checkpoint's layer (overlay unmounted): gives it back. */
  async giveBack(imageDir: string): Promise<void> {
    const img = path.join(imageDir, 'disk.img');
    const up = path.join(imageDir, 'upper');
    if (this.kind === 'disk') {
      if (!existsSync(this.image) || existsSync(img) || existsSync(up)) return;
      await this.disks.detach(this.dir, { clean: true });
      await moveFile(this.image, img);
    } else if (existsSync(this.upper) && !existsSync(up)) {
      await moveDir(this.upper, up);
    }
  }
}
