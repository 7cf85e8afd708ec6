/**
 * The node side of volumes: each volume is one ext4 image file (`<imageDir>/<volumeId>.img`, its size the volume's
 * size limit, so a full volume is a real ENOSPC), loop-mounted once per node while something here uses it:
 *
 *     <mountDir>/<volumeId>/rw      the file system (nodev, nosuid); sandboxes get binds of it (Driver mounts)
 *     <mountDir>/<volumeId>/files   a second bind, nosymfollow, nodev, nosuid, noexec: the content API's view, on
 *                                   which a symlink planted by a sandbox is never followed (ELOOP)
 *
 * Users are counted per holder (a sandbox ID while it runs here, a content API request while it lasts); the last
 * release unmounts. One ext4 must never be mounted twice at once (two loop devices, two superblocks: corruption), so
 * `acquire` reuses a mount a previous server process left (found in /proc/self/mountinfo) and a volume's operations
 * run one at a time. With a shared image directory (cluster), the volume service keeps a volume on one node at a time.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface VolumeImageOptions {
  /** Where the images live: the data dir's, or a directory every node mounts (cluster). */
  imageDir: string;
  /** This node's mount points (never shared). */
  mountDir: string;
  log?: (msg: string) => void;
}

export class VolumeImages {
  private readonly holders = new Map<string, Set<string>>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: VolumeImageOptions) {
    mkdirSync(opts.imageDir, { recursive: true, mode: 0o700 });
    mkdirSync(opts.mountDir, { recursive: true, mode: 0o700 });
  }

  imagePath(volumeId: string): string {
    return path.join(this.opts.imageDir, `${volumeId}.img`);
  }

  /** The read-write mount sandboxes bind (valid while acquired). */
  rwDir(volumeId: string): string {
    return path.join(this.opts.mountDir, volumeId, 'rw');
  }

  /** The content API's view (valid while acquired): symlinks are not followed on it. */
  filesDir(volumeId: string): string {
    return path.join(this.opts.mountDir, volumeId, 'files');
  }

  /** Makes the volume's empty file system of sizeMB (its root owned by root, mode 0777, nothing reserved). */
  async create(volumeId: string, sizeMB: number): Promise<void> {
    const img = this.imagePath(volumeId);
    const tmp = `${img}.tmp`;
    try {
      await execFileP('truncate', ['-s', `${sizeMB}M`, tmp]);
      await execFileP('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,root_owner=0:0', tmp]);
      // Its root is writable by every user of every sandbox (templates run as different users).
      await execFileP('debugfs', ['-w', '-R', 'set_inode_field / mode 040777', tmp]);
      await rename(tmp, img);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Mounts the volume here unless it is; `holder` uses it until `release`. Returns the read-write directory. */
  acquire(volumeId: string, holder: string): Promise<string> {
    return this.serial(volumeId, async () => {
      if (!this.mounted(this.rwDir(volumeId))) await this.mount(volumeId);
      let set = this.holders.get(volumeId);
      if (!set) this.holders.set(volumeId, (set = new Set()));
      set.add(holder);
      return this.rwDir(volumeId);
    });
  }

  /** `holder` no longer uses the volume; the last one out unmounts it. */
  release(volumeId: string, holder: string): Promise<void> {
    return this.serial(volumeId, async () => {
      const set = this.holders.get(volumeId);
      if (!set?.delete(holder) || set.size) return;
      this.holders.delete(volumeId);
      await this.unmount(volumeId);
    });
  }

  /** Whether anything on this node holds the volume. */
  inUse(volumeId: string): boolean {
    return (this.holders.get(volumeId)?.size ?? 0) > 0;
  }

  /** Unmounts (whatever holds it) and deletes the image. */
  remove(volumeId: string): Promise<void> {
    return this.serial(volumeId, async () => {
      this.holders.delete(volumeId);
      await this.unmount(volumeId);
      await rm(this.imagePath(volumeId), { force: true });
      await rm(path.join(this.opts.mountDir, volumeId), { recursive: true, force: true });
    });
  }

  private async mount(volumeId: string): Promise<void> {
    const img = this.imagePath(volumeId);
    if (!existsSync(img)) throw new Error(`the image of volume ${volumeId} is missing (${img})`);
    const rw = this.rwDir(volumeId);
    const files = this.filesDir(volumeId);
    mkdirSync(rw, { recursive: true, mode: 0o700 });
    mkdirSync(files, { recursive: true, mode: 0o700 });
    await execFileP('mount', ['-t', 'ext4', '-o', 'loop,nodev,nosuid,noatime', img, rw]);
    try {
      await execFileP('mount', ['--bind', rw, files]);
      await execFileP('mount', ['-o', 'remount,bind,nosymfollow,nodev,nosuid,noexec', files]);
    } catch (err) {
      await execFileP('umount', ['-l', files]).catch(() => {});
      await execFileP('umount', [rw]).catch(() => {});
      throw err;
    }
    this.opts.log?.(`volume ${volumeId} mounted`);
  }

  private async unmount(volumeId: string): Promise<void> {
    for (const dir of [this.filesDir(volumeId), this.rwDir(volumeId)]) {
      // Lazy: a content API stream still reading finishes; the file system goes with the last reference.
      while (this.mounted(dir)) await execFileP('umount', ['-l', dir]);
    }
  }

  private mounted(dir: string): boolean {
    const target = ` ${dir} `;
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' - ')[0].includes(target));
  }

  /** Runs fn after the volume's previous operations (mount, unmount and delete never interleave). */
  private serial<T>(volumeId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(volumeId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.queues.set(volumeId, tail);
    void tail.then(() => {
      if (this.queues.get(volumeId) === tail) this.queues.delete(volumeId);
    });
    return next;
  }
}
