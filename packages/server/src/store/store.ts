/**
 * The state store: what the control plane remembers about sandboxes, templates and settings. SQLite (embedded) is the
 * default implementation; PostgreSQL implements the same interface when DATABASE_URL is set. Methods are async so that
 * both fit; records are plain objects, times in epoch milliseconds.
 */
import type { TeamStore } from './teams.js';

/**
 * A sandbox's lifecycle state. `running` and `paused` are stable; the others are held while an operation is under way
 * (the allowed moves and what the API shows for each: lifecycle/states.ts). Every change is a conditional write
 * (`transitionSandbox`), so two operations on one sandbox cannot both start.
 */
export type SandboxState = 'running' | 'paused' | 'pausing' | 'resuming' | 'snapshotting' | 'killing';
export type OnTimeout = 'kill' | 'pause';

export interface SandboxRuntime {
  pid: number;
  address: string;
  envdUrl: string;
}

/** How traffic reaches a sandbox through the ingress (E2B's `network` settings that concern inbound traffic). */
export interface SandboxNetwork {
  /** false: user ports need the `e2b-traffic-access-token` header with `trafficAccessToken`. */
  allowPublicTraffic: boolean;
  trafficAccessToken?: string;
  /** The Host header the sandbox sees (`${PORT}` is replaced by the port). */
  maskRequestHost?: string;
  /** Outbound rules (addresses, CIDRs, host names); allow wins over deny. */
  allowOut?: string[];
  denyOut?: string[];
}

export interface SandboxRecord {
  sandboxId: string;
  templateId: string;
  alias?: string;
  state: SandboxState;
  startedAt: number;
  /** When the lifecycle sweep acts on the sandbox (kill or pause). */
  endAt: number;
  /** The inactivity timeout; activity pushes endAt to at least now + timeoutMs. */
  timeoutMs: number;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  onTimeout: OnTimeout;
  autoResume: boolean;
  envdAccessToken?: string;
  allowInternetAccess: boolean;
  runtime?: SandboxRuntime;
  /** While paused: the complete checkpoint directory in the snapshot store. */
  pausedImage?: string;
  /** While running: the node (control plane) whose runtime runs it. A paused sandbox belongs to no node. */
  nodeId?: string;
  /** The owning team (absent: the admin team). */
  teamId?: string;
  network?: SandboxNetwork;
}

export interface SandboxFilter {
  states?: SandboxState[];
  metadata?: Record<string, string>;
  /** Only sandboxes of this template ID. */
  templateId?: string;
  /** Only sandboxes started at or after this time (unix ms). */
  startedAfterMs?: number;
  /** By (startedAt, sandboxId): `desc` (default) newest first, `asc` oldest first. */
  order?: 'asc' | 'desc';
  /** Cursor: return sandboxes strictly after this (startedAt, sandboxId) in the list's order. */
  after?: { startedAt: number; sandboxId: string };
  limit?: number;
  /** Only this team's sandboxes. */
  teamId?: string;
}

export type BuildStatus = 'building' | 'waiting' | 'ready' | 'error';

export interface TemplateRecord {
  templateId: string;
  /** The build sandboxes start from (the newest ready one; the first build's while none is ready yet). */
  buildId: string;
  names: string[];
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  /** Read-only rootfs layers, topmost first (empty until a build is ready). */
  layers: string[];
  /** Status of the template as a whole: ready once one build is ready; otherwise that of its newest build. */
  status: BuildStatus;
  startCmd?: string;
  readyCmd?: string;
  /** Environment, user and working directory sandboxes of this template start with (from ENV/USER/WORKDIR steps). */
  envVars?: Record<string, string>;
  defaultUser?: string;
  defaultWorkdir?: string;
  /** The template whose layers this one's sit on. */
  parentTemplateId?: string;
  /** A checkpoint (in the snapshot store) taken once readyCmd passed: sandboxes resume it with startCmd running. */
  warmImage?: string;
  public: boolean;
  /** The owning team (absent: the admin team, which owns the built-in templates). */
  teamId?: string;
  createdAt: number;
  updatedAt: number;
  spawnCount: number;
  lastSpawnedAt?: number;
  buildCount: number;
  /** Tag → the build it names (E2B's tags: `name:tag` starts that build); `default` is the build above. */
  tags?: Record<string, TemplateTagAssignment>;
}

export interface TemplateTagAssignment {
  buildId: string;
  /** When the tag was (last) assigned, epoch ms. */
  createdAt: number;
}

/** What a sandbox of one build starts with: the fields of TemplateRecord a ready build sets. */
export interface BuildConfig {
  layers: string[];
  startCmd?: string;
  readyCmd?: string;
  envVars?: Record<string, string>;
  defaultUser?: string;
  defaultWorkdir?: string;
  parentTemplateId?: string;
  warmImage?: string;
}

/** Why a build failed. */
export interface BuildFailure {
  message: string;
  step?: string;
  exitCode?: number;
  /** The last lines of the build's log when it failed. */
  logEntries?: Array<{ timestamp: string; level: LogLevel; message: string; step?: string }>;
}

/** One build of a template. */
export interface TemplateBuildRecord {
  buildId: string;
  templateId: string;
  status: BuildStatus;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  /** What the build started from, e.g. `template default`, `image debian:bookworm`, `sandbox <id>`. */
  source?: string;
  reason?: BuildFailure;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The tags the build gets when it is ready (from `name:tag` and `tags` of the request; `default` when none). */
  tags?: string[];
  /** Once ready: what sandboxes of this build start with (so a tag can name a build that is not the current one). */
  config?: BuildConfig;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One line of a build's log; `seq` (0, 1, 2, … per build) is the offset clients page with. */
export interface BuildLogEntry {
  templateId: string;
  buildId: string;
  seq: number;
  timestamp: number;
  level: LogLevel;
  message: string;
  step?: string;
}

export interface LogEntry {
  sandboxId: string;
  /** Epoch ms; with `seq` it orders entries and serves as the cursor. */
  timestamp: number;
  seq: number;
  level: LogLevel;
  message: string;
  fields: Record<string, string>;
}

export interface LogQuery {
  /** Entries after (forward) or before (backward) this timestamp in ms. */
  cursor?: number;
  limit: number;
  direction: 'forward' | 'backward';
  minLevel?: LogLevel;
  search?: string;
}

export interface MetricSample {
  sandboxId: string;
  timestamp: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
}

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
}

export interface Store {
  /** Teams, API keys and run claims (store/teams.ts). */
  readonly teams: TeamStore;

  insertSandbox(s: SandboxRecord): Promise<void>;
  updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void>;
  /**
   * Conditional update: applies `patch` only while the sandbox is in one of the `from` states, atomically (one
   * `UPDATE ... WHERE state IN (...)`). False when the sandbox is gone or in another state: the caller lost a race.
   */
  transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean>;
  getSandbox(id: string): Promise<SandboxRecord | undefined>;
  listSandboxes(filter?: SandboxFilter): Promise<SandboxRecord[]>;
  /** Sandboxes whose endAt has passed. */
  expiredSandboxes(now: number): Promise<SandboxRecord[]>;
  deleteSandbox(id: string): Promise<void>;

  upsertTemplate(t: TemplateRecord): Promise<void>;
  /** By template ID or by one of its names. */
  findTemplate(idOrName: string): Promise<TemplateRecord | undefined>;
  listTemplates(): Promise<TemplateRecord[]>;
  /** Deletes the template with its builds and build logs. */
  deleteTemplate(id: string): Promise<void>;

  upsertBuild(b: TemplateBuildRecord): Promise<void>;
  getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined>;
  /** Newest first. */
  listBuilds(templateId: string): Promise<TemplateBuildRecord[]>;
  /** Appends a line; its seq is the number of lines the build had before. Returns the stored entry. */
  appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry>;
  /** Lines with seq >= offset, in order, at most `limit`, at or above `minLevel`. */
  queryBuildLogs(templateId: string, buildId: string, q: { offset: number; limit: number; minLevel?: LogLevel }): Promise<BuildLogEntry[]>;

  appendLog(e: Omit<LogEntry, 'seq'>): Promise<void>;
  queryLogs(sandboxId: string, q: LogQuery): Promise<LogEntry[]>;
  /** Deletes log entries older than `before` (ms) of sandboxes that no longer exist. */
  pruneLogs(before: number): Promise<void>;

  appendMetric(m: MetricSample): Promise<void>;
  queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]>;
  latestMetrics(sandboxIds: string[]): Promise<MetricSample[]>;
  pruneMetrics(before: number): Promise<void>;

  insertSnapshot(s: SnapshotRecord): Promise<void>;
  /** By snapshot ID or name. */
  findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined>;
  /** Newest first; cursor: strictly before (createdAt, snapshotId). */
  listSnapshots(filter: { sandboxId?: string; name?: string; teamId?: string; after?: { createdAt: number; snapshotId: string }; limit?: number }): Promise<SnapshotRecord[]>;
  deleteSnapshot(id: string): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
