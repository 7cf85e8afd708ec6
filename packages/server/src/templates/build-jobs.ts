/**
 * Builds as background jobs: each runs one body (a step build or a commit) after its build record says `building`,
 * and ends in exactly one of two ways — the template switches to the new layers and defaults and the build is
 * `ready`, or what the build made is removed and it is `error` with the reason (its message, failing step, exit code
 * and the last log lines). Step builds wait for one of a few slots; the log is appended in order and capped. After a
 * restart `recover` fails the builds that were running (their sandboxes are gone).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { components } from '../api/schema.gen.js';
import type {
  BuildConfig,
  BuildLogEntry,
  LogLevel,
  Store,
  TemplateBuildRecord,
  TemplateRecord,
  TemplateTagAssignment,
} from '../store/store.js';
import { BuildFailed, type BuildEnvironment } from './build-runner.js';
import { DEFAULT_TAG, withBuild } from './tags.js';

type Api = components['schemas'];

export type BuildLogger = ((level: LogLevel, message: string, step?: string) => void) & {
  flush(): Promise<void>;
  /** The last lines written (for a failed build's reason). */
  tail(): BuildLogEntry[];
};

/** What a finished build gives its template. */
export interface BuildOutcome {
  layers: string[];
  env: BuildEnvironment;
  startCmd?: string;
  readyCmd?: string;
  parentTemplateId?: string;
  warmImage?: string;
}

export interface BuildJobsOptions {
  store: Store;
  /** Where a build's layer and warm image go (removed when it fails). */
  layerDir(templateId: string, buildId: string): string;
  warmDir(templateId: string, buildId: string): string;
  maxConcurrent: number;
  log?: (msg: string) => void;
}

const MAX_LOG_LINES = 100_000;
const TAIL_LINES = 20;

export function logToApi(e: Pick<BuildLogEntry, 'timestamp' | 'level' | 'message' | 'step'>): Api['BuildLogEntry'] {
  return {
    timestamp: new Date(e.timestamp).toISOString(),
    level: e.level,
    message: e.message,
    ...(e.step ? { step: e.step } : {}),
  };
}

export class BuildJobs {
  private running = 0;
  private waiting: Array<() => void> = [];
  /** Builds this process runs, by `<templateId>/<buildId>`. */
  private active = new Map<string, Promise<void>>();

  constructor(private o: BuildJobsOptions) {}

  /** Whether a build of the template runs in this process. */
  busy(templateId: string): boolean {
    return [...this.active.keys()].some((k) => k.startsWith(`${templateId}/`));
  }

  /** Waits for every build this process runs (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.active.values()]);
  }

  /**
   * Runs `body` in the background for build `b` of template `t`. A BuildFailed (or any error) from it fails the build;
   * `queued` bodies wait for a build slot first.
   */
  start(
    t: TemplateRecord,
    b: TemplateBuildRecord,
    opts: { queued: boolean },
    body: (log: BuildLogger) => Promise<BuildOutcome>,
  ): void {
    const key = `${t.templateId}/${b.buildId}`;
    const p = (async () => {
      await this.setBuild(b, { status: 'building', source: b.source });
      if (t.status !== 'ready') await this.patchTemplate(t.templateId, { status: 'building', buildId: b.buildId });
      if (opts.queued) await this.slot();
      const log = this.logger(b);
      try {
        await this.complete(t, b, log, await body(log));
      } catch (err) {
        await this.fail(t, b, log, err instanceof BuildFailed ? err : new BuildFailed((err as Error).message));
      } finally {
        await log.flush();
        if (opts.queued) this.release();
      }
    })()
      .catch((err) => this.o.log?.(`build ${key} crashed: ${(err as Error).message}`))
      .finally(() => this.active.delete(key));
    this.active.set(key, p);
  }

  /** After a restart: builds that were running are failed and their leftovers removed. */
  async recover(): Promise<void> {
    for (const t of await this.o.store.listTemplates()) {
      let changed = false;
      for (const b of await this.o.store.listBuilds(t.templateId)) {
        if (b.status !== 'building') continue;
        await this.removeOutputs(b);
        await this.o.store.upsertBuild({
          ...b,
          status: 'error',
          reason: { message: 'the build was interrupted by a server restart; start a new build' },
          finishedAt: Date.now(),
          updatedAt: Date.now(),
        });
        changed = true;
      }
      if (changed && t.status !== 'ready') await this.patchTemplate(t.templateId, { status: 'error' });
    }
  }

  private async slot(): Promise<void> {
    if (this.running >= this.o.maxConcurrent) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }

  /** Appends to a build's log (capped; the cap is said once). */
  private logger(b: TemplateBuildRecord): BuildLogger {
    let lines = 0;
    let chain = Promise.resolve();
    const last: BuildLogEntry[] = [];
    const fn = (level: LogLevel, message: string, step?: string) => {
      if (++lines > MAX_LOG_LINES) {
        if (lines === MAX_LOG_LINES + 1) (level = 'warn'), (message = `log truncated after ${MAX_LOG_LINES} lines`);
        else return;
      }
      const e = {
        templateId: b.templateId,
        buildId: b.buildId,
        timestamp: Date.now(),
        level,
        message,
        ...(step ? { step } : {}),
      };
      last.push({ ...e, seq: lines - 1 });
      if (last.length > TAIL_LINES) last.shift();
      chain = chain.then(() => this.o.store.appendBuildLog(e).then(() => {})).catch(() => {});
    };
    return Object.assign(fn, { flush: () => chain, tail: () => [...last] });
  }

  /**
   * The build is ready and its tags name it. When it carries `default` (or the template has no ready build yet) the
   * template switches to its layers and defaults; otherwise only its tags point at it (templates/tags.ts). Decided
   * and written in one store transaction against the template as stored (a spawn or tag meanwhile is kept).
   */
  private async complete(t: TemplateRecord, b: TemplateBuildRecord, log: BuildLogger, r: BuildOutcome): Promise<void> {
    const config: BuildConfig = {
      layers: r.layers,
      startCmd: r.startCmd,
      readyCmd: r.readyCmd,
      envVars: r.env.envVars,
      defaultUser: r.env.user,
      defaultWorkdir: r.env.workdir,
      parentTemplateId: r.parentTemplateId,
      warmImage: r.warmImage,
    };
    const tags = b.tags ?? [DEFAULT_TAG];
    const now = Date.now();
    let tagMap: Record<string, TemplateTagAssignment> = {};
    const ready = this.ended(b, { status: 'ready', finishedAt: now, config });
    const cur = await this.o.store.completeBuild(t.templateId, b.buildId, ready, (stored) => {
      tagMap = { ...(stored.tags ?? {}) };
      for (const tag of tags) if (tag !== DEFAULT_TAG) tagMap[tag] = { buildId: b.buildId, createdAt: now };
      const promote = tags.includes(DEFAULT_TAG) || stored.status !== 'ready';
      const base = promote ? { ...withBuild(stored, b, config), status: 'ready' as const } : {};
      return { ...base, tags: tagMap, buildCount: stored.buildCount + 1, updatedAt: now };
    });
    // A warm image that neither the plain name nor a tag starts from goes; layers stay (sandboxes may run on them).
    if (cur && (tags.includes(DEFAULT_TAG) || cur.status !== 'ready')) {
      const stillTagged = Object.values(tagMap).some((a) => a.buildId === cur.buildId);
      if (cur.warmImage && cur.warmImage !== r.warmImage && !stillTagged) {
        await rm(cur.warmImage, { recursive: true, force: true });
      }
    }
    log('info', `build ready (tags: ${tags.join(', ')})`);
  }

  /** What the build made is removed; a template without a ready build says `error`. */
  private async fail(t: TemplateRecord, b: TemplateBuildRecord, log: BuildLogger, f: BuildFailed): Promise<void> {
    log('error', `build failed: ${f.message}`, f.step);
    await this.removeOutputs(b);
    const reason = {
      message: f.message,
      ...(f.step ? { step: f.step } : {}),
      ...(f.exitCode !== undefined ? { exitCode: f.exitCode } : {}),
      logEntries: log.tail().map(logToApi),
    };
    const failed = this.ended(b, { status: 'error', finishedAt: Date.now(), reason });
    await this.o.store.completeBuild(t.templateId, b.buildId, failed, (cur) =>
      cur.status !== 'ready' ? { status: 'error', buildId: b.buildId, updatedAt: Date.now() } : undefined,
    );
  }

  private async removeOutputs(b: TemplateBuildRecord): Promise<void> {
    await rm(path.dirname(this.o.layerDir(b.templateId, b.buildId)), { recursive: true, force: true });
    await rm(this.o.warmDir(b.templateId, b.buildId), { recursive: true, force: true });
  }

  private async setBuild(b: TemplateBuildRecord, patch: Partial<TemplateBuildRecord>): Promise<void> {
    const cur = (await this.o.store.getBuild(b.templateId, b.buildId)) ?? b;
    Object.assign(b, patch);
    await this.o.store.upsertBuild({ ...cur, ...patch, updatedAt: Date.now() });
  }

  /** The final fields of a build that ended (also set on `b`, which callers hold). */
  private ended(b: TemplateBuildRecord, patch: Partial<TemplateBuildRecord>): Partial<TemplateBuildRecord> {
    Object.assign(b, patch);
    return { ...patch, updatedAt: Date.now() };
  }

  /** Sets only these fields of the template (a spawn counted meanwhile is kept). */
  private async patchTemplate(templateId: string, patch: Partial<TemplateRecord>): Promise<void> {
    await this.o.store.updateTemplate(templateId, { ...patch, updatedAt: Date.now() });
  }
}
