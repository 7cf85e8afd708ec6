/**
 * Applies image layers, in order, to one directory: the flattened root filesystem. Each layer is read twice. The first
 * pass lists its OCI whiteouts (`.wh.<name>` deletes `<name>` from the layers below, `.wh..wh..opq` empties its
 * directory of what the layers below put there) and checks the uncompressed bytes against the config's diff_id; the
 * whiteouts are then applied, before anything of the layer is written, because they concern only the lower layers and
 * a tar may list them after their siblings. The second pass writes the entries with their numeric owner, mode, mtime,
 * extended attributes, symlinks, hard links and fifos (we run as root).
 *
 * Device nodes: a layer is untrusted, and a node for the host's disk or memory in a template would be one open() away
 * from it. So block and character devices are never created (skipped) — except character device 0:0, the overlay
 * whiteout format, which is made as a whiteout, with nothing else of the entry (see whiteoutNode).
 *
 * Containment: every path is resolved inside the root the way a chroot would — `..` stops at the root, absolute
 * symlink targets start at it, and symlinks met on the way (from lower layers or earlier in the same layer) are
 * followed within the root — and the last component is never followed (files are created with O_EXCL|O_NOFOLLOW).
 * Hard-link targets are resolved the same way. So no archive can write, link or delete outside the root.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../driver.js';
import { layerBytes } from './layer-source.js';
import { readTar, type TarEntry, type TarMember } from './tar-reader.js';
import { runTool } from './tools.js';

/** Symlinks followed while resolving one path, like Linux's MAXSYMLINKS. */
const MAX_SYMLINK_HOPS = 40;
const OPAQUE = '.wh..wh..opq';
const WHITEOUT = '.wh.';

/** Path components of a member name, with `.` and empty parts dropped and `..` stopping at the root. */
export function components(p: string): string[] {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/** A root directory and chroot-style path resolution in it, remembering which paths are known real directories. */
class Root {
  /** Relative paths (joined with '/') that are directories, not symlinks; cleared whenever a directory is removed. */
  private readonly realDirs = new Set<string>();

  constructor(readonly dir: string) {}

  abs(rel: string[]): string {
    return path.join(this.dir, ...rel);
  }

  /** Resolves `comps` inside the root, following every symlink on the way (within the root); the result has none. */
  async resolve(comps: string[]): Promise<string[]> {
    let out: string[] = [];
    let pending = comps.slice();
    let hops = 0;
    while (pending.length) {
      const c = pending.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        out.pop();
        continue;
      }
      const rel = [...out, c];
      if (this.realDirs.has(rel.join('/'))) {
        out = rel;
        continue;
      }
      const st = await lstatOrNull(this.abs(rel));
      if (st?.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS)
          throw new DriverError('failed_precondition', `too many levels of symbolic links in '${comps.join('/')}'`);
        const target = await readlink(this.abs(rel));
        if (target.startsWith('/')) out = [];
        pending = [...target.split('/'), ...pending];
        continue;
      }
      if (st?.isDirectory()) this.realDirs.add(rel.join('/'));
      out = rel;
    }
    return out;
  }

  /** Resolves the parent of `comps` and creates what is missing of it; returns the entry's path inside the root. */
  async prepare(comps: string[]): Promise<string[]> {
    const parent = await this.resolve(comps.slice(0, -1));
    for (let i = 1; i <= parent.length; i++) {
      const key = parent.slice(0, i).join('/');
      if (this.realDirs.has(key)) continue;
      const abs = this.abs(parent.slice(0, i));
      try {
        await mkdir(abs, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await lstat(abs)).isDirectory()) {
          throw new DriverError(
            'failed_precondition',
            `cannot create '${comps.join('/')}': '${key}' is not a directory`,
          );
        }
      }
      this.realDirs.add(key);
    }
    return [...parent, comps[comps.length - 1]!];
  }

  noteDir(rel: string[]): void {
    this.realDirs.add(rel.join('/'));
  }

  async remove(abs: string, st: Stats): Promise<void> {
    if (st.isDirectory()) {
      await rm(abs, { recursive: true, force: true });
      this.realDirs.clear();
    } else {
      await unlink(abs);
    }
  }

  forget(): void {
    this.realDirs.clear();
  }
}

interface Whiteouts {
  /** Directories whose lower contents go (`.wh..wh..opq`). */
  opaque: string[][];
  /** Paths deleted from the lower layers (`.wh.<name>`). */
  deleted: string[][];
}

/** First pass: the layer's whiteouts, and its uncompressed digest checked against the config's diff_id. */
async function scanLayer(file: string, diffId: string | undefined, label: string): Promise<Whiteouts> {
  const hash = createHash('sha256');
  const w: Whiteouts = { opaque: [], deleted: [] };
  for await (const { entry } of readTar(layerBytes(file, hash))) {
    const comps = components(entry.path);
    const name = comps[comps.length - 1];
    if (!name?.startsWith(WHITEOUT)) continue;
    const dir = comps.slice(0, -1);
    if (name === OPAQUE) w.opaque.push(dir);
    else if (name.startsWith(`${WHITEOUT}${WHITEOUT}`))
      continue; // AUFS bookkeeping (.wh..wh.plnk): nothing to apply
    else {
      const target = name.slice(WHITEOUT.length);
      if (target !== '' && target !== '.' && target !== '..') w.deleted.push([...dir, target]);
    }
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (diffId && diffId !== got) {
    throw new DriverError(
      'failed_precondition',
      `${label}: the uncompressed layer has digest ${got}, but the image config says ${diffId}`,
    );
  }
  return w;
}

async function applyWhiteouts(root: Root, w: Whiteouts): Promise<void> {
  for (const dir of w.opaque) {
    const abs = root.abs(await root.resolve(dir));
    if (!(await lstatOrNull(abs))?.isDirectory()) continue;
    for (const child of await readdir(abs)) await rm(path.join(abs, child), { recursive: true, force: true });
  }
  for (const p of w.deleted) {
    const parent = await root.resolve(p.slice(0, -1));
    await rm(root.abs([...parent, p[p.length - 1]!]), { recursive: true, force: true });
  }
  root.forget();
}

async function writeFileFrom(abs: string, m: TarMember): Promise<void> {
  const fh = await open(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of m.chunks()) {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
}

/** Owner, then mode (chown clears setuid bits), then xattrs (chown clears security.capability), then mtime. */
async function setMetadata(abs: string, e: TarEntry, withTimes: boolean): Promise<void> {
  await lchown(abs, e.uid, e.gid);
  if (e.type !== 'symlink') await chmod(abs, e.mode);
  for (const [name, value] of e.xattrs) {
    await runTool(
      'setfattr',
      ['-h', '-n', name, '-v', `0s${value.toString('base64')}`, '--', abs],
      `the extended attribute ${name} of /${components(e.path).join('/')}`,
    );
  }
  if (withTimes) await lutimes(abs, e.mtimeS, e.mtimeS);
}

async function applyEntry(root: Root, m: TarMember, dirTimes: Array<[string, number]>): Promise<void> {
  const e = m.entry;
  const comps = components(e.path);
  if (comps.length === 0) return; // the root itself keeps the mode we gave it
  if (comps[comps.length - 1]!.startsWith(WHITEOUT)) return; // applied before the layer's entries
  const rel = await root.prepare(comps);
  const abs = root.abs(rel);
  const existing = await lstatOrNull(abs);
  if (e.type === 'dir') {
    if (!existing?.isDirectory()) {
      if (existing) await root.remove(abs, existing);
      await mkdir(abs, { mode: 0o700 });
    }
    root.noteDir(rel);
    await setMetadata(abs, e, false);
    dirTimes.push([abs, e.mtimeS]); // after the layer: adding children changes a directory's mtime
    return;
  }
  if (e.type === 'hardlink') {
    const tcomps = components(e.linkTarget);
    if (tcomps.length === 0)
      throw new DriverError('failed_precondition', `hard link '${e.path}' points at the root directory`);
    const source = root.abs([...(await root.resolve(tcomps.slice(0, -1))), tcomps[tcomps.length - 1]!]);
    const st = await lstatOrNull(source);
    if (!st || st.isDirectory()) {
      throw new DriverError(
        'failed_precondition',
        `hard link '${e.path}' points at '${e.linkTarget}', which is ${st ? 'a directory' : 'missing'}`,
      );
    }
    if (existing && existing.ino === st.ino && existing.dev === st.dev) return;
    if (existing) await root.remove(abs, existing);
    await link(source, abs);
    return;
  }
  if (e.type === 'block' || (e.type === 'char' && !isWhiteoutNode(e))) return; // never a device node (see header)
  if (existing) await root.remove(abs, existing);
  if (e.type === 'file') await writeFileFrom(abs, m);
  else if (e.type === 'symlink') await symlink(e.linkTarget, abs);
  else if (e.type === 'char') return whiteoutNode(abs, comps);
  else {
    // Node has no mknod(2); fifos are rare.
    await runTool('mknod', ['-m', (e.mode & 0o777).toString(8), '--', abs, 'p'], `the fifo /${comps.join('/')}`);
  }
  await setMetadata(abs, e, true);
}

const isWhiteoutNode = (e: TarEntry) => e.devMajor === 0 && e.devMinor === 0;

/** An overlay whiteout (char 0:0): made with the fixed owner and mode overlayfs gives them, nothing from the entry. */
async function whiteoutNode(abs: string, comps: string[]): Promise<void> {
  await runTool('mknod', ['-m', '000', '--', abs, 'c', '0', '0'], `the whiteout /${comps.join('/')}`);
}

/**
 * Applies one layer blob (gzip, zstd or plain tar) on top of `rootDir`. `diffId`, when given, is checked against the
 * uncompressed bytes before anything is changed. A malformed layer throws `DriverError('failed_precondition')` and may
 * leave `rootDir` half-changed; callers unpack into a staging directory.
 */
export async function applyLayer(rootDir: string, file: string, o: { diffId?: string; label: string }): Promise<void> {
  const root = new Root(rootDir);
  const whiteouts = await scanLayer(file, o.diffId, o.label);
  await applyWhiteouts(root, whiteouts);
  const dirTimes: Array<[string, number]> = [];
  try {
    for await (const m of readTar(layerBytes(file))) await applyEntry(root, m, dirTimes);
  } catch (err) {
    if (err instanceof DriverError) throw new DriverError(err.kind, `${o.label}: ${err.message}`);
    throw err;
  }
  for (let i = dirTimes.length - 1; i >= 0; i--) {
    // A later entry of the layer may have replaced the directory; its times then belong to that entry.
    await lutimes(dirTimes[i]![0], dirTimes[i]![1], dirTimes[i]![1]).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }
}
