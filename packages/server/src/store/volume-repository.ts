/**
 * The volumes repository: named persistent volumes owned by a team (their files live in an image the volume service
 * keeps, services/volume-images.ts). Names are unique within a team. Implemented by sqlite-volumes.ts and
 * postgres-volumes.ts; times in epoch milliseconds.
 */

export interface VolumeRecord {
  volumeId: string;
  /** Unique within the team. */
  name: string;
  teamId: string;
  /** The size limit (the file system's size), MiB. */
  sizeMB: number;
  createdAt: number;
}

/** A volume as a sandbox mounts it (the sandbox and snapshot records keep these, so resume and restore re-mount). */
export interface VolumeMount {
  volumeId: string;
  name: string;
  /** Absolute path in the sandbox. */
  path: string;
}

export interface VolumeRepository {
  /** Inserts a new volume; false (nothing written) when the team already has a volume of that name. */
  insertVolume(v: VolumeRecord): Promise<boolean>;
  getVolume(volumeId: string): Promise<VolumeRecord | undefined>;
  /** The team's volume of that name. */
  findVolumeByName(teamId: string, name: string): Promise<VolumeRecord | undefined>;
  /** Oldest first; all teams' when teamId is absent. */
  listVolumes(teamId?: string): Promise<VolumeRecord[]>;
  deleteVolume(volumeId: string): Promise<void>;
}
