/**
 * The templates repository: templates, their builds, and the atomic writes that keep concurrent writers from undoing
 * each other — a spawn counted in one UPDATE, a finished build written together with its template's change in one
 * transaction that reads the template under a write lock. Implemented by sqlite-templates.ts and postgres-templates.ts.
 */
import type { Isolation } from './sandbox-repository.js';
import type { LogLevel } from './telemetry-repository.js';

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
  /** What its sandboxes run in unless a create says otherwise (absent: the server's default). */
  isolation?: Isolation;
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

/** Fields `updateTemplate` and `completeBuild` leave alone: the key, and what only recordTemplateSpawn writes. */
export const TEMPLATE_PATCH_IGNORED: string[] = ['templateId', 'spawnCount', 'lastSpawnedAt'];

/** A template's change computed from the record as stored, in the same transaction; undefined: no change. */
export type TemplateChange = (current: TemplateRecord) => Partial<TemplateRecord> | undefined;

export interface TemplateRepository {
  /** Inserts or replaces the whole record (registering a template, rebuilding `default`). */
  upsertTemplate(t: TemplateRecord): Promise<void>;
  /**
   * Sets only the fields in `patch` (`undefined` clears one); templateId, spawnCount, lastSpawnedAt and unknown keys
   * are ignored (spawns are counted by recordTemplateSpawn). False when there is no such template.
   */
  updateTemplate(id: string, patch: Partial<TemplateRecord>): Promise<boolean>;
  /** One more sandbox started from the template: spawnCount + 1 and lastSpawnedAt = atMs, in one UPDATE. */
  recordTemplateSpawn(id: string, atMs: number): Promise<void>;
  /** By template ID or by one of its names. */
  findTemplate(idOrName: string): Promise<TemplateRecord | undefined>;
  listTemplates(): Promise<TemplateRecord[]>;
  /** Deletes the template with its builds and build logs. */
  deleteTemplate(id: string): Promise<void>;

  upsertBuild(b: TemplateBuildRecord): Promise<void>;
  getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined>;
  /** Newest first. */
  listBuilds(templateId: string): Promise<TemplateBuildRecord[]>;
  /**
   * A build ended: in one transaction, sets the build's fields in `build` and applies `template(current)` to its
   * template, read under a write lock, so a spawn or tag written meanwhile is neither lost nor overwritten. Returns
   * the template as it was before (undefined when it is gone; the build is still written).
   */
  completeBuild(
    templateId: string,
    buildId: string,
    build: Partial<TemplateBuildRecord>,
    template: TemplateChange,
  ): Promise<TemplateRecord | undefined>;
}
