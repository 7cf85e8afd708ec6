/**
 * The snapshot store: where checkpoint images live (pause images, snapshots, fork images, templates' warm images).
 * Images are directories CRIU reads and writes directly, so a store is a filesystem tree; `DirectorySnapshotStore` is
 * that tree under one root — the default `<dataDir>/snapshots`, or `TENSOR_BOX_SNAPSHOT_DIR` pointing at a mount
 * several nodes share (NFS, JuiceFS), which is what makes resume-on-another-node work. The layout is versioned (`v1/`,
 * see docs/snapshots.md): a later layout gets `v2/` beside it, and this interface is the one place that knows the
 * paths, how pause generations are named and found, and what marks an image complete.
 */
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

export interface SnapshotStore {
  /** The store's root (for messages and docs). */
  readonly root: string;
  /** The directory holding every sandbox's pause images (one subdirectory per sandbox). */
  allSandboxImages(): string;
  /** All pause images of a sandbox (one generation directory each). */
  sandboxImages(sandboxId: string): string;
  /** A new generation directory for the next pause of a sandbox. */
  newPauseImage(sandboxId: string): string;
  /** The image of a snapshot. */
  snapshotImage(snapshotId: string): string;
  /** Temporary fork images of one node (removed at that node's start). */
  forkImages(nodeId: string): string;
  /** The warm-start images of a template, and of one of its builds. */
  templateImages(templateId: string): string;
  templateImage(templateId: string, buildId: string): string;
  /** Whether a checkpoint directory holds a complete image (the driver writes `checkpoint.json` last). */
  isComplete(imageDir: string): boolean;
  /** The newest complete pause image of a sandbox, if any. */
  newestPauseImage(sandboxId: string): string | undefined;
  /** Every pause image directory on disk (complete or not), by sandbox ID. */
  pauseImages(): Map<string, string[]>;
  /** Deletes every pause image of a sandbox, with its directory. */
  removePauseImages(sandboxId: string): Promise<void>;
  /** Deletes a sandbox's pause image directory when no generation is left in it. */
  removeEmptySandboxDir(sandboxId: string): Promise<void>;
}

export class DirectorySnapshotStore implements SnapshotStore {
  private readonly base: string;

  constructor(readonly root: string) {
    this.base = path.join(root, 'v1');
  }

  allSandboxImages(): string {
    return path.join(this.base, 'sandboxes');
  }

  sandboxImages(sandboxId: string): string {
    return path.join(this.allSandboxImages(), sandboxId);
  }

  /** Generation names sort by time (base 36 of the clock), so the newest complete one is easy to find. */
  newPauseImage(sandboxId: string): string {
    return path.join(this.sandboxImages(sandboxId), Date.now().toString(36));
  }

  snapshotImage(snapshotId: string): string {
    return path.join(this.base, 'snapshots', snapshotId);
  }

  forkImages(nodeId: string): string {
    return path.join(this.base, 'forks', nodeId);
  }

  templateImages(templateId: string): string {
    return path.join(this.base, 'templates', templateId);
  }

  templateImage(templateId: string, buildId: string): string {
    return path.join(this.templateImages(templateId), buildId);
  }

  isComplete(imageDir: string): boolean {
    return existsSync(path.join(imageDir, 'checkpoint.json'));
  }

  newestPauseImage(sandboxId: string): string | undefined {
    const base = this.sandboxImages(sandboxId);
    if (!existsSync(base)) return undefined;
    const gens = readdirSync(base).sort().reverse();
    for (const g of gens) if (this.isComplete(path.join(base, g))) return path.join(base, g);
    return undefined;
  }

  pauseImages(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const base = this.allSandboxImages();
    if (!existsSync(base)) return out;
    for (const id of readdirSync(base)) {
      out.set(
        id,
        readdirSync(path.join(base, id)).map((g) => path.join(base, id, g)),
      );
    }
    return out;
  }

  async removePauseImages(sandboxId: string): Promise<void> {
    await rm(this.sandboxImages(sandboxId), { recursive: true, force: true });
  }

  async removeEmptySandboxDir(sandboxId: string): Promise<void> {
    const dir = this.sandboxImages(sandboxId);
    if (existsSync(dir) && readdirSync(dir).length === 0) await rm(dir, { recursive: true, force: true });
  }
}
