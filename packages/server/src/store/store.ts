/**
 * The state store: what the control plane remembers about sandboxes, templates and settings, as one object composed
 * of repositories (sandbox-, template-, snapshot-, telemetry-, settings- and node-repository.ts, and teams.ts). SQLite
 * (embedded, sqlite.ts) is the default; PostgreSQL (postgres.ts) implements the same repositories when DATABASE_URL is
 * set. Both migrate through one versioned list (migrations.ts). A service may depend on the one repository it uses:
 * a Store is every repository at once.
 */
import type { NodeRepository } from './node-repository.js';
import type { SandboxRepository } from './sandbox-repository.js';
import type { SettingsRepository } from './settings-repository.js';
import type { SnapshotRepository } from './snapshot-repository.js';
import type { TeamStore } from './teams.js';
import type { TelemetryRepository } from './telemetry-repository.js';
import type { TemplateRepository } from './template-repository.js';
export type { VolumeMount, VolumeRecord, VolumeRepository } from './volume-repository.js';
import type { VolumeRepository } from './volume-repository.js';

export type {
  OnTimeout,
  PauseMode,
  SandboxFilter,
  SandboxNetwork,
  SandboxRecord,
  SandboxRepository,
  SandboxRuntime,
  SandboxState,
  Isolation,
} from './sandbox-repository.js';
export type { NodeCapacity, NodeRecord, NodeRepository, NodeState } from './node-repository.js';
export type { SettingsRepository } from './settings-repository.js';
export type { SnapshotFilter, SnapshotRecord, SnapshotRepository } from './snapshot-repository.js';
export type {
  BuildLogEntry,
  LogEntry,
  LogLevel,
  LogQuery,
  MetricSample,
  TelemetryRepository,
} from './telemetry-repository.js';
export type {
  BuildConfig,
  BuildFailure,
  BuildStatus,
  TemplateBuildRecord,
  TemplateChange,
  TemplateRecord,
  TemplateRepository,
  TemplateTagAssignment,
} from './template-repository.js';

/** The repositories a Store is made of (compose.ts binds their methods onto one object). */
export interface StoreRepositories {
  sandboxes: SandboxRepository;
  templates: TemplateRepository;
  snapshots: SnapshotRepository;
  telemetry: TelemetryRepository;
  settings: SettingsRepository;
  nodes: NodeRepository;
  volumes: VolumeRepository;
}

export interface Store
  extends SandboxRepository,
    TemplateRepository,
    SnapshotRepository,
    TelemetryRepository,
    SettingsRepository,
    NodeRepository,
    VolumeRepository {
  /** Teams, API keys and run claims (store/teams.ts). */
  readonly teams: TeamStore;
  close(): Promise<void>;
}
