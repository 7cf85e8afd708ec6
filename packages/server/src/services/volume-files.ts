/**
 * The volume content API's file operations (spec/volume-content.yaml), on the volume's `files` view
 * (volume-images.ts): a bind mounted nosymfollow, nodev, nosuid, noexec. Sandboxes write into the volume as root, so
 * its contents are hostile: no path here may leave the volume. Two guards: a path with a `..` (or `.`) segment is
 * refused (400) before it reaches the file system, and the kernel follows no symbolic link on the view (a planted
 * link to /etc/passwd answers 400 "symbolic link", never the host's file; stat reports links without following them).
 * Nothing else resolves paths: a hard link cannot leave the volume's own file system, and the view has no devices.
 * Errors: ENOENT 404, ENOSPC 507 (the volume is full), ELOOP and type mismatches 400.
 */
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, readdir, readlink, rename, rm, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { components } from '@tensor-box/generated/volume-content';
import { ApiError, invalid } from '../errors.js';

export type VolumeEntryStat = components['schemas']['VolumeEntryStat'];
export interface Ownership {
  uid?: number;
  gid?: number;
  mode?: number;
}

/** The files of one volume, served from `root` (its nosymfollow view); `label` names it in messages. */
export class VolumeFiles {
  constructor(
    private readonly root: string,
    private readonly label: string,
    private readonly sizeMB: number,
  ) {}

  async stat(p: string): Promise<VolumeEntryStat> {
    const rel = inside(p);
    return this.entry(rel, await this.fs(p, () => lstat(this.abs(rel))));
  }

  async list(p: string, depth = 1): Promise<VolumeEntryStat[]> {
    const rel = inside(p);
    const st = await this.fs(p, () => lstat(this.abs(rel)));
    if (!st.isDirectory()) throw invalid(`${p} is not a directory`);
    const out: VolumeEntryStat[] = [];
    const walk = async (dir: string, level: number): Promise<void> => {
      for (const name of (await this.fs(p, () => readdir(this.abs(dir)))).sort()) {
        const child = path.posix.join(dir, name);
        const cst = await lstat(this.abs(child)).catch(() => undefined);
        if (!cst) continue; // removed meanwhile
        out.push(await this.entry(child, cst));
        if (cst.isDirectory() && level < depth) await walk(child, level + 1);
      }
    };
    await walk(rel, 1);
    return out;
  }

  async makeDir(p: string, o: Ownership & { force?: boolean }): Promise<VolumeEntryStat> {
    const rel = inside(p);
    if (rel === '/') throw invalid('the volume root exists already');
    await this.fs(p, () => mkdir(this.abs(rel), { recursive: !!o.force, mode: o.mode ?? 0o755 }));
    await this.own(p, rel, o);
    return this.stat(p);
  }

  /** The file's bytes as a stream (opened without following a link). */
  async read(p: string): Promise<{ stream: Readable; size: number }> {
    const rel = inside(p);
    const fh = await this.fs(p, () => open(this.abs(rel), constants.O_RDONLY | constants.O_NOFOLLOW));
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw invalid(`${p} is not a file`);
    }
    return { stream: createReadStream('', { fd: fh }), size: st.size };
  }

  /** Writes the body into a temporary file beside the target, then renames it over: whole or not at all. */
  async write(p: string, body: IncomingMessage, o: Ownership & { force?: boolean }): Promise<VolumeEntryStat> {
    const rel = inside(p);
    if (rel === '/') throw invalid('cannot write the volume root');
    const dir = path.posix.dirname(rel);
    if (o.force) await this.fs(p, () => mkdir(this.abs(dir), { recursive: true }));
    const tmp = path.posix.join(dir, `.${path.posix.basename(rel)}.upload-${randomBytes(6).toString('hex')}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await this.fs(p, () => open(this.abs(tmp), flags, o.mode ?? 0o644));
    try {
      await pipeline(body, createWriteStream('', { fd: fh }));
      await this.own(p, tmp, o);
      await this.fs(p, () => rename(this.abs(tmp), this.abs(rel)));
    } catch (err) {
      await unlink(this.abs(tmp)).catch(() => {});
      throw this.mapped(err, p);
    }
    return this.stat(p);
  }

  async setMetadata(p: string, o: Ownership): Promise<VolumeEntryStat> {
    const rel = inside(p);
    await this.own(p, rel, o);
    return this.stat(p);
  }

  async remove(p: string): Promise<void> {
    const rel = inside(p);
    if (rel === '/') throw invalid('cannot remove the volume root');
    await this.fs(p, () => lstat(this.abs(rel)));
    await this.fs(p, () => rm(this.abs(rel), { recursive: true }));
  }

  private async own(p: string, rel: string, o: Ownership): Promise<void> {
    if (o.uid !== undefined || o.gid !== undefined) {
      await this.fs(p, () => lchown(this.abs(rel), o.uid ?? -1, o.gid ?? -1));
    }
    if (o.mode !== undefined) {
      const st = await this.fs(p, () => lstat(this.abs(rel)));
      if (st.isSymbolicLink()) throw invalid(`${p} is a symbolic link`);
      await this.fs(p, () => chmod(this.abs(rel), o.mode! & 0o7777));
    }
  }

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  private async entry(rel: string, st: Stats): Promise<VolumeEntryStat> {
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'unknown';
    const target = type === 'symlink' ? await readlink(this.abs(rel)).catch(() => undefined) : undefined;
    return {
      name: rel === '/' ? '' : path.posix.basename(rel),
      path: rel,
      type,
      size: st.size,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      atime: st.atime.toISOString(),
      mtime: st.mtime.toISOString(),
      ctime: st.ctime.toISOString(),
      ...(target !== undefined ? { target } : {}),
    };
  }

  /** Runs a file system call, mapping its errno to the API's errors. */
  private async fs<T>(p: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.mapped(err, p);
    }
  }

  private mapped(err: unknown, p: string): unknown {
    if (err instanceof ApiError) return err;
    switch ((err as NodeJS.ErrnoException).code) {
      case 'ENOENT':
        return new ApiError('not_found', `path ${p} not found in volume ${this.label}`);
      case 'ENOSPC':
      case 'EDQUOT':
        return new ApiError('insufficient_storage', `volume ${this.label} is full (its size is ${this.sizeMB} MiB)`);
      case 'ELOOP':
        return invalid(`${p} is or goes through a symbolic link (links are not followed by the volume API)`);
      case 'EEXIST':
        return new ApiError('already_exists', `${p} already exists`);
      case 'ENOTDIR':
        return invalid(`a parent of ${p} is not a directory`);
      case 'EISDIR':
        return invalid(`${p} is a directory`);
      case 'ENOTEMPTY':
        return new ApiError('conflict', `${p} is not empty`);
      default:
        return err;
    }
  }
}

/** A volume path as an absolute path inside the volume; 400 for anything that is not plainly one. */
export function inside(p: unknown): string {
  if (typeof p !== 'string' || p === '') throw invalid('path: a path inside the volume is required');
  if (p.includes('\0')) throw invalid('path: NUL is not allowed');
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.some((s) => s === '..' || s === '.')) throw invalid(`path '${p}': '.' and '..' segments are not allowed`);
  return `/${parts.join('/')}`;
}
