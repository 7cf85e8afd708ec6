/**
 * Templates: the images sandboxes start from. A build has two calls, as on E2B: `Template.create` registers the
 * template (or a new build of an existing one with that name) and returns `{templateID, buildID}`; `startBuild` gives
 * the source (`fromTemplate`, `fromImage` or `dockerfile`) and the steps; then `waitForBuild` (or `getBuildStatus` /
 * `getBuildLogs`) follows it. Files a Dockerfile copies are uploaded first with `uploadFiles` (a tar, content-addressed
 * by its sha256). `sandbox.commitAsTemplate` makes a template from a running sandbox instead.
 * @example
 * const { templateID, buildID } = await Template.create({ name: 'agent-runtime', cpuCount: 4, memoryMB: 4096 })
 * await Template.startBuild(templateID, buildID, {
 *   fromTemplate: 'default', steps: [{ name: 'deps', command: 'apt-get install -y ffmpeg' }],
 * })
 * await Template.waitForBuild(templateID, buildID, { onLog: (e) => console.log(e.message) })
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import { InvalidArgumentError, fromHttp } from './errors.js';
import type { components } from './api/schema.gen.js';
import {
  getBuildLogs,
  getBuildStatus,
  toReason,
  waitForBuild,
  type BuildLogEntry,
  type BuildLogsOpts,
  type BuildStatus,
  type BuildStatusOpts,
  type BuildStatusReason,
  type TemplateBuildStatus,
  type WaitForBuildOpts,
} from './template-build.js';

type ApiTemplate = components['schemas']['Template'];

export interface TemplateCreateOpts {
  /** Template name, optionally `name:tag`; usable wherever a template ID is. An existing name gets a new build. */
  name: string;
  cpuCount?: number;
  memoryMB?: number;
  /** Writable disk of each sandbox, in GiB (default 40, or the parent's). */
  diskGB?: number;
  tags?: string[];
  /** What its sandboxes run in unless a create says otherwise (default: the server's). A Tensor Box extension. */
  isolation?: 'container' | 'microvm';
}

export interface TemplateCreated {
  templateID: string;
  buildID: string;
  names: string[];
  aliases: string[];
  tags: string[];
  public: boolean;
}

/** A step of a build: the seeds' `{name, command}` (a RUN step), or a raw API step (`{type, args, filesHash}`). */
export type TemplateBuildStep = { name?: string; command: string } | components['schemas']['TemplateStep'];

export interface TemplateBuildOpts {
  /** Build on a ready template (ID or name). */
  fromTemplate?: string;
  /** Build from an image (see `Template.listBaseImages`). */
  fromImage?: string;
  /** Dockerfile text; its COPY/ADD read the build context uploaded as `filesHash`. */
  dockerfile?: string;
  /** Hash of the uploaded build context (`Template.uploadFiles`). */
  filesHash?: string;
  steps?: TemplateBuildStep[];
  /** Runs in every sandbox of the template. */
  startCmd?: string;
  /** Polled until it exits 0; then the template is captured with startCmd running. */
  readyCmd?: string;
  /** Rebuild every step even when a cached result exists. */
  force?: boolean;
}

export interface TemplateInfo {
  templateID: string;
  /** The build sandboxes start from. */
  buildID: string;
  names: string[];
  aliases: string[];
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  public: boolean;
  buildStatus: BuildStatus;
  buildCount: number;
  spawnCount: number;
  createdAt: Date;
  updatedAt: Date;
  lastSpawnedAt?: Date;
  envdVersion: string;
  startCmd?: string;
  readyCmd?: string;
  parentTemplateID?: string;
  warmStart?: boolean;
  /** What its sandboxes run in (absent: the server's default). */
  isolation?: 'container' | 'microvm';
}

export interface TemplateBuild {
  buildID: string;
  status: BuildStatus;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  envdVersion: string;
  /** What the build started from, e.g. `template default`, `image debian:bookworm`, `sandbox <id>`. */
  source?: string;
  reason?: BuildStatusReason;
}

export interface TemplateDetails
  extends Omit<TemplateInfo, 'buildID' | 'cpuCount' | 'memoryMB' | 'diskSizeMB' | 'buildStatus' | 'envdVersion'> {
  buildID?: string;
  cpuCount?: number;
  memoryMB?: number;
  diskSizeMB?: number;
  buildStatus?: BuildStatus;
  /** Newest first. */
  builds: TemplateBuild[];
}

export type BaseImage = components['schemas']['BaseImage'];

const date = (s: string | null | undefined): Date | undefined => (s ? new Date(s) : undefined);

function toInfo(t: ApiTemplate): TemplateInfo {
  return {
    ...t,
    createdAt: new Date(t.createdAt),
    updatedAt: new Date(t.updatedAt),
    lastSpawnedAt: date(t.lastSpawnedAt),
    parentTemplateID: t.parentTemplateID ?? undefined,
  };
}

function toDetails(t: components['schemas']['TemplateWithBuilds']): TemplateDetails {
  return {
    ...t,
    createdAt: new Date(t.createdAt),
    updatedAt: new Date(t.updatedAt),
    lastSpawnedAt: date(t.lastSpawnedAt),
    parentTemplateID: t.parentTemplateID ?? undefined,
    builds: t.builds.map((b) => ({
      ...b,
      createdAt: new Date(b.createdAt),
      updatedAt: new Date(b.updatedAt),
      finishedAt: date(b.finishedAt),
      reason: toReason(b.reason),
    })),
  };
}

function toApiStep(s: TemplateBuildStep): components['schemas']['TemplateStep'] {
  if ('type' in s && s.type) return s;
  const { name, command } = s as { name?: string; command?: string };
  if (typeof command !== 'string' || !command.trim())
    throw new InvalidArgumentError(`step ${name ? `'${name}' ` : ''}needs a command`);
  return { type: 'RUN', args: [command], ...(name ? { name } : {}) };
}

export interface CommitOpts extends Omit<WaitForBuildOpts, keyof ConnectionOpts> {
  cpuCount?: number;
  memoryMB?: number;
  /** Writable disk of each sandbox, in GiB. */
  diskGB?: number;
  /** Poll until the build is ready (default true); false returns once the server accepted it. */
  wait?: boolean;
}

export interface CommitResult {
  templateID: string;
  buildID: string;
  status: BuildStatus;
}

/** `sandbox.commitAsTemplate`: POST /sandboxes/{id}/commit, then (unless `wait: false`) wait for the build. */
export async function commitSandbox(
  sandboxId: string,
  name: string,
  opts: CommitOpts & ConnectionOpts = {},
): Promise<CommitResult> {
  const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/commit', {
    params: { path: { sandboxID: sandboxId } },
    body: {
      name,
      cpuCount: opts.cpuCount,
      memoryMB: opts.memoryMB,
      diskSizeMB: opts.diskGB === undefined ? undefined : Math.round(opts.diskGB * 1024),
    },
  });
  const { templateID, buildID } = unwrap(r, `commit sandbox ${sandboxId}`);
  const s =
    opts.wait === false
      ? await getBuildStatus(templateID, buildID, { ...opts, limit: 1 })
      : await waitForBuild(templateID, buildID, opts);
  return { templateID, buildID, status: s.status };
}

export class Template {
  /**
   * Registers a template (or, when the name exists, a new build of it) and returns its IDs; start it with `startBuild`.
   * @example
   * const { templateID, buildID } = await Template.create(
   *   { name: 'agent-runtime', cpuCount: 4, memoryMB: 4096 }, { domain, apiKey })
   */
  static async create(spec: TemplateCreateOpts, opts: ConnectionOpts = {}): Promise<TemplateCreated> {
    const r = await apiClient(resolveConnection(opts)).POST('/v3/templates', {
      body: {
        name: spec.name,
        tags: spec.tags,
        cpuCount: spec.cpuCount,
        memoryMB: spec.memoryMB,
        diskSizeMB: spec.diskGB === undefined ? undefined : Math.round(spec.diskGB * 1024),
        isolation: spec.isolation,
      },
    });
    return unwrap(r, `create template ${spec.name}`);
  }

  /**
   * Starts a registered build: exactly one source, then the steps in order.
   * @example
   * await Template.startBuild(templateID, buildID, {
   *   fromTemplate: 'default', steps: [{ name: 'pip', command: 'pip install numpy' }],
   * })
   */
  static async startBuild(
    templateID: string,
    buildID: string,
    build: TemplateBuildOpts,
    opts: ConnectionOpts = {},
  ): Promise<void> {
    const sources = (['fromTemplate', 'fromImage', 'dockerfile'] as const).filter((k) => build[k] !== undefined);
    if (sources.length !== 1)
      throw new InvalidArgumentError(
        `give exactly one of fromTemplate, fromImage or dockerfile${
          sources.length ? ` (got ${sources.join(', ')})` : ''
        }`,
      );
    const r = await apiClient(resolveConnection(opts)).POST('/v2/templates/{templateID}/builds/{buildID}', {
      params: { path: { templateID, buildID } },
      body: {
        fromTemplate: build.fromTemplate,
        fromImage: build.fromImage,
        dockerfile: build.dockerfile,
        filesHash: build.filesHash,
        steps: build.steps?.map(toApiStep),
        startCmd: build.startCmd,
        readyCmd: build.readyCmd,
        force: build.force,
      },
    });
    unwrap(r, `start build ${buildID} of template ${templateID}`);
  }

  /**
   * A build's status (`building`, `waiting`, `ready`, `error` with the failing step) and its log from `logsOffset` on.
   * @example const { status, reason } = await Template.getBuildStatus(templateID, buildID, { domain, apiKey })
   */
  static getBuildStatus(
    templateID: string,
    buildID: string,
    opts: BuildStatusOpts = {},
    conn: ConnectionOpts = {},
  ): Promise<TemplateBuildStatus> {
    return getBuildStatus(templateID, buildID, { ...opts, ...conn });
  }

  /**
   * A build's log entries from `offset` on; pass `nextOffset` next time.
   * @example const { logs, nextOffset } = await Template.getBuildLogs(templateID, buildID, { offset: 0 })
   */
  static getBuildLogs(
    templateID: string,
    buildID: string,
    opts: BuildLogsOpts = {},
    conn: ConnectionOpts = {},
  ): Promise<{ logs: BuildLogEntry[]; nextOffset: number }> {
    return getBuildLogs(templateID, buildID, { ...opts, ...conn });
  }

  /**
   * Polls until the build is ready (throws `BuildError` when it fails), passing each new log entry to `onLog`.
   * @example await Template.waitForBuild(templateID, buildID, { onLog: (e) => console.log(e.message) })
   */
  static waitForBuild(
    templateID: string,
    buildID: string,
    opts: WaitForBuildOpts = {},
    conn: ConnectionOpts = {},
  ): Promise<TemplateBuildStatus> {
    return waitForBuild(templateID, buildID, { ...opts, ...conn });
  }

  /**
   * Every template.
   * @example const templates = await Template.list({ domain, apiKey })
   */
  static async list(opts: ConnectionOpts = {}): Promise<TemplateInfo[]> {
    const r = await apiClient(resolveConnection(opts)).GET('/templates');
    return unwrap(r, 'list templates').map(toInfo);
  }

  /**
   * One template (by ID or name) with its builds, newest first.
   * @example const one = await Template.get('tmpl_abc', { domain, apiKey })
   */
  static async get(templateID: string, opts: ConnectionOpts = {}): Promise<TemplateDetails> {
    const r = await apiClient(resolveConnection(opts)).GET('/templates/{templateID}', {
      params: { path: { templateID } },
    });
    return toDetails(unwrap(r, `template ${templateID}`));
  }

  /** Deletes a template (by ID or name) and its layers; false when there was none. Conflict while something uses it. */
  static async delete(templateID: string, opts: ConnectionOpts = {}): Promise<boolean> {
    const r = await apiClient(resolveConnection(opts)).DELETE('/templates/{templateID}', {
      params: { path: { templateID } },
    });
    if (r.response.status === 404) return false;
    unwrap(r, `delete template ${templateID}`);
    return true;
  }

  /** Whether a template with this name (or ID) exists. */
  static async exists(name: string, opts: ConnectionOpts = {}): Promise<boolean> {
    const r = await apiClient(resolveConnection(opts)).GET('/templates/aliases/{alias}', {
      params: { path: { alias: name } },
    });
    if (r.response.status === 404) return false;
    unwrap(r, `look up template ${name}`);
    return true;
  }

  /**
   * Images templates can be built from here (the `fromImage` values).
   * @example
   * const bases = await Template.listBaseImages({ domain, apiKey })
   * // [{ dockerImage: 'ubuntu:24.04', status: 'ready', ... }]
   */
  static async listBaseImages(opts: ConnectionOpts = {}): Promise<BaseImage[]> {
    const r = await apiClient(resolveConnection(opts)).GET('/templates/base-images');
    return unwrap(r, 'list base images');
  }

  /**
   * Uploads a tar (plain or gzip; a Buffer or a file path) for a template's COPY steps or Dockerfile context, unless
   * the server already has it. Returns its hash (sha256, hex) to pass as `filesHash`.
   * @example
   * const { hash } = await Template.uploadFiles(templateID, 'context.tar');
   * await Template.startBuild(templateID, buildID, { dockerfile, filesHash: hash })
   */
  static async uploadFiles(
    templateID: string,
    tar: Uint8Array | string,
    opts: ConnectionOpts = {},
  ): Promise<{ hash: string; uploaded: boolean }> {
    // node:fs only when given a path, so the SDK still loads where there is no file system.
    const bytes = typeof tar === 'string' ? await (await import('node:fs/promises')).readFile(tar) : tar;
    const data = new Uint8Array(bytes.byteLength);
    data.set(bytes);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    const conn = resolveConnection(opts);
    const r = await apiClient(conn).GET('/templates/{templateID}/files/{hash}', {
      params: { path: { templateID, hash } },
    });
    const link = unwrap(r, `files of template ${templateID}`);
    if (link.present) return { hash, uploaded: false };
    const url = link.url ?? `${conn.apiUrl}/templates/${encodeURIComponent(templateID)}/files/${hash}`;
    const res = await fetch(url, {
      method: 'PUT',
      headers: { 'X-API-Key': conn.apiKey, 'content-type': 'application/octet-stream', ...conn.headers },
      body: data,
      signal: conn.requestTimeoutMs ? AbortSignal.timeout(conn.requestTimeoutMs) : undefined,
    });
    if (!res.ok) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      throw fromHttp(res.status, body, `upload files of template ${templateID}`);
    }
    return { hash, uploaded: true };
  }
}

export type {
  BuildLogEntry,
  BuildStatus,
  BuildStatusReason,
  TemplateBuildStatus,
  WaitForBuildOpts,
  BuildStatusOpts,
  BuildLogsOpts,
};
