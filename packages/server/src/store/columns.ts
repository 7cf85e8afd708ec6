/**
 * The record field → column name maps both stores use (the same column names in SQLite and PostgreSQL), and which
 * fields are JSON (maps, lists) or booleans. The conversions that use them are in rows.ts.
 */
import type { SandboxRecord } from './sandbox-repository.js';
import type { SnapshotRecord } from './snapshot-repository.js';
import type { TemplateBuildRecord, TemplateRecord } from './template-repository.js';
import type { VolumeRecord } from './volume-repository.js';

export const SANDBOX_COLUMNS: Record<keyof SandboxRecord, string> = {
  sandboxId: 'sandbox_id',
  templateId: 'template_id',
  alias: 'alias',
  state: 'state',
  startedAt: 'started_at',
  endAt: 'end_at',
  timeoutMs: 'timeout_ms',
  cpuCount: 'cpu_count',
  memoryMB: 'memory_mb',
  diskSizeMB: 'disk_size_mb',
  metadata: 'metadata',
  envVars: 'env_vars',
  onTimeout: 'on_timeout',
  autoPauseMemory: 'auto_pause_memory',
  autoResume: 'auto_resume',
  envdAccessToken: 'envd_access_token',
  allowInternetAccess: 'allow_internet_access',
  runtime: 'runtime',
  pausedImage: 'paused_image',
  pauseMode: 'pause_mode',
  nodeId: 'node_id',
  teamId: 'team_id',
  network: 'network',
  isolation: 'isolation',
  stateReason: 'state_reason',
  volumeMounts: 'volume_mounts',
};

export const VOLUME_COLUMNS: Record<keyof VolumeRecord, string> = {
  volumeId: 'volume_id',
  name: 'name',
  teamId: 'team_id',
  sizeMB: 'size_mb',
  createdAt: 'created_at',
};

export const SNAPSHOT_COLUMNS: Record<keyof SnapshotRecord, string> = {
  snapshotId: 'snapshot_id',
  sandboxId: 'sandbox_id',
  name: 'name',
  templateId: 'template_id',
  createdAt: 'created_at',
  imageDir: 'image_dir',
  cpuCount: 'cpu_count',
  memoryMB: 'memory_mb',
  diskSizeMB: 'disk_size_mb',
  envVars: 'env_vars',
  envdAccessToken: 'envd_access_token',
  allowInternetAccess: 'allow_internet_access',
  teamId: 'team_id',
  isolation: 'isolation',
  volumeMounts: 'volume_mounts',
};

export const TEMPLATE_COLUMNS: Record<keyof TemplateRecord, string> = {
  templateId: 'template_id',
  buildId: 'build_id',
  names: 'names',
  cpuCount: 'cpu_count',
  memoryMB: 'memory_mb',
  diskSizeMB: 'disk_size_mb',
  layers: 'layers',
  status: 'status',
  startCmd: 'start_cmd',
  readyCmd: 'ready_cmd',
  public: 'public',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  spawnCount: 'spawn_count',
  lastSpawnedAt: 'last_spawned_at',
  buildCount: 'build_count',
  envVars: 'env_vars',
  defaultUser: 'default_user',
  defaultWorkdir: 'default_workdir',
  parentTemplateId: 'parent_template_id',
  warmImage: 'warm_image',
  tags: 'tags',
  teamId: 'team_id',
  isolation: 'isolation',
};

export const BUILD_COLUMNS: Record<keyof TemplateBuildRecord, string> = {
  templateId: 'template_id',
  buildId: 'build_id',
  status: 'status',
  cpuCount: 'cpu_count',
  memoryMB: 'memory_mb',
  diskSizeMB: 'disk_size_mb',
  source: 'source',
  reason: 'reason',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  finishedAt: 'finished_at',
  tags: 'tags',
  config: 'config',
};

export const JSON_FIELDS = new Set([
  'metadata',
  'envVars',
  'runtime',
  'names',
  'layers',
  'reason',
  'network',
  'tags',
  'config',
  'volumeMounts',
]);
export const BOOL_FIELDS = new Set(['autoResume', 'autoPauseMemory', 'allowInternetAccess', 'public']);

/** The owner column is NOT NULL: a record made without a team (internal work, old callers) is the admin team's. */
export function ownerValue(field: string, value: unknown): unknown {
  return field === 'teamId' && (value === undefined || value === null) ? 'admin' : value;
}

/**
 * SQL condition: the sandbox holds a running slot of its team's quota — running, being paused or snapshotted (still
 * running), or being killed while it still runs. A resuming sandbox holds its slot as a run claim until it is running.
 */
export const HOLDS_RUN_SLOT =
  "(state IN ('running', 'pausing', 'snapshotting') OR (state = 'killing' AND runtime IS NOT NULL))";
