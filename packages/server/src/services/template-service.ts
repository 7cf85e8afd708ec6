/**
 * Templates: the root filesystems sandboxes start from, and their builds. This module owns template and build records,
 * the `default` template (Debian bookworm via mmdebstrap, built on first start), and the build API: register a template
 * and its build (E2B's POST /v3/templates), start it (POST /v2/templates/{id}/builds/{build}), status and logs, delete,
 * base images, uploaded COPY files, and commit-as-template.
 * Over 400 lines on purpose: it is the template API's facade, one short method per operation (the work is in
 * templates/ and the store); splitting it would split one list of operations across files.
 *
 * On disk (`templateDir`, default `<dataDir>/templates`): `<templateId>/<buildId>/layer` is one build's read-only
 * layer; a template's `layers` are its newest ready build's layer over its parent's layers (so templates derived from
 * templates share their parents' layers); a warm-start checkpoint is in the snapshot store (`templateImage(templateId,
 * buildId)`).
 *
 * A build that fails leaves no layer and no image behind; the template keeps its last ready build, or — when it never
 * had one — stays listed with status `error` (so its status and log can be read) and cannot start sandboxes. Running
 * builds (and how they end) are templates/build-jobs.ts; what a build does is template-build-bodies.ts (and
 * templates/build-runner.ts); the `default` template is default-template.ts; records → wire shapes are
 * lifecycle/presenters.ts.
 */
import { DEFAULT_DISK_MB } from '../constants.js';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryConfig } from '@tensor-box/runtime';
import type { components } from '../api/schema.gen.js';
import { isolationOf, type Drivers } from '../lifecycle/drivers.js';
import { buildToApi, templateToApi } from '../lifecycle/presenters.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { newBuildId, newTemplateId } from '../ids.js';
import type { Isolation, LogLevel, SandboxRecord, Store, TemplateBuildRecord, TemplateRecord } from '../store/store.js';
import { BaseImages } from '../templates/base-images.js';
import type { SnapshotStore } from './snapshot-store.js';
import { BuildFiles } from '../templates/build-files.js';
import { buildPlan, type BuildPlan, type BuildSource } from '../templates/build-request.js';
import { BuildJobs, logToApi, type BuildLogger, type BuildOutcome } from '../templates/build-jobs.js';
import { buildTags, checkTag, DEFAULT_TAG, parseRef, TemplateTags } from '../templates/tags.js';
import { parseDockerfile } from '../templates/dockerfile.js';
import { canSee, ownerTeam } from '../teams/caller.js';
import type { QuotaGuard } from '../teams/quota-guard.js';
import {
  DEFAULT_TEMPLATE_ID,
  DEFAULT_TEMPLATE_NAMES,
  ensureDefaultTemplate,
  type ProgressFn,
} from './default-template.js';
import { describeSource, runCommitBuild, runStepBuild } from './template-build-bodies.js';

/** Kept for callers of the old home (routes); the presenters are in lifecycle/presenters.ts. */
export { templateToApi };

export {
  DEFAULT_TEMPLATE_ID,
  DEFAULT_TEMPLATE_NAMES,
  DEFAULT_USER,
  DEFAULT_WORKDIR,
  templateEnvironment,
  type ProgressFn,
} from './default-template.js';
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}(:[a-z0-9][a-z0-9._-]{0,62})?$/;

type Api = components['schemas'];

export interface TemplateServiceOptions {
  store: Store;
  /** Template layers, base images (`.base-images/`) and uploaded build files (`.files/`). */
  templateDir: string;
  cacheDir: string;
  /**
   * The drivers by isolation; needed for builds and to check a template's isolation (absent: only `default` and
   * listing work, e.g. in store-only tools).
   */
  drivers?: Drivers;
  /** Where warm-start images go. */
  snapshots: SnapshotStore;
  registry?: RegistryConfig;
  /** A build step's lifetime (default 30 min) and how long readyCmd may take to pass (default 5 min). */
  stepTimeoutMs?: number;
  readyTimeoutMs?: number;
  /** Builds running at once (default 2); more wait. */
  maxConcurrentBuilds?: number;
  /** Disk of templates that name none, in MiB (the default template's too). */
  defaultDiskMB?: number;
  log?: (msg: string) => void;
  /** Team quotas (templates per team); none: unlimited. */
  quota?: QuotaGuard;
}

/** A template the caller may start sandboxes from and read: its team's, or public. */
const usable = (t: TemplateRecord | undefined) => (t && (t.public || canSee(t.teamId)) ? t : undefined);
/** A template the caller may change (build, upload to, delete): its team's only. */
const owned = (t: TemplateRecord | undefined) => (t && canSee(t.teamId) ? t : undefined);

export class TemplateService {
  private get defaultDiskMB(): number {
    return this.opts.defaultDiskMB ?? DEFAULT_DISK_MB;
  }

  readonly files: BuildFiles;
  readonly bases: BaseImages;
  private readonly jobs: BuildJobs;
  private readonly tags: TemplateTags;

  constructor(private opts: TemplateServiceOptions) {
    this.tags = new TemplateTags(opts.store);
    this.jobs = new BuildJobs({
      store: opts.store,
      layerDir: (t, b) => this.layerDir(t, b),
      warmDir: (t, b) => this.warmDir(t, b),
      maxConcurrent: opts.maxConcurrentBuilds ?? 2,
      log: opts.log,
    });
    this.files = new BuildFiles(path.join(opts.templateDir, '.files'));
    this.bases = new BaseImages({
      dir: path.join(opts.templateDir, '.base-images'),
      cacheDir: opts.cacheDir,
      registry: opts.registry,
    });
  }

  /** Looks a template up by ID or name; NotFound when unknown, FailedPrecondition when it has no ready build. */
  async resolve(idOrName: string): Promise<TemplateRecord> {
    const ref = parseRef(idOrName);
    let t = usable(await this.opts.store.findTemplate(ref.name));
    if (!t) throw notFound(`template '${idOrName}' not found`);
    if (ref.tag) t = await this.tags.view(t, ref.tag, idOrName);
    if (t.status !== 'ready' || t.layers.length === 0) {
      const builds = await this.opts.store.listBuilds(t.templateId);
      const failed = builds.find((b) => b.status === 'error');
      const why = failed?.reason ? ` (its build failed: ${failed.reason.message})` : '';
      throw new ApiError('failed_precondition', `template '${idOrName}' has no ready build yet (${t.status})${why}`);
    }
    return t;
  }

  /** The ID of the template a reference (ID or name) names, whatever its build state; else the reference itself. */
  async idOf(ref: string): Promise<string> {
    const t = usable(await this.opts.store.findTemplate(ref.includes(':') ? parseRef(ref).name : ref));
    return t?.templateId ?? ref;
  }

  // ---- tags (templates/tags.ts) ----

  /** POST /templates/tags: points `tags` at the build `target` (`name:tag`, tag `default` when absent) names. */
  async assignTags(target: string, tags: string[]): Promise<Api['AssignedTemplateTags']> {
    const ref = parseRef(target);
    const t = owned(await this.opts.store.findTemplate(ref.name));
    if (!t) throw notFound(`template '${ref.name}' not found`);
    const { record, buildId } = await this.tags.assign(t, ref.tag ?? DEFAULT_TAG, tags, target);
    await this.opts.store.updateTemplate(record.templateId, record);
    return { buildID: buildId, tags: [...new Set(tags.map(checkTag))] };
  }

  /** DELETE /templates/tags: removes tags of the template `name` (no tag in it). */
  async removeTags(name: string, tags: string[]): Promise<void> {
    if (name.includes(':')) throw invalid(`template name '${name}' must not contain a tag; list the tags in 'tags'`);
    const t = owned(await this.opts.store.findTemplate(name.trim()));
    if (!t) throw notFound(`template '${name}' not found`);
    await this.opts.store.updateTemplate(t.templateId, this.tags.remove(t, tags));
  }

  /** GET /templates/{id}/tags. */
  async listTags(idOrName: string): Promise<Api['TemplateTag'][]> {
    const t = owned(await this.opts.store.findTemplate(parseRef(idOrName).name));
    if (!t) throw notFound(`template '${idOrName}' not found`);
    return this.tags.list(t);
  }

  list(): Promise<TemplateRecord[]> {
    return this.opts.store.listTemplates();
  }

  async recordSpawn(t: TemplateRecord): Promise<void> {
    await this.opts.store.recordTemplateSpawn(t.templateId, Date.now());
  }

  private layerDir(templateId: string, buildId: string): string {
    return path.join(this.opts.templateDir, templateId, buildId, 'layer');
  }

  private warmDir(templateId: string, buildId: string): string {
    return this.opts.snapshots.templateImage(templateId, buildId);
  }

  // ---- registering and starting builds ----

  /**
   * Registers a template and a new build of it (E2B's POST /v3/templates). A name that exists makes a new build of that
   * template, as on E2B; `default` cannot be rebuilt this way.
   */
  async register(req: Api['TemplateCreateRequest'], source?: string): Promise<Api['TemplateRequestResponse']> {
    const name = req.name.trim().toLowerCase();
    if (!NAME.test(name))
      throw invalid(
        `template name '${req.name}' must be lowercase letters, digits, '.', '_' or '-' (with an optional :tag), at ` +
          `most 63 characters`,
      );
    const ref = parseRef(name);
    const plain = ref.name;
    // `name:latest` (before tags existed: the plain name) still builds what the plain name starts.
    const tags = buildTags(ref.tag === 'latest' ? undefined : ref.tag, req.tags);
    if (DEFAULT_TEMPLATE_NAMES.includes(plain))
      throw new ApiError('conflict', `'${plain}' is the built-in template; choose another name`);
    if (await this.opts.store.findSnapshot(plain))
      throw new ApiError('conflict', `'${plain}' is the name of a snapshot; choose another name`);
    const now = Date.now();
    const buildId = newBuildId();
    let t = await this.opts.store.findTemplate(plain);
    if (t && t.templateId === plain && !t.names.includes(plain)) t = undefined;
    // Names are one namespace across teams: another team's name is taken (its template stays out of reach).
    if (t && !canSee(t.teamId))
      throw new ApiError('conflict', `the template name '${plain}' is taken; choose another name`);
    if (!t) await this.opts.quota?.checkTemplates(ownerTeam());
    const isolation = this.isolationFor(req.isolation, t);
    const cpuCount = req.cpuCount ?? t?.cpuCount ?? 2;
    const memoryMB = req.memoryMB ?? t?.memoryMB ?? 2048;
    const diskSizeMB = req.diskSizeMB ?? t?.diskSizeMB ?? this.defaultDiskMB;
    if (!t) {
      t = {
        templateId: newTemplateId(),
        buildId,
        names: [plain],
        cpuCount,
        memoryMB,
        diskSizeMB,
        layers: [],
        status: 'waiting',
        public: false,
        teamId: ownerTeam(),
        createdAt: now,
        updatedAt: now,
        spawnCount: 0,
        buildCount: 0,
        isolation,
      };
      await this.opts.store.upsertTemplate(t);
    } else if (isolation !== t.isolation) {
      // Its warm image belongs to the old isolation's driver: sandboxes start cold until the new build is ready.
      await this.opts.store.updateTemplate(t.templateId, { isolation, warmImage: undefined, updatedAt: now });
    }
    const build: TemplateBuildRecord = {
      buildId,
      templateId: t.templateId,
      status: 'waiting',
      cpuCount,
      memoryMB,
      diskSizeMB,
      source,
      createdAt: now,
      updatedAt: now,
      tags,
    };
    await this.opts.store.upsertBuild(build);
    if (t.status !== 'ready')
      await this.opts.store.updateTemplate(t.templateId, { buildId, status: 'waiting', updatedAt: now });
    return { templateID: t.templateId, buildID: buildId, public: t.public, names: t.names, aliases: t.names, tags };
  }

  /**
   * A template's isolation: the request's (400 when invalid or not on this server), else what it had, else the server's
   * default at registration (fixed from then on: its builds' warm images are that driver's).
   */
  private isolationFor(requested: unknown, t: TemplateRecord | undefined): Isolation | undefined {
    const drivers = this.opts.drivers;
    if (requested !== undefined && requested !== null) {
      if (!drivers) throw invalid('this server cannot run sandboxes');
      return drivers.check(requested);
    }
    return t ? t.isolation : drivers?.defaultIsolation;
  }

  private async getBuild(templateId: string, buildId: string): Promise<{ t: TemplateRecord; b: TemplateBuildRecord }> {
    const t = owned(await this.opts.store.findTemplate(templateId));
    if (!t) throw notFound(`template '${templateId}' not found`);
    const b = await this.opts.store.getBuild(t.templateId, buildId);
    if (!b) throw notFound(`build '${buildId}' of template '${templateId}' not found`);
    return { t, b };
  }

  /** Starts a registered build (E2B's POST /v2/templates/{id}/builds/{build}); it runs in the background. */
  async startBuild(templateId: string, buildId: string, req: Api['TemplateBuildStartRequest']): Promise<void> {
    const { t, b } = await this.getBuild(templateId, buildId);
    if (b.status !== 'waiting') throw new ApiError('conflict', `build '${buildId}' was already started (${b.status})`);
    const plan = buildPlan(req, parseDockerfile);
    // Everything that can be known now fails now: unknown parents are NotFound, missing uploads InvalidArgument.
    const parent = await this.checkSource(plan.source);
    for (const s of plan.steps) {
      if (s.type === 'COPY' && !this.files.has(s.filesHash!))
        throw invalid(
          `step '${s.name}': no files were uploaded for hash ${s.filesHash} (PUT ` +
            `/templates/${t.templateId}/files/${s.filesHash})`,
        );
    }
    const build = { ...b, source: describeSource(plan.source) };
    this.jobs.start(t, build, { queued: true }, (log) => this.execute(t, build, plan, parent, log));
  }

  /** NotFound unless the source can be resolved; a template source resolves to its record. */
  private async checkSource(src: BuildSource): Promise<TemplateRecord | undefined> {
    if (src.kind === 'template' || src.kind === 'template-or-image') {
      const t = usable(await this.opts.store.findTemplate(parseRef(src.ref).name));
      if (t) return this.resolve(src.ref.includes(':') ? `${t.templateId}:${parseRef(src.ref).tag}` : t.templateId);
      if (src.kind === 'template') {
        const snap = await this.opts.store.findSnapshot(src.ref);
        if (snap)
          throw invalid(
            `'${src.ref}' is a snapshot; build from a template, or commit a running sandbox (POST ` +
              `/sandboxes/{id}/commit)`,
          );
        throw notFound(`template '${src.ref}' not found`);
      }
    }
    await this.bases.verify(src.ref);
    return undefined;
  }

  /** A step build's body (template-step-build.ts). */
  private execute(
    t: TemplateRecord,
    b: TemplateBuildRecord,
    plan: BuildPlan,
    parent: TemplateRecord | undefined,
    log: BuildLogger,
  ): Promise<BuildOutcome> {
    const dirs = { layerDir: this.layerDir(t.templateId, b.buildId), warmDir: this.warmDir(t.templateId, b.buildId) };
    return runStepBuild({ ...this.opts, bases: this.bases, files: this.files }, { t, b, plan, parent, ...dirs }, log);
  }

  /** Waits for the builds this process runs (tests, shutdown). */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  /** After a restart: builds that were running are failed (their sandboxes are gone), their leftovers removed. */
  recoverBuilds(): Promise<void> {
    return this.jobs.recover();
  }

  // ---- commit a running sandbox ----

  /**
   * Registers a template from a running sandbox's filesystem and captures it in the background (`capture` copies the
   * sandbox's writable layer while it keeps running). The new template inherits the source template's environment.
   */
  async commit(
    s: SandboxRecord,
    req: Api['SandboxCommitRequest'],
    capture: (dest: string) => Promise<void>,
  ): Promise<Api['TemplateRequestResponse']> {
    const source = await this.opts.store.findTemplate(s.templateId);
    if (!source || source.layers.length === 0)
      throw new ApiError(
        'failed_precondition',
        `the template of sandbox '${s.sandboxId}' (${s.templateId}) is gone; it cannot be committed`,
      );
    const reg = await this.register(
      {
        name: req.name,
        cpuCount: req.cpuCount ?? s.cpuCount,
        memoryMB: req.memoryMB ?? s.memoryMB,
        diskSizeMB: req.diskSizeMB ?? s.diskSizeMB,
        isolation: isolationOf(s),
      },
      `sandbox ${s.sandboxId}`,
    );
    const t = (await this.opts.store.findTemplate(reg.templateID))!;
    const b = (await this.opts.store.getBuild(reg.templateID, reg.buildID))!;
    const layerDir = this.layerDir(t.templateId, b.buildId);
    this.jobs.start(t, b, { queued: false }, (log) => runCommitBuild(source, s, layerDir, capture, log));
    return reg;
  }

  // ---- reading ----

  async buildStatus(
    templateId: string,
    buildId: string,
    q: { logsOffset?: number; limit?: number; level?: LogLevel },
  ): Promise<Api['TemplateBuildInfo']> {
    const { t, b } = await this.getBuild(templateId, buildId);
    const entries = await this.opts.store.queryBuildLogs(t.templateId, buildId, {
      offset: q.logsOffset ?? 0,
      limit: q.limit ?? 1000,
      minLevel: q.level,
    });
    return {
      templateID: t.templateId,
      buildID: buildId,
      status: b.status,
      logs: entries.map((e) => e.message),
      logEntries: entries.map(logToApi),
      ...(b.reason ? { reason: b.reason } : {}),
    };
  }

  async buildLogs(
    templateId: string,
    buildId: string,
    q: { offset?: number; limit?: number; level?: LogLevel },
  ): Promise<Api['TemplateBuildLogsResponse']> {
    const { t } = await this.getBuild(templateId, buildId);
    const offset = q.offset ?? 0;
    const entries = await this.opts.store.queryBuildLogs(t.templateId, buildId, {
      offset,
      limit: q.limit ?? 1000,
      minLevel: q.level,
    });
    const last = entries[entries.length - 1];
    return { logs: entries.map(logToApi), nextOffset: last ? last.seq + 1 : offset };
  }

  async detail(idOrName: string): Promise<Api['TemplateWithBuilds']> {
    const t = usable(await this.opts.store.findTemplate(idOrName.replace(/:latest$/, '')));
    if (!t) throw notFound(`template '${idOrName}' not found`);
    const builds = await this.opts.store.listBuilds(t.templateId);
    return {
      ...templateToApi(t),
      builds: builds.map(buildToApi),
    };
  }

  async alias(name: string): Promise<Api['TemplateAliasResponse']> {
    const t = usable(await this.opts.store.findTemplate(name.replace(/:latest$/, '')));
    if (!t?.names.includes(name.replace(/:latest$/, ''))) throw notFound(`no template is named '${name}'`);
    return { templateID: t.templateId, public: t.public };
  }

  /** E2B's public flag: a public template can be used (not changed) by every team. */
  async setPublic(idOrName: string, isPublic: boolean): Promise<void> {
    const t = owned(await this.opts.store.findTemplate(idOrName.replace(/:latest$/, '')));
    if (!t) throw notFound(`template '${idOrName}' not found`);
    if (t.templateId === DEFAULT_TEMPLATE_ID) throw new ApiError('conflict', 'the default template is always public');
    await this.opts.store.updateTemplate(t.templateId, { public: isPublic, updatedAt: Date.now() });
  }

  baseImages(): Promise<Api['BaseImage'][]> {
    return this.bases.list();
  }

  /**
   * Where to upload a build file (absent when the server has it). `sign(subject)` makes the URL's token, so a client
   * that PUTs to it without the key is let in (E2B's SDK uploads to presigned URLs).
   */
  async filesLink(
    templateId: string,
    hash: string,
    baseUrl: string,
    sign?: (subject: string) => string,
  ): Promise<Api['TemplateBuildFileUpload']> {
    const t = owned(await this.opts.store.findTemplate(templateId));
    if (!t) throw notFound(`template '${templateId}' not found`);
    const present = this.files.has(hash);
    if (present) return { present };
    const url = `${baseUrl}/templates/${encodeURIComponent(t.templateId)}/files/${hash}`;
    const token = sign?.(`files:${templateId}:${hash}`);
    return { present, url: token ? `${url}?token=${encodeURIComponent(token)}` : url };
  }

  async putFiles(templateId: string, hash: string, body: import('node:http').IncomingMessage): Promise<void> {
    const t = owned(await this.opts.store.findTemplate(templateId));
    if (!t) throw notFound(`template '${templateId}' not found`);
    await this.files.put(hash, body);
  }

  // ---- deleting ----

  /**
   * Deletes a template with its layers and warm images. Refused (409) for `default`, while a build of it runs, and
   * while sandboxes (running or paused), snapshots or other templates use its layers.
   */
  async delete(idOrName: string): Promise<void> {
    const t = owned(await this.opts.store.findTemplate(idOrName.replace(/:latest$/, '')));
    if (!t) throw notFound(`template '${idOrName}' not found`);
    if (t.templateId === DEFAULT_TEMPLATE_ID) throw new ApiError('conflict', 'the default template cannot be deleted');
    if (this.jobs.busy(t.templateId))
      throw new ApiError('conflict', `template '${idOrName}' has a build running; wait for it to end`);
    const users: string[] = [];
    const sandboxes = (await this.opts.store.listSandboxes()).filter((s) => s.templateId === t.templateId);
    if (sandboxes.length)
      users.push(
        `${sandboxes.length} sandbox(es) (${sandboxes
          .slice(0, 3)
          .map((s) => s.sandboxId)
          .join(', ')})`,
      );
    const snaps = (await this.opts.store.listSnapshots({ limit: 100_000 })).filter(
      (s) => s.templateId === t.templateId,
    );
    if (snaps.length) users.push(`${snaps.length} snapshot(s)`);
    const children = (await this.opts.store.listTemplates()).filter((c) => c.parentTemplateId === t.templateId);
    if (children.length) users.push(`template(s) ${children.map((c) => c.names[0] ?? c.templateId).join(', ')}`);
    if (users.length)
      throw new ApiError(
        'conflict',
        `template '${idOrName}' is in use by ${users.join(' and ')}; kill or delete them first`,
      );
    await this.opts.store.deleteTemplate(t.templateId);
    await rm(path.join(this.opts.templateDir, t.templateId), { recursive: true, force: true });
    await rm(this.opts.snapshots.templateImages(t.templateId), { recursive: true, force: true });
  }

  // ---- the default template ----

  /** Makes sure the `default` template exists and is ready, building it when needed (default-template.ts). */
  ensureDefault(onProgress: ProgressFn): Promise<TemplateRecord> {
    return ensureDefaultTemplate({ ...this.opts, defaultDiskMB: this.defaultDiskMB }, onProgress);
  }
}
