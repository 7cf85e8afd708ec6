/**
 * The snapshots repository: saved states of sandboxes that new sandboxes start from, found by ID or name. Implemented
 * by sqlite-snapshots.ts and postgres-snapshots.ts.
 */
import type { VolumeMount } from './volume-repository.js';

/** A saved state of a sandbox (memory, processes, files) that new sandboxes can start from. */
export interface SnapshotRecord {
  snapshotId: string;
  /** The sandbox it was taken from (which may be gone). */
  sandboxId: string;
  name?: string;
  templateId: string;
  createdAt: number;
  /** Complete checkpoint directory in the snapshot store. */
  imageDir: string;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  envVars: Record<string, string>;
  /** The agent's access token inside the saved state (needed to re-initialise it). */
  envdAccessToken?: string;
  allowInternetAccess: boolean;
  /** The owning team (absent: the admin team). */
  teamId?: string;
  /** The volumes the sandbox mounted: a sandbox started from the snapshot mounts them too (shared, not copied). */
  volumeMounts?: VolumeMount[];
}

/** What `listSnapshots` returns: newest first; `after` is the cursor (strictly before (createdAt, snapshotId)). */
export interface SnapshotFilter {
  sandboxId?: string;
  name?: string;
  teamId?: string;
  after?: { createdAt: number; snapshotId: string };
  /** Default 100. */
  limit?: number;
}

export interface SnapshotRepository {
  /** Inserts the record; one with the same ID is replaced. */
  insertSnapshot(s: SnapshotRecord): Promise<void>;
  /** By snapshot ID or name (the newest of that name; an ID wins). */
  findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined>;
  listSnapshots(filter: SnapshotFilter): Promise<SnapshotRecord[]>;
  deleteSnapshot(id: string): Promise<void>;
}
