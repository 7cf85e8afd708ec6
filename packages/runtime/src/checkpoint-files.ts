/**
 * Checkpoint files of the container driver: the manifest (format 1, see docs/snapshots.md), CRIU's logs and images,
 * and the small file and process helpers checkpoint/restore and crash recovery share.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { DriverError } from './driver.js';
import type { IdMap } from './user-namespace.js';

const execFileP = promisify(execFile);

/**
 * Version of the checkpoint directory layout (see docs/snapshots.md). 2: the writable layer is `upper/` or the
 * sandbox's disk image `disk.img` (or absent: it became a template layer). 1 (read too): always `upper/`.
 */
export const CHECKPOINT_FORMAT = 2;
const READABLE_FORMATS = [1, 2];

/** `<imageDir>/checkpoint.json`, written last: a directory without it is an incomplete checkpoint. */
export interface CheckpointManifest {
  format: number;
  /**
   * Which driver wrote it (and can restore it): `microvm` checkpoints are QEMU migration streams (microvm/snapshot.ts).
   */
  driver: 'container' | 'microvm';
  sandboxId: string;
  createdAt: string;
  /** The rootfs layers the writable layer sits on (the template's). */
  layers: string[];
  /** Bytes of memory pages in the image. */
  memoryBytes: number;
  /** The user namespace map of the checkpointed sandbox (absent: none); its restore uses the same. */
  idMap?: IdMap;
  /** Sandbox paths of the host directories mounted in it, in the order of CRIU's external mounts `vol-<i>`. */
  mounts?: string[];
}

export async function writeManifest(
  imageDir: string,
  sandboxId: string,
  layers: string[],
  idMap?: IdMap,
  mounts: string[] = [],
): Promise<void> {
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    driver: 'container',
    sandboxId,
    createdAt: new Date().toISOString(),
    layers,
    memoryBytes: pagesBytes(path.join(imageDir, 'criu')),
    ...(idMap ? { idMap } : {}),
    ...(mounts.length ? { mounts } : {}),
  };
  // Written last and atomically: its presence means the checkpoint is complete.
  await writeFile(path.join(imageDir, 'checkpoint.json.tmp'), JSON.stringify(manifest, null, 2));
  await rename(path.join(imageDir, 'checkpoint.json.tmp'), path.join(imageDir, 'checkpoint.json'));
}

/** Whether CRIU finished dumping into `images` (its log says so). */
export function dumpComplete(images: string): boolean {
  try {
    return (
      existsSync(path.join(images, 'inventory.img')) &&
      /Dumping finished successfully/.test(readFileSync(path.join(images, 'dump.log'), 'utf8'))
    );
  } catch {
    return false;
  }
}

/** Whether a `criu dump -t <pid>` is still running on this host. */
export function criuRunningFor(pid: number): boolean {
  return criuProcessFor((argv) => argv[1] === 'dump' && argv[argv.indexOf('-t') + 1] === String(pid));
}

/** Whether a CRIU process whose argv matches runs on this host. */
export function criuProcessFor(match: (argv: string[]) => boolean): boolean {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (/criu$/.test(argv[0]) && match(argv)) return true;
    } catch {
      /* exited */
    }
  }
  return false;
}

/** Reads and checks `<imageDir>/checkpoint.json`. */
export function readManifest(imageDir: string): CheckpointManifest {
  let m: CheckpointManifest;
  try {
    m = JSON.parse(readFileSync(path.join(imageDir, 'checkpoint.json'), 'utf8')) as CheckpointManifest;
  } catch {
    throw new DriverError('not_found', `no complete checkpoint in ${imageDir}`);
  }
  if (!READABLE_FORMATS.includes(m.format) || m.driver !== 'container') {
    throw new DriverError(
      'failed_precondition',
      `checkpoint in ${imageDir} has format ${m.format}/${m.driver}, expected ${CHECKPOINT_FORMAT}/container`,
    );
  }
  return m;
}

/** The error lines of a CRIU log, for messages (empty when there is no log). */
export function criuErrors(log: string): string {
  try {
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\([\d.]+\)\s*/, '').trim());
    // The first errors name the cause (e.g. an unsupported socket); the last ones only say that the dump failed.
    const errors = lines.filter((l) => /^Error \(/.test(l) && !/RLIMIT_NOFILE for self/.test(l));
    const picked = errors.length ? errors.slice(0, 3) : lines.filter((l) => l !== '').slice(-3);
    return picked.join('; ');
  } catch {
    return '';
  }
}

/** Total size of the memory page images. */
export function pagesBytes(images: string): number {
  let n = 0;
  for (const f of readdirSync(images)) if (/^pages-\d+\.img$/.test(f)) n += statSync(path.join(images, f)).size;
  return n;
}

/** rename() of a file, or a sparse copy + remove across filesystems. */
export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await execFileP('cp', ['--sparse=always', from, `${to}.partial`]);
    await rename(`${to}.partial`, to);
    await rm(from, { force: true });
  }
}

/** rename(), or copy + remove across filesystems. */
export async function moveDir(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    // cp -a keeps what an overlay upper dir needs: whiteout devices, xattrs (opaque dirs), owners, hard links.
    await execFileP('cp', ['-a', from, to]);
    await rm(from, { recursive: true, force: true });
  }
}

export async function waitForAgent(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    // A fresh connection each time (no pooled socket from an earlier sandbox on this address).
    const status = await new Promise<number>((resolve) => {
      const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
    });
    if (status >= 200 && status < 300) return;
    if (Date.now() > deadline) throw new DriverError('internal', `the restored agent does not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
