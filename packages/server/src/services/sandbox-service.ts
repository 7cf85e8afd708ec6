/**
 * Sandbox lifecycle: create, list, inspect, kill, timeouts, connect, and the reconciliation with the runtime after a
 * restart. Every public method is one API operation; routes only parse and call these.
 *
 * Timeouts: each sandbox has an inactivity timeout (`timeoutMs`). `endAt` is when the lifecycle sweep acts on it;
 * activity through the ingress pushes `endAt` to at least now + timeoutMs; `setTimeout` sets it outright (may shorten);
 * `refresh` and `connect` only ever extend it.
 */
import type { HostDisk } from './host-disk.js';
import { rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { hasCheckpointer, hasEgressController, hasLayerCapturer, type Driver, type SandboxRuntimeInfo } from '@tensor-box/runtime';
import { ENVD_VERSION } from '../constants.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { newAccessToken, newSandboxId, randomId } from '../ids.js';
import type { SandboxRecord, SandboxState, SnapshotRecord, Store } from '../store/store.js';
import type { components } from '../api/schema.gen.js';
import { envdInit, envdQuiesce } from './envd-client.js';
import { decodeCursor, encodeCursor, parseMetadataQuery } from './pagination.js';
import { DEFAULT_USER, DEFAULT_WORKDIR, templateEnvironment, type TemplateService } from './template-service.js';
import { startInSandbox } from '../templates/sandbox-exec.js';
import { checkEnvVars, driverFailure, egressFromRequest, egressOf, fromSnapshot, metricToApi, networkFromRequest, runningRecord, runtimeOf, type ImageStart, type NetworkRequest, type SandboxMetric } from './sandbox-records.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { SandboxLogs } from './sandbox-logs.js';
import type { MetricsSampler } from './metrics-sampler.js';
import type { LogLevel } from '../store/store.js';
import type { Metrics } from '../http/prometheus.js';
import { actorFields, canSee, listScope, ownerTeam, requireVisible } from '../teams/caller.js';
import type { QuotaGuard } from '../teams/quota-guard.js';

type NewSandbox = components['schemas']['NewSandbox'];
type Sandbox = components['schemas']['Sandbox'];
type SandboxDetail = components['schemas']['SandboxDetail'];
type ListedSandbox = components['schemas']['ListedSandbox'];
type SnapshotInfo = components['schemas']['SnapshotInfo'];
type ForkResult = components['schemas']['SandboxForkResult'];

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;


/** GET /v2/sandboxes' query. */
export interface ListQuery {
  metadata?: string;
  state?: SandboxState[];
  order?: 'asc' | 'desc';
  startedAfter?: string;
  template?: string;
  limit?: number;
  nextToken?: string;
}

export interface SandboxServiceOptions {
  store: Store;
  driver: Driver;
  templates: TemplateService;
  /** Public domain for sandbox host names (a function: it may only be known once the server listens). */
  domain: () => string;
  log?: (msg: string) => void;
  logs: SandboxLogs;
  metrics: MetricsSampler;
  prom: Metrics;
  /** Where pause images, snapshots and fork images live. */
  snapshots: SnapshotStore;
  /** How long a paused sandbox is kept, in ms. */
  pausedRetentionMs: number;
  /** This node's name: running sandboxes belong to the node that runs them (several nodes can share one store). */
  nodeId: string;
  /** Team quotas (teams/quota-guard.ts); none: unlimited. */
  quota?: QuotaGuard;
  /** The host disk sandboxes write to: starts that could fill it are refused. */
  hostDisk?: HostDisk;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** Expired sandboxes the sweep acts on at once. */
const SWEEP_CONCURRENCY = 16;

export class SandboxService {
  /** Last time activity pushed endAt, per sandbox, to write at most once a second. */
  private lastTouch = new Map<string, number>();
  /** Sandboxes being killed right now, so concurrent kills and sweeps don't race. */
  private killing = new Map<string, Promise<void>>();
  /** The lifecycle operation (pause, resume, kill) under way per sandbox: they run one at a time. */
  private ops = new Map<string, Promise<unknown>>();
  /** Rate limit of denied-connection log entries, per sandbox. */
  private denied = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(private opts: SandboxServiceOptions) {}

  private log(msg: string) {
    this.opts.log?.(msg);
  }

  /** A lifecycle log entry; it names the API key that acted (none: the server itself, e.g. a timeout). */
  private event(sandboxId: string, level: LogLevel, message: string, fields: Record<string, string> = {}) {
    this.opts.logs.write(sandboxId, level, message, { source: 'lifecycle', ...actorFields(), ...fields });
    this.log(`sandbox ${sandboxId}: ${message}`);
  }

  /** A snapshot by ID or name that the caller may use (names are not unique across teams: the caller's own wins). */
  private async visibleSnapshot(idOrName: string): Promise<SnapshotRecord | undefined> {
    const found = await this.opts.store.findSnapshot(idOrName);
    if (!found || canSee(found.teamId)) return found;
    return (await this.opts.store.listSnapshots({ name: idOrName, teamId: listScope(), limit: 1 }))[0];
  }

  /** Runs a start holding a running slot of the team's quota (429 when none is free); the slot is released after. */
  private async withRunSlot<T>(teamId: string, need: { cpuCount: number; memoryMB: number }, fn: () => Promise<T>): Promise<T> {
    const release = await this.opts.quota?.claimRun(teamId, need);
    try {
      return await fn();
    } finally {
      await release?.();
    }
  }

  async create(request: NewSandbox): Promise<Sandbox> {
    const teamId = ownerTeam();
    const req = { ...request, teamId };
    let template;
    try {
      template = await this.opts.templates.resolve(req.templateID);
    } catch (err) {
      // A snapshot ID or name works as a template: the sandbox starts with the snapshot's memory and processes.
      const snap = err instanceof ApiError && err.kind === 'not_found' ? await this.visibleSnapshot(req.templateID) : undefined;
      if (!snap) throw err;
      return this.toSandbox(await this.startFromImage(fromSnapshot(snap), req));
    }
    const env = templateEnvironment(template);
    if (template.warmImage && hasCheckpointer(this.opts.driver) && existsSync(template.warmImage)) {
      // Warm start: resume the moment the build captured, with the start command already running.
      const record = await this.startFromImage(
        {
          imageDir: template.warmImage,
          templateId: template.templateId,
          alias: template.names[0],
          cpuCount: template.cpuCount,
          memoryMB: template.memoryMB,
          diskSizeMB: template.diskSizeMB,
          envVars: env.envVars,
          allowInternetAccess: true,
          user: env.user,
          workdir: env.workdir,
          what: `template ${template.templateId} (warm start)`,
          fields: { templateId: template.templateId },
        },
        req,
      );
      this.opts.templates.recordSpawn(template).catch(() => {});
      return this.toSandbox(record);
    }
    const sandboxId = newSandboxId();
    const network = networkFromRequest(req.network); // bad settings fail before anything starts
    const secure = req.secure ?? true;
    const accessToken = secure ? newAccessToken() : undefined;
    const timeoutMs = (req.timeout ?? 15) * 1000;
    checkEnvVars(req.envVars);
    const envVars = { ...env.envVars, ...(req.envVars ?? {}) };
    this.opts.hostDisk?.ensureRoom(template.diskSizeMB, `a sandbox of template ${template.templateId}`);
    const start = { accessToken, timeoutMs, envVars, env, network };
    return this.withRunSlot(teamId, template, () => this.coldStart(sandboxId, template, req, start));
  }

  /** A new sandbox on the template's layers (no checkpoint): runtime, agent init, the template's start command, record. */
  private async coldStart(
    sandboxId: string,
    template: Awaited<ReturnType<TemplateService['resolve']>>,
    req: NewSandbox & { teamId: string },
    o: {
      accessToken?: string;
      timeoutMs: number;
      envVars: Record<string, string>;
      env: ReturnType<typeof templateEnvironment>;
      network: ReturnType<typeof networkFromRequest>;
    },
  ): Promise<Sandbox> {
    const { accessToken, timeoutMs, envVars, env, network } = o;
    const info = await this.opts.prom.time('driver.create', () => this.opts.driver.create({
      sandboxId,
      layers: template.layers,
      cpuCount: template.cpuCount,
      memoryMB: template.memoryMB,
      diskMB: template.diskSizeMB,
      internetAccess: req.allow_internet_access ?? true,
      hostname: sandboxId,
      egress: egressOf({ network }),
    }));
    try {
      await envdInit(info.envdUrl, {
        envVars,
        accessToken,
        defaultUser: env.user,
        defaultWorkdir: env.workdir,
      });
      if (template.startCmd) {
        // Cold start of a template with a start command (no warm image): start it; it runs in the background.
        await startInSandbox({ envdUrl: info.envdUrl, accessToken }, { cmd: template.startCmd, user: env.user, cwd: env.workdir, envs: envVars });
      }
      const record = runningRecord(
        {
          sandboxId,
          templateId: template.templateId,
          alias: template.names[0],
          timeoutMs,
          cpuCount: template.cpuCount,
          memoryMB: template.memoryMB,
          diskSizeMB: template.diskSizeMB,
          envVars,
          envdAccessToken: accessToken,
          allowInternetAccess: req.allow_internet_access ?? true,
          nodeId: this.opts.nodeId,
          teamId: req.teamId,
          network,
        },
        req,
        info,
      );
      await this.opts.store.insertSandbox(record);
    } catch (err) {
      await this.opts.driver.destroy(sandboxId).catch(() => {});
      throw err;
    }
    this.opts.templates.recordSpawn(template).catch(() => {});
    this.event(sandboxId, 'info', `sandbox created from template ${template.templateId}`, {
      templateId: template.templateId,
      timeoutMs: String(timeoutMs),
      teamId: req.teamId,
    });
    void this.opts.metrics.sample(sandboxId);
    return this.toSandbox((await this.opts.store.getSandbox(sandboxId))!);
  }

  /**
   * Turns the running sandbox's filesystem into a new template (it keeps running, frozen for the copy); the build
   * runs in the background (poll its status).
   */
  async commit(sandboxId: string, req: components['schemas']['SandboxCommitRequest']): Promise<components['schemas']['TemplateRequestResponse']> {
    const s = await this.get(sandboxId);
    if (s.state !== 'running') throw new ApiError('conflict', `sandbox '${sandboxId}' is ${s.state}; resume it before committing it`);
    this.here(s);
    const driver = this.opts.driver;
    if (!hasLayerCapturer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot commit sandboxes`);
    return this.opts.templates.commit(s, req, (dest) =>
      this.serial(sandboxId, async () => {
        const cur = await this.get(sandboxId);
        if (cur.state !== 'running') throw new ApiError('conflict', `sandbox '${sandboxId}' was ${cur.state} before its filesystem could be copied`);
        await driver.captureLayer(sandboxId, dest, { leaveRunning: true });
        this.event(sandboxId, 'info', 'filesystem committed as a template layer');
      }),
    );
  }

  /** The record of a live (running or paused) sandbox, or NotFound. */
  async get(sandboxId: string): Promise<SandboxRecord> {
    // Another team's sandbox is as absent as a missing one (every surface looks sandboxes up here).
    return requireVisible(await this.opts.store.getSandbox(sandboxId), `sandbox '${sandboxId}'`);
  }

  /** Whether this node acts on the sandbox: paused ones belong to every node, running ones to the node running them. */
  isMine(s: SandboxRecord): boolean {
    return s.state === 'paused' || !s.nodeId || s.nodeId === this.opts.nodeId;
  }

  /** Refuses operations on a sandbox another node runs (its runtime is only reachable there). */
  here(s: SandboxRecord): void {
    if (!this.isMine(s)) {
      throw new ApiError('failed_precondition', `sandbox '${s.sandboxId}' runs on node '${s.nodeId}'; send this request to that node`);
    }
  }

  /** Temporary fork images of this node. */
  private forksDir(): string {
    return this.opts.snapshots.forkImages(this.opts.nodeId);
  }

  async detail(sandboxId: string): Promise<SandboxDetail> {
    const s = await this.get(sandboxId);
    // Being killed is gone already (E2B answers 404 from the moment of the kill; the teardown may take a moment).
    if (this.killing.has(sandboxId)) throw notFound(`sandbox '${sandboxId}' not found`);
    return {
      ...this.toListed(s),
      envdAccessToken: s.envdAccessToken,
      domain: this.opts.domain(),
      allowInternetAccess: s.allowInternetAccess,
      network: {
        allowPublicTraffic: s.network?.allowPublicTraffic ?? true,
        ...(s.network?.maskRequestHost ? { maskRequestHost: s.network.maskRequestHost } : {}),
        allowOut: s.network?.allowOut ?? [],
        denyOut: s.network?.denyOut ?? [],
      },
      trafficAccessToken: s.network?.trafficAccessToken ?? null,
      lifecycle: { onTimeout: s.onTimeout, autoResume: s.autoResume },
    };
  }

  /**
   * One page of sandboxes, newest first unless `order: 'asc'`; `template` is a template ID or name (a name that names
   * no template filters by that string as an ID, so snapshot-started sandboxes can be found by their template ID).
   */
  async list(query: ListQuery): Promise<Page<ListedSandbox>> {
    const limit = query.limit ?? 100;
    const after = query.nextToken
      ? decodeCursor<{ startedAt: number; sandboxId: string }>(
          query.nextToken,
          (v) => typeof v?.startedAt === 'number' && typeof v?.sandboxId === 'string',
        )
      : undefined;
    let startedAfterMs: number | undefined;
    if (query.startedAfter !== undefined) {
      startedAfterMs = Date.parse(query.startedAfter);
      if (Number.isNaN(startedAfterMs)) {
        throw invalid(`startedAfter '${query.startedAfter}' is not an RFC 3339 date-time`);
      }
    }
    const templateId = query.template === undefined ? undefined : await this.opts.templates.idOf(query.template);
    const rows = await this.opts.store.listSandboxes({
      states: query.state?.length ? query.state : ['running', 'paused'],
      metadata: parseMetadataQuery(query.metadata),
      templateId,
      startedAfterMs,
      order: query.order,
      after,
      limit: limit + 1,
      teamId: listScope(),
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((s) => this.toListed(s)),
      nextToken: rows.length > limit && last ? encodeCursor({ startedAt: last.startedAt, sandboxId: last.sandboxId }) : undefined,
    };
  }

  /** Runs `fn` after any lifecycle operation already under way on the sandbox. */
  private serial<T>(sandboxId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.ops.get(sandboxId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    const tail = next.catch(() => {});
    this.ops.set(sandboxId, tail);
    void tail.then(() => {
      if (this.ops.get(sandboxId) === tail) this.ops.delete(sandboxId);
    });
    return next;
  }

  async kill(sandboxId: string, reason = 'killed by request'): Promise<void> {
    const pending = this.killing.get(sandboxId);
    if (pending) {
      // Joining a kill under way must not tell another team that the sandbox exists.
      const cur = await this.opts.store.getSandbox(sandboxId);
      if (cur && !canSee(cur.teamId)) throw notFound(`sandbox '${sandboxId}' not found`);
      return pending;
    }
    await this.get(sandboxId);
    const p = this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      this.here(s);
      await this.opts.prom.time('driver.destroy', () => this.opts.driver.destroy(s.sandboxId));
      if (s.pausedImage) await rm(path.dirname(s.pausedImage), { recursive: true, force: true });
      await this.opts.store.deleteSandbox(s.sandboxId);
      this.lastTouch.delete(s.sandboxId);
      this.denied.delete(s.sandboxId);
      this.opts.metrics.forget(s.sandboxId);
      this.event(sandboxId, 'info', `sandbox killed (${reason})`);
    }).finally(() => this.killing.delete(sandboxId));
    this.killing.set(sandboxId, p);
    return p;
  }

  /** Whether a kill of the sandbox is under way (the ingress then answers as for a sandbox that is gone). */
  isKilling(sandboxId: string): boolean {
    return this.killing.has(sandboxId);
  }

  async setTimeout(sandboxId: string, timeoutSec: number): Promise<void> {
    await this.get(sandboxId);
    const timeoutMs = timeoutSec * 1000;
    await this.opts.store.updateSandbox(sandboxId, { timeoutMs, endAt: Date.now() + timeoutMs });
    this.event(sandboxId, 'debug', `timeout set to ${timeoutMs} ms`);
  }

  /** Metric samples between start and end (unix seconds; default: the last hour). */
  async metrics(sandboxId: string, start?: number, end?: number): Promise<SandboxMetric[]> {
    await this.get(sandboxId);
    const endMs = end !== undefined ? end * 1000 : Date.now();
    const startMs = start !== undefined ? start * 1000 : endMs - 3600_000;
    if (startMs > endMs) throw invalid('start must not be after end');
    return (await this.opts.store.queryMetrics(sandboxId, startMs, endMs)).map(metricToApi);
  }

  /** The latest sample of each listed sandbox. */
  async latestMetrics(sandboxIds: string[]): Promise<Record<string, SandboxMetric>> {
    if (!sandboxIds.length) throw invalid('sandbox_ids must name at least one sandbox');
    const out: Record<string, SandboxMetric> = {};
    const visible = [];
    for (const id of sandboxIds) if (canSee((await this.opts.store.getSandbox(id))?.teamId ?? '\0none')) visible.push(id);
    for (const m of await this.opts.store.latestMetrics(visible)) out[m.sandboxId] = metricToApi(m);
    return out;
  }

  /** Log entries of a sandbox (live or recently killed). */
  async logs(sandboxId: string, q: { cursor?: number; limit?: number; direction?: 'forward' | 'backward'; level?: LogLevel; search?: string }) {
    const live = await this.opts.store.getSandbox(sandboxId);
    // A killed sandbox's team is the one its first (creation) entry names.
    const teamId = live ? live.teamId : (await this.opts.logs.query(sandboxId, { limit: 1, direction: 'forward' }))[0]?.fields.teamId;
    if (!canSee(teamId ?? (live ? undefined : '\0none'))) throw notFound(`sandbox '${sandboxId}' not found`);
    const entries = await this.opts.logs.query(sandboxId, q);
    if (!entries.length && !live && q.cursor === undefined) {
      throw notFound(`sandbox '${sandboxId}' not found`);
    }
    return {
      logs: entries.map((e) => ({ timestamp: new Date(e.timestamp).toISOString(), level: e.level, message: e.message, fields: e.fields })),
    };
  }

  async refresh(sandboxId: string, durationSec?: number): Promise<void> {
    const s = await this.get(sandboxId);
    const endAt = Math.max(s.endAt, Date.now() + (durationSec ?? s.timeoutMs / 1000) * 1000);
    await this.opts.store.updateSandbox(sandboxId, { endAt });
  }

  /** Connects to a sandbox: extends its timeout; a paused sandbox is resumed (status 201). */
  async connect(sandboxId: string, timeoutSec?: number): Promise<{ resumed: boolean; sandbox: Sandbox }> {
    const s = await this.get(sandboxId);
    if (s.state === 'paused') {
      const r = await this.resume(sandboxId, timeoutSec === undefined ? undefined : timeoutSec * 1000);
      return { resumed: true, sandbox: this.toSandbox(r) };
    }
    const endAt = Math.max(s.endAt, Date.now() + (timeoutSec === undefined ? s.timeoutMs : timeoutSec * 1000));
    await this.opts.store.updateSandbox(sandboxId, { endAt });
    return { resumed: false, sandbox: this.toSandbox({ ...s, endAt }) };
  }

  /** Before a checkpoint: the agent ends its watches (their clients get Unavailable and may watch again later). */
  private async quiesce(s: SandboxRecord): Promise<void> {
    if (!s.runtime) return;
    await envdQuiesce(s.runtime.envdUrl, s.envdAccessToken).catch((err) => this.log(`quiesce of ${s.sandboxId}: ${(err as Error).message}`));
  }

  private imageDir(sandboxId: string): string {
    return this.opts.snapshots.newPauseImage(sandboxId);
  }

  /**
   * Pauses a running sandbox: its processes are checkpointed with their memory and its writable layer is kept in the
   * snapshot store; the host resources are released. Pausing a paused sandbox is a conflict (409). A failed checkpoint
   * leaves the sandbox running and reports why.
   */
  async pause(sandboxId: string, reason = 'requested'): Promise<void> {
    await this.get(sandboxId);
    return this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      if (s.state === 'paused') throw new ApiError('conflict', `sandbox '${sandboxId}' is already paused`);
      this.here(s);
      const driver = this.opts.driver;
      if (!hasCheckpointer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot pause sandboxes`);
      // A requested pause must fit the team's disk quota; a timeout's pause goes ahead (it frees a running slot).
      if (reason === 'requested') await this.opts.quota?.checkDisk(s.teamId ?? ownerTeam());
      const image = this.imageDir(sandboxId);
      const t0 = Date.now();
      await this.quiesce(s);
      try {
        await this.opts.prom.time('driver.checkpoint', () => driver.checkpoint(sandboxId, image));
      } catch (err) {
        this.event(sandboxId, 'error', `pause failed; the sandbox keeps running: ${(err as Error).message}`);
        throw driverFailure(err, `cannot pause sandbox '${sandboxId}'`);
      }
      await this.opts.store.updateSandbox(sandboxId, {
        state: 'paused',
        runtime: undefined,
        pausedImage: image,
        nodeId: undefined,
        endAt: Date.now() + this.opts.pausedRetentionMs,
      });
      this.lastTouch.delete(sandboxId);
      this.opts.metrics.forget(sandboxId);
      this.event(sandboxId, 'info', `sandbox paused (${reason}) in ${Date.now() - t0} ms`);
    });
  }

  /**
   * Resumes a paused sandbox where it stopped: the same processes, memory and files. The timeout restarts (the given
   * one, else the sandbox's own). Resuming a running sandbox only extends its timeout.
   */
  async resume(sandboxId: string, timeoutMs?: number): Promise<SandboxRecord> {
    await this.get(sandboxId);
    return this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      const timeout = timeoutMs ?? s.timeoutMs;
      if (s.state === 'running') {
        const endAt = Math.max(s.endAt, Date.now() + timeout);
        await this.opts.store.updateSandbox(sandboxId, { endAt });
        return { ...s, endAt };
      }
      if (!s.pausedImage || !existsSync(path.join(s.pausedImage, 'checkpoint.json'))) {
        throw new ApiError('not_found', `the saved state of sandbox '${sandboxId}' is gone`);
      }
      this.opts.hostDisk?.ensureRoom(s.diskSizeMB, `sandbox ${sandboxId}`);
      return this.withRunSlot(s.teamId ?? ownerTeam(), s, () => this.restorePaused(s, timeout, timeoutMs));
    });
  }

  /** Restores a paused sandbox's checkpoint (holding a running slot) and records it running. */
  private async restorePaused(s: SandboxRecord, timeout: number, timeoutMs?: number): Promise<SandboxRecord> {
    const sandboxId = s.sandboxId;
    const driver = this.opts.driver;
    if (!hasCheckpointer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot resume sandboxes`);
    const t0 = Date.now();
    let info: SandboxRuntimeInfo;
    try {
      info = await this.opts.prom.time('driver.restore', () =>
        driver.restore(
          {
            sandboxId,
            layers: [], // the checkpoint's own layers
            cpuCount: s.cpuCount,
            memoryMB: s.memoryMB,
            diskMB: s.diskSizeMB,
            internetAccess: s.allowInternetAccess,
            hostname: sandboxId,
            egress: egressOf(s),
          },
          s.pausedImage!,
          { move: true },
        ),
      );
    } catch (err) {
      this.event(sandboxId, 'error', `resume failed; the sandbox stays paused: ${(err as Error).message}`);
      throw driverFailure(err, `cannot resume sandbox '${sandboxId}'`);
    }
    const patch: Partial<SandboxRecord> = {
      state: 'running',
      runtime: runtimeOf(info),
      pausedImage: undefined,
      nodeId: this.opts.nodeId,
      endAt: Date.now() + timeout,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    };
    await this.opts.store.updateSandbox(sandboxId, patch);
    void this.removeImageWhenFree(s.pausedImage!);
    this.event(sandboxId, 'info', `sandbox resumed in ${Date.now() - t0} ms`);
    void this.opts.metrics.sample(sandboxId);
    return { ...s, ...patch } as SandboxRecord;
  }

  /**
   * Starts a new sandbox from a checkpoint that stays reusable (a snapshot, or a fork's temporary image), then gives
   * its agent the new sandbox's env vars and token.
   */
  private async startFromImage(
    snap: ImageStart,
    req: { templateID?: string; timeout?: number; metadata?: Record<string, string>; envVars?: Record<string, string>; secure?: boolean; allow_internet_access?: boolean; autoPause?: boolean; autoResume?: { enabled: boolean }; network?: NetworkRequest; teamId: string },
  ): Promise<SandboxRecord> {
    return this.withRunSlot(req.teamId, snap, () => this.restoreImage(snap, req));
  }

  private async restoreImage(snap: ImageStart, req: Parameters<SandboxService['startFromImage']>[1]): Promise<SandboxRecord> {
    const driver = this.opts.driver;
    if (!hasCheckpointer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot start sandboxes from snapshots`);
    checkEnvVars(req.envVars);
    const sandboxId = newSandboxId();
    const network = networkFromRequest(req.network);
    const accessToken = (req.secure ?? true) ? newAccessToken() : undefined;
    const timeoutMs = (req.timeout ?? 15) * 1000;
    const envVars = { ...snap.envVars, ...(req.envVars ?? {}) };
    const internet = req.allow_internet_access ?? snap.allowInternetAccess;
    this.opts.hostDisk?.ensureRoom(snap.diskSizeMB, `a sandbox from ${snap.what}`);
    let info: SandboxRuntimeInfo;
    try {
      info = await this.opts.prom.time('driver.restore', () =>
        driver.restore(
          { sandboxId, layers: [], cpuCount: snap.cpuCount, memoryMB: snap.memoryMB, diskMB: snap.diskSizeMB, internetAccess: internet, hostname: sandboxId, egress: egressOf({ network }) },
          snap.imageDir,
        ),
      );
    } catch (err) {
      throw driverFailure(err, `cannot start a sandbox from ${snap.what}`);
    }
    try {
      await envdInit(info.envdUrl, {
        envVars,
        accessToken: accessToken ?? '',
        currentToken: snap.envdAccessToken,
        defaultUser: snap.user,
        defaultWorkdir: snap.workdir,
      });
      const record = runningRecord(
        {
          sandboxId,
          templateId: snap.templateId,
          alias: snap.alias,
          timeoutMs,
          cpuCount: snap.cpuCount,
          memoryMB: snap.memoryMB,
          diskSizeMB: snap.diskSizeMB,
          envVars,
          envdAccessToken: accessToken,
          allowInternetAccess: internet,
          nodeId: this.opts.nodeId,
          teamId: req.teamId,
          network,
        },
        req,
        info,
      );
      await this.opts.store.insertSandbox(record);
      this.event(sandboxId, 'info', `sandbox started from ${snap.what}`, { ...snap.fields, teamId: req.teamId });
      void this.opts.metrics.sample(sandboxId);
      return record;
    } catch (err) {
      await driver.destroy(sandboxId).catch(() => {});
      throw err;
    }
  }

  private snapshotToApi(r: SnapshotRecord): SnapshotInfo {
    return {
      snapshotID: r.snapshotId,
      names: r.name ? [r.name] : [],
      sandboxID: r.sandboxId,
      name: r.name,
      templateID: r.templateId,
      createdAt: new Date(r.createdAt).toISOString(),
    };
  }

  /**
   * Saves a running sandbox's memory, processes and files as a snapshot while it keeps running (frozen for the moment
   * of the dump). Its ID (or name) works as a templateID.
   */
  async createSnapshot(sandboxId: string, name?: string): Promise<SnapshotInfo> {
    if (name !== undefined && !SNAPSHOT_NAME.test(name)) {
      throw invalid('name: letters, digits, dot, dash and underscore, starting with a letter or digit, at most 63 characters');
    }
    await this.get(sandboxId);
    return this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      if (s.state !== 'running') throw new ApiError('failed_precondition', `sandbox '${sandboxId}' is ${s.state}; resume it to snapshot it`);
      this.here(s);
      const driver = this.opts.driver;
      if (!hasCheckpointer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot snapshot sandboxes`);
      await this.opts.quota?.checkDisk(s.teamId ?? ownerTeam());
      const snapshotId = `snap${randomId(16)}`;
      const imageDir = this.opts.snapshots.snapshotImage(snapshotId);
      await this.quiesce(s);
      try {
        await this.opts.prom.time('driver.snapshot', () => driver.checkpoint(sandboxId, imageDir, { leaveRunning: true }));
      } catch (err) {
        throw driverFailure(err, `cannot snapshot sandbox '${sandboxId}'`);
      }
      const rec: SnapshotRecord = {
        snapshotId,
        sandboxId,
        name,
        templateId: s.templateId,
        createdAt: Date.now(),
        imageDir,
        cpuCount: s.cpuCount,
        memoryMB: s.memoryMB,
        diskSizeMB: s.diskSizeMB,
        envVars: s.envVars,
        envdAccessToken: s.envdAccessToken,
        allowInternetAccess: s.allowInternetAccess,
        teamId: s.teamId,
      };
      await this.opts.store.insertSnapshot(rec);
      this.event(sandboxId, 'info', `snapshot ${snapshotId} taken${name ? ` (${name})` : ''}`);
      return this.snapshotToApi(rec);
    });
  }

  async listSnapshots(q: { sandboxID?: string; name?: string; limit?: number; nextToken?: string }): Promise<Page<SnapshotInfo>> {
    const limit = q.limit ?? 100;
    const after = q.nextToken
      ? decodeCursor<{ createdAt: number; snapshotId: string }>(q.nextToken, (v) => typeof v?.createdAt === 'number' && typeof v?.snapshotId === 'string')
      : undefined;
    const rows = await this.opts.store.listSnapshots({ sandboxId: q.sandboxID, name: q.name, after, limit: limit + 1, teamId: listScope() });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.snapshotToApi(r)),
      nextToken: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, snapshotId: last.snapshotId }) : undefined,
    };
  }

  async deleteSnapshot(idOrName: string): Promise<void> {
    const r = requireVisible(await this.visibleSnapshot(idOrName), `snapshot '${idOrName}'`);
    await this.opts.store.deleteSnapshot(r.snapshotId);
    await this.removeImageWhenFree(r.imageDir);
  }

  /**
   * Live copies of a running sandbox: one checkpoint of the source (which keeps running, briefly frozen), then `count`
   * new sandboxes started from it with the source's memory, processes, files, env vars and metadata.
   */
  async fork(sandboxId: string, opts: { count?: number; timeout?: number }): Promise<ForkResult[]> {
    const count = opts.count ?? 1;
    await this.get(sandboxId);
    const tmp = path.join(this.forksDir(), `${sandboxId}-${Date.now().toString(36)}-${randomId(6)}`);
    const s = await this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      if (s.state !== 'running') throw new ApiError('failed_precondition', `sandbox '${sandboxId}' is ${s.state}; resume it to fork it`);
      this.here(s);
      const driver = this.opts.driver;
      if (!hasCheckpointer(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot fork sandboxes`);
      await this.quiesce(s);
      try {
        await this.opts.prom.time('driver.snapshot', () => driver.checkpoint(sandboxId, tmp, { leaveRunning: true }));
      } catch (err) {
        throw driverFailure(err, `cannot fork sandbox '${sandboxId}'`);
      }
      return s;
    });
    const image: ImageStart = {
      imageDir: tmp,
      templateId: s.templateId,
      cpuCount: s.cpuCount,
      memoryMB: s.memoryMB,
      diskSizeMB: s.diskSizeMB,
      envVars: s.envVars,
      envdAccessToken: s.envdAccessToken,
      allowInternetAccess: s.allowInternetAccess,
      user: DEFAULT_USER,
      workdir: DEFAULT_WORKDIR,
      what: `fork of ${sandboxId}`,
      fields: { snapshotId: `fork of ${sandboxId}` },
    };
    const out: ForkResult[] = [];
    try {
      for (let i = 0; i < count; i++) {
        try {
          const r = await this.startFromImage(image, {
            timeout: opts.timeout,
            metadata: s.metadata,
            secure: !!s.envdAccessToken,
            network: s.network ? { allowPublicTraffic: s.network.allowPublicTraffic, maskRequestHost: s.network.maskRequestHost, allowOut: s.network.allowOut, denyOut: s.network.denyOut } : undefined,
            autoPause: s.onTimeout === 'pause',
            autoResume: { enabled: s.autoResume },
            teamId: s.teamId ?? ownerTeam(),
          });
          out.push({ sandbox: this.toSandbox(r) });
        } catch (err) {
          const e = driverFailure(err, `fork ${i + 1} of ${count}`);
          out.push({ error: { code: e.status, message: e.message } });
        }
      }
    } finally {
      void this.removeImageWhenFree(tmp);
    }
    return out;
  }

  /**
   * Replaces a sandbox's outbound rules (E2B's PUT /sandboxes/{id}/network): in force at once on a running sandbox
   * (open connections to newly denied addresses stop), kept for a paused one (applied on resume). Invalid entries fail
   * with 400 before anything changes.
   */
  async updateNetwork(sandboxId: string, req: { allowOut?: unknown; denyOut?: unknown; allow_internet_access?: unknown }): Promise<void> {
    const rules = egressFromRequest(req);
    // E2B: allow_internet_access false is denyOut 0.0.0.0/0 (allowOut still wins).
    if (req.allow_internet_access === false && !rules.denyOut.includes('0.0.0.0/0')) rules.denyOut.push('0.0.0.0/0');
    await this.serial(sandboxId, async () => {
      const s = await this.get(sandboxId);
      this.here(s);
      if (s.state === 'running') {
        const driver = this.opts.driver;
        if (!hasEgressController(driver)) throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot change network rules`);
        await driver.updateEgress(sandboxId, rules).catch((err) => {
          throw driverFailure(err, `cannot change the network rules of sandbox '${sandboxId}'`);
        });
      }
      const network = { allowPublicTraffic: true, ...s.network, allowOut: rules.allowOut, denyOut: rules.denyOut };
      await this.opts.store.updateSandbox(sandboxId, { network });
      this.event(sandboxId, 'info', `network rules replaced: allowOut [${rules.allowOut.join(', ')}], denyOut [${rules.denyOut.join(', ')}]`);
    });
  }

  /**
   * A connection the sandbox's egress rules denied: logged as a warning, at most one entry per sandbox every 5 s (the
   * ones in between are counted in the next entry).
   */
  egressDenied(sandboxId: string, d: { destination: string; protocol: string; port?: number }): void {
    const now = Date.now();
    const cur = this.denied.get(sandboxId) ?? { lastAt: 0, suppressed: 0 };
    if (now - cur.lastAt < 5000) {
      cur.suppressed++;
      this.denied.set(sandboxId, cur);
      return;
    }
    const more = cur.suppressed ? ` (and ${cur.suppressed} more since the last entry)` : '';
    const to = `${d.destination}${d.port !== undefined ? `:${d.port}` : ''}`;
    this.opts.logs.write(sandboxId, 'warn', `outbound connection denied by the network rules: ${d.protocol} to ${to}${more}`, {
      source: 'network',
      destination: d.destination,
      protocol: d.protocol,
    });
    this.denied.set(sandboxId, { lastAt: now, suppressed: 0 });
  }

  /** Activity seen (ingress traffic): pushes endAt to at least now + timeout, writing at most once a second. */
  async touch(s: SandboxRecord): Promise<void> {
    const now = Date.now();
    if (now - (this.lastTouch.get(s.sandboxId) ?? 0) < 1000) return;
    this.lastTouch.set(s.sandboxId, now);
    if (now + s.timeoutMs > s.endAt) await this.opts.store.updateSandbox(s.sandboxId, { endAt: now + s.timeoutMs });
  }

  /** One pass of the lifecycle sweep: acts on every sandbox whose endAt has passed. */
  /**
   * Acts on every sandbox past its end: kills (or pauses, as it asked) the running ones and deletes paused ones past
   * their retention. Up to SWEEP_CONCURRENCY at once, so many timeouts at the same moment all fire within a sweep or two.
   */
  async sweep(now = Date.now()): Promise<void> {
    const due = (await this.opts.store.expiredSandboxes(now)).filter(
      // Skipped: a pause/resume/kill under way, and running sandboxes of other nodes (their node times them out).
      (s) => !this.ops.has(s.sandboxId) && this.isMine(s),
    );
    let next = 0;
    const worker = async () => {
      while (next < due.length) await this.expire(due[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, worker));
  }

  private async expire(s: SandboxRecord): Promise<void> {
    if (s.state === 'paused') {
      this.event(s.sandboxId, 'info', 'paused sandbox reached its retention period; deleting it');
      await this.kill(s.sandboxId, 'retention').catch((err) => this.log(`delete of ${s.sandboxId} failed: ${err.message}`));
      return;
    }
    this.event(s.sandboxId, 'warn', `sandbox timed out after ${s.timeoutMs} ms of inactivity (onTimeout=${s.onTimeout})`);
    if (s.onTimeout === 'pause') {
      // A sandbox never outlives its timeout: a pause that fails twice (e.g. its processes defeat the checkpoint)
      // ends in a kill, with the reason in its logs.
      let why = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        why = await this.pause(s.sandboxId, 'timeout').then(() => '', (err: Error) => err.message);
        if (!why) return;
        this.log(`auto-pause of ${s.sandboxId} failed (attempt ${attempt + 1}): ${why}`);
      }
      this.event(s.sandboxId, 'error', `auto-pause failed (${why}); killing the sandbox at its timeout instead`);
      await this.kill(s.sandboxId, 'timeout (pause failed)').catch((err) => this.log(`kill of ${s.sandboxId} failed: ${err.message}`));
      return;
    }
    await this.kill(s.sandboxId, 'timeout').catch((err) => this.log(`kill of ${s.sandboxId} failed: ${err.message}`));
  }

  /**
   * After a control-plane restart: re-adopt sandboxes the runtime still runs, forget the ones it lost, and destroy
   * runtime sandboxes no record knows (left by a crash mid-create).
   */
  async reconcile(): Promise<{ adopted: number; lost: number; orphans: number }> {
    const live = new Map((await this.opts.driver.list()).map((i) => [i.sandboxId, i]));
    let adopted = 0;
    let lost = 0;
    let orphans = 0;
    for (const s of await this.opts.store.listSandboxes({ states: ['running', 'paused'] })) {
      if (!this.isMine(s)) continue; // another node's sandbox: that node reconciles it
      const info = live.get(s.sandboxId);
      live.delete(s.sandboxId);
      if (info) {
        // Running — also when a resume finished while the control plane was down.
        adopted++;
        await this.opts.store.updateSandbox(s.sandboxId, {
          state: 'running',
          runtime: runtimeOf(info),
          pausedImage: undefined,
          nodeId: this.opts.nodeId,
          ...(s.state === 'paused' ? { endAt: Date.now() + s.timeoutMs } : {}),
        });
        if (s.state === 'paused' && s.pausedImage) await rm(path.dirname(s.pausedImage), { recursive: true, force: true });
        this.event(s.sandboxId, 'info', 're-adopted after a control-plane restart');
        continue;
      }
      if (s.state === 'paused' && s.pausedImage && existsSync(path.join(s.pausedImage, 'checkpoint.json'))) continue;
      // A pause that the restart interrupted may have completed meanwhile: keep the sandbox paused with that image.
      const image = s.state === 'running' ? this.completeImage(s.sandboxId) : undefined;
      if (image) {
        await this.opts.store.updateSandbox(s.sandboxId, { state: 'paused', runtime: undefined, pausedImage: image, nodeId: undefined, endAt: Date.now() + this.opts.pausedRetentionMs });
        this.event(s.sandboxId, 'info', 'pause completed across a control-plane restart');
        continue;
      }
      lost++;
      this.event(s.sandboxId, 'error', `sandbox was not running (and had no saved state) after a control-plane restart; removed`);
      await this.opts.store.deleteSandbox(s.sandboxId);
    }
    for (const id of live.keys()) {
      orphans++;
      this.log(`destroying orphaned runtime sandbox ${id}`);
      await this.opts.driver.destroy(id).catch(() => {});
    }
    await this.removePartialImages();
    return { adopted, lost, orphans };
  }

  /** Deletes a checkpoint once no restored sandbox reads pages from it any more (lazy restore). */
  private async removeImageWhenFree(imageDir: string): Promise<void> {
    const driver = this.opts.driver;
    for (let i = 0; i < 6000 && hasCheckpointer(driver) && driver.imageInUse(imageDir); i++) await new Promise((r) => setTimeout(r, 100));
    // Only this generation: the sandbox's directory may be getting its next one right now (kill and start clean up).
    await rm(imageDir, { recursive: true, force: true }).catch(() => {});
  }

  /** The newest complete checkpoint of a sandbox in the snapshot store. */
  private completeImage(sandboxId: string): string | undefined {
    const base = this.opts.snapshots.sandboxImages(sandboxId);
    if (!existsSync(base)) return undefined;
    const gens = readdirSync(base).sort().reverse();
    for (const g of gens) if (existsSync(path.join(base, g, 'checkpoint.json'))) return path.join(base, g);
    return undefined;
  }

  /** Pause images no record points at (incomplete dumps, leftovers of deleted sandboxes) are discarded. */
  private async removePartialImages(): Promise<void> {
    await rm(this.forksDir(), { recursive: true, force: true }); // no fork of this node runs at start
    const base = this.opts.snapshots.allSandboxImages();
    if (!existsSync(base)) return;
    for (const id of readdirSync(base)) {
      const s = await this.opts.store.getSandbox(id);
      if (s && !this.isMine(s)) continue; // may be pausing on its node right now
      const driver = this.opts.driver;
      for (const g of readdirSync(path.join(base, id))) {
        const dir = path.join(base, id, g);
        if (s?.pausedImage === dir) continue;
        // A sandbox resumed just before the restart may still fetch pages from its old image.
        if (hasCheckpointer(driver) && driver.imageInUse(dir)) void this.removeImageWhenFree(dir);
        else await rm(dir, { recursive: true, force: true });
      }
      if (!s?.pausedImage && readdirSync(path.join(base, id)).length === 0) await rm(path.join(base, id), { recursive: true, force: true });
    }
  }

  toSandbox(s: SandboxRecord): Sandbox {
    return {
      templateID: s.templateId,
      sandboxID: s.sandboxId,
      alias: s.alias,
      clientID: 'tensor-box',
      envdVersion: ENVD_VERSION,
      envdAccessToken: s.envdAccessToken,
      trafficAccessToken: s.network?.trafficAccessToken ?? null,
      domain: this.opts.domain(),
    };
  }

  toListed(s: SandboxRecord): ListedSandbox {
    return {
      templateID: s.templateId,
      alias: s.alias,
      sandboxID: s.sandboxId,
      clientID: 'tensor-box',
      startedAt: new Date(s.startedAt).toISOString(),
      endAt: new Date(s.endAt).toISOString(),
      cpuCount: s.cpuCount,
      memoryMB: s.memoryMB,
      diskSizeMB: s.diskSizeMB,
      metadata: s.metadata,
      state: s.state,
      envdVersion: ENVD_VERSION,
    };
  }
}
