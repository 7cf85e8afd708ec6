/**
 * The container driver's on-disk state: one directory per sandbox under the state dir, and the marker files that let a
 * restarted control plane finish what a crash interrupted. Nothing else in the driver builds these paths.
 *
 * `<stateDir>/<id>/`:
 * - `meta.json` — the running sandbox's record (SandboxMeta), written once its agent answers;
 * - `pausing.json` — a pause is under way (`{imageDir, layerOut?, memory?}`), written before the dump (or, for a
 *   filesystem-only pause, before the processes are stopped), gone with the sandbox;
 * - `restoring.json` — a restore or boot is under way (`{imageDir, move, meta}`), removed once `meta.json` is
 *   written;
 * - `rootfs/` (the overlay mount), `netns` (the pinned network namespace), `exit` (the init's wait status), the
 *   writable layer (see writable-layer.ts), and CRIU's `restore.log`, `restore.pid`, `lazy-pages.*` of a restore.
 * Names starting with `.` are not sandboxes (`.disks/`: blank disk images; `.disk-pool/`: disks made ahead of time,
 * disk-pool.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../driver.js';
import type { SandboxRecord } from '../sandbox-record.js';
import type { IdMap } from '../user-namespace.js';
import type { LayerKind } from './writable-layer.js';

export interface SandboxMeta extends SandboxRecord {
  /** The sandbox's user namespace map (absent: none). */
  idMap?: IdMap;
  /** Where its writable layer lives (absent in records of older versions: looked up once when read). */
  layer?: LayerKind;
}

/** `pausing.json`: where the interrupted checkpoint was going. */
export interface PausingMarker {
  imageDir: string;
  layerOut?: string;
  /** False: a filesystem-only pause (no dump; recovery completes it whatever the processes did). */
  memory?: boolean;
}

/** `restoring.json`: the checkpoint being restored, whether its layer is consumed, and the sandbox's record-to-be. */
export interface RestoringMarker {
  imageDir: string;
  move: boolean;
  meta: SandboxMeta;
}

export class StateDir {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  /** The sandbox's directory (it need not exist); an id that could escape the state dir is not found. */
  dir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new DriverError('not_found', `invalid sandbox id '${id}'`);
    return path.join(this.root, id);
  }

  /** The ids of every sandbox directory, alive or not. */
  ids(): string[] {
    return readdirSync(this.root).filter((n) => !n.startsWith('.'));
  }

  exists(id: string): boolean {
    return existsSync(this.dir(id));
  }

  /**
   * Makes the directory with its mount point for the root and the file the netns is pinned on. `from`: a directory
   * that becomes the sandbox's (a disk pool entry, its disk mounted inside; the mount moves with it).
   */
  prepare(id: string, from?: string): string {
    const dir = this.dir(id);
    if (from) renameSync(from, dir);
    mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    writeFileSync(path.join(dir, 'netns'), '');
    return dir;
  }

  readMeta(id: string): SandboxMeta | undefined {
    return this.readJson<SandboxMeta>(id, 'meta.json');
  }

  readAllMeta(): SandboxMeta[] {
    return this.ids().flatMap((id) => this.readMeta(id) ?? []);
  }

  writeMeta(meta: SandboxMeta): void {
    writeFileSync(path.join(this.dir(meta.sandboxId), 'meta.json'), JSON.stringify(meta));
  }

  readPausing(id: string): PausingMarker | undefined {
    return this.readJson<PausingMarker>(id, 'pausing.json');
  }

  writePausing(id: string, m: PausingMarker): void {
    writeFileSync(path.join(this.dir(id), 'pausing.json'), JSON.stringify(m));
  }

  readRestoring(id: string): RestoringMarker | undefined {
    return this.readJson<RestoringMarker>(id, 'restoring.json');
  }

  writeRestoring(id: string, m: RestoringMarker): void {
    writeFileSync(path.join(this.dir(id), 'restoring.json'), JSON.stringify(m));
  }

  async clear(id: string, marker: 'pausing' | 'restoring'): Promise<void> {
    await rm(path.join(this.dir(id), `${marker}.json`), { force: true });
  }

  /** The pid CRIU wrote for a restore (0: it never got that far). */
  restoredPid(id: string): number {
    try {
      return Number(readFileSync(path.join(this.dir(id), 'restore.pid'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  private readJson<T>(id: string, file: string): T | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(id), file), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
