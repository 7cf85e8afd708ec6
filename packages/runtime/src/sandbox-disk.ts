/**
 * A sandbox's disk: its writable layer (overlay upper and work dirs) lives on a filesystem of its own — a sparse ext4
 * image `<dir>/disk.img` mounted through a loop device at `<dir>/disk` — so `diskMB` is a real limit: writing past it
 * fails inside the sandbox with ENOSPC. The image is a copy of a formatted blank of that size (made once per size,
 * cached in `<stateDir>/.disks/`). Normally the launcher copies and mounts it (tb-launch `--disk-*`, no extra
 * processes); `create`/`attach` here mount one from the control plane when a layer must be copied onto it before the
 * launcher runs. Deleting files inside punches holes in the image (`discard`), giving the space back to the host.
 *
 * Pausing renames the image file into the checkpoint while it is still mounted (its lazy unmount flushes afterwards);
 * `waitReleased` lets a restore wait until no loop device holds it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const diskImage = (dir: string) => path.join(dir, 'disk.img');
const mountPoint = (dir: string) => path.join(dir, 'disk');

function mounted(target: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === target);
  } catch {
    return false;
  }
}

/**
 * Whether something is mounted at `target`, in O(1): a mount point sits on another device than its parent directory.
 * (`mounted` reads the whole mount table, which grows with every sandbox: fine once, not per sample of each sandbox.)
 */
function isMountPoint(target: string): boolean {
  try {
    return statSync(target).dev !== statSync(path.dirname(target)).dev;
  } catch {
    return false;
  }
}

/** The loop device whose backing file is `image` (the path follows renames), if any. */
function attachedLoop(image: string): string | undefined {
  let devs: string[] = [];
  try {
    devs = readdirSync('/sys/block').filter((d) => d.startsWith('loop'));
  } catch {
    return undefined;
  }
  for (const d of devs) {
    try {
      const backing = readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8')
        .trim()
        .replace(/ \(deleted\)$/, '');
      if (backing === image) return d;
    } catch {
      /* not attached */
    }
  }
  return undefined;
}

export class SandboxDisks {
  private blanks = new Map<number, Promise<string>>();

  constructor(private readonly stateDir: string) {}

  /** A formatted, empty, sparse ext4 image of `sizeMB` (no journal: a disk lives and dies with its sandbox). */
  blank(sizeMB: number): Promise<string> {
    let p = this.blanks.get(sizeMB);
    if (!p) {
      p = (async () => {
        const dir = path.join(this.stateDir, '.disks');
        mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `ext4-${sizeMB}m.img`);
        if (existsSync(file)) return file;
        const tmp = `${file}.${process.pid}.tmp`;
        await execFileP('truncate', ['-s', `${sizeMB}M`, tmp]);
        await execFileP('mkfs.ext4', [
          '-q',
          '-F',
          '-m',
          '0',
          '-O',
          '^has_journal',
          '-E',
          'lazy_itable_init=1,nodiscard,root_owner=0:0',
          tmp,
        ]);
        await rename(tmp, file);
        return file;
      })();
      p.catch(() => this.blanks.delete(sizeMB));
      this.blanks.set(sizeMB, p);
    }
    return p;
  }

  /** Makes and mounts a new disk for the sandbox in `dir`, with empty upper and work dirs on it. */
  async create(dir: string, sizeMB: number): Promise<void> {
    const blank = await this.blank(sizeMB);
    await execFileP('cp', ['--sparse=always', blank, diskImage(dir)]);
    await this.attach(dir);
    mkdirSync(path.join(mountPoint(dir), 'upper'), { recursive: true });
    mkdirSync(path.join(mountPoint(dir), 'work'), { recursive: true });
  }

  /** Mounts the sandbox's existing disk image. */
  async attach(dir: string): Promise<void> {
    mkdirSync(mountPoint(dir), { recursive: true });
    // noinit_itable: no background zeroing of inode tables, which would fill the sparse image.
    await execFileP('mount', [
      '-t',
      'ext4',
      '-o',
      'loop,noatime,discard,noinit_itable',
      diskImage(dir),
      mountPoint(dir),
    ]);
  }

  /**
   * Unmounts the disk. `clean` waits for a real unmount (the image is complete and may be mounted again, e.g. after a
   * pause); otherwise the unmount is lazy (the sandbox is being destroyed).
   */
  async detach(dir: string, opts: { clean?: boolean } = {}): Promise<void> {
    const mp = mountPoint(dir);
    if (!mounted(mp)) return;
    if (!opts.clean) {
      await execFileP('umount', ['-l', mp]).catch(() => {});
      return;
    }
    for (let i = 0; ; i++) {
      try {
        await execFileP('umount', [mp]);
        return;
      } catch (err) {
        // The overlay above it may take a moment to let go after its own (lazy) unmount.
        if (i >= 100 || !/busy/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /**
   * Waits until no loop device is attached to `image` any more (a lazily detached disk has finished flushing), so it
   * can be mounted again or copied consistently.
   */
  async waitReleased(image: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (attachedLoop(image)) {
      if (Date.now() > deadline) throw new Error(`disk image ${image} is still attached to a loop device`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Used and total bytes of the sandbox's disk, or undefined when it is not mounted. */
  usage(dir: string): { used: number; total: number } | undefined {
    if (!isMountPoint(mountPoint(dir))) return undefined;
    const fs = statfsSync(mountPoint(dir));
    return { used: (fs.blocks - fs.bfree) * fs.bsize, total: fs.blocks * fs.bsize };
  }
}
