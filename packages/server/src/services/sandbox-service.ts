/**
 * The sandbox API's operations, one public method each; routes only parse and call these. The lifecycle itself lives
 * in ../lifecycle/ — one module per operation, reading top to bottom: start-sandbox.ts (create, from a template, a
 * snapshot or a warm image), pause-resume.ts, kill.ts, snapshots.ts (snapshot, fork), checkpoint-guard.ts (the
 * opening steps pause, snapshot, fork and commit share), expiry.ts (timeouts, the sweep, connect), reconcile.ts
 * (server start), presenters.ts (records → wire shapes), states.ts and transitions.ts (the state machine: every state
 * change is a conditional write in the store, which is what serialises operations on one sandbox, across nodes too).
 * This class adds the read-only operations (list, detail, metrics, logs), network rules, and commit.
 */
import { hasCheckpointer, hasEgressController, hasLayerCapturer } from '@tensor-box/runtime';
import type { components } from '../api/schema.gen.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { secondsToMs } from '../api/units.js';
import type { LogLevel, SandboxRecord } from '../store/store.js';
import { canSee, listScope, ownerTeam } from '../teams/caller.js';
import { withCheckpoint } from '../lifecycle/checkpoint-guard.js';
import { LifecycleContext, type SandboxServiceOptions } from '../lifecycle/context.js';
import { Expiry } from '../lifecycle/expiry.js';
import { kill } from '../lifecycle/kill.js';
import { pause, resume } from '../lifecycle/pause-resume.js';
import { metricToApi, Presenters, type SandboxMetric } from '../lifecycle/presenters.js';
import { reconcile, type ReconcileResult } from '../lifecycle/reconcile.js';
import * as snapshots from '../lifecycle/snapshots.js';
import { startSandbox, type StartRequest } from '../lifecycle/start-sandbox.js';
import { isTransitional, storedStates, wireState, type WireState } from '../lifecycle/states.js';
import { busy, writeWhile } from '../lifecycle/transitions.js';
import { decodeCursor, pageOf, parseMetadataQuery } from './pagination.js';
import { driverFailure, egressFromRequest, fromSnapshot } from './sandbox-records.js';
import { templateEnvironment } from './template-service.js';

export type { SandboxServiceOptions } from '../lifecycle/context.js';

type Api = components['schemas'];

/** GET /v2/sandboxes' query. */
export interface ListQuery {
  metadata?: string;
  state?: WireState[];
  order?: 'asc' | 'desc';
  startedAfter?: string;
  template?: string;
  limit?: number;
  nextToken?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** A denied-connection log entry at most this often per sandbox (the ones in between are counted). */
const DENIED_LOG_INTERVAL_MS = 5000;

export class SandboxService {
  private readonly ctx: LifecycleContext;
  private readonly expiry: Expiry;
  private readonly present: Presenters;
  /** Rate limit of denied-connection log entries, per sandbox (bookkeeping of this process, not a lock). */
  private denied = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(opts: SandboxServiceOptions) {
    this.ctx = new LifecycleContext(opts);
    this.present = new Presenters(opts.domain);
    this.expiry = new Expiry(this.ctx, {
      kill: (id, reason, onlyFrom) => this.killIf(id, reason, onlyFrom),
      pause: (id, reason) => this.pause(id, reason),
      resume: (id, timeoutMs) => resume(this.ctx, id, timeoutMs),
    });
  }

  /** POST /sandboxes: a template ID or name, a snapshot ID or name, or a template with a warm image. */
  async create(request: Api['NewSandbox']): Promise<Api['Sandbox']> {
    const { timeout, ...rest } = request;
    const req: StartRequest = { ...rest, timeoutMs: secondsToMs(timeout), teamId: ownerTeam() };
    let template;
    try {
      template = await this.ctx.opts.templates.resolve(request.templateID);
    } catch (err) {
      // A snapshot ID or name works as a template: the sandbox starts with the snapshot's memory and processes.
      const notFound = err instanceof ApiError && err.kind === 'not_found';
      const snap = notFound ? await snapshots.visibleSnapshot(this.ctx, request.templateID) : undefined;
      if (!snap) throw err;
      return this.present.sandbox(await startSandbox(this.ctx, { kind: 'image', image: fromSnapshot(snap) }, req));
    }
    const env = templateEnvironment(template);
    const warm = template.warmImage;
    // A warm image has no volumes mounted (its checkpoint could not take new ones): with volumes, a cold start.
    const cold = (request.volumeMounts?.length ?? 0) > 0;
    if (!cold && warm && hasCheckpointer(this.ctx.driver) && this.ctx.opts.snapshots.isComplete(warm)) {
      // Warm start: resume the moment the build captured, with the start command already running.
      const image = {
        imageDir: warm,
        templateId: template.templateId,
        alias: template.names[0],
        cpuCount: template.cpuCount,
        memoryMB: template.memoryMB,
        diskSizeMB: template.diskSizeMB,
        ...env,
        allowInternetAccess: true,
        what: `template ${template.templateId} (warm start)`,
        fields: { templateId: template.templateId },
      };
      return this.present.sandbox(await startSandbox(this.ctx, { kind: 'image', image, template }, req));
    }
    return this.present.sandbox(await startSandbox(this.ctx, { kind: 'template', template }, req));
  }

  /** The record of a sandbox the caller may see (any state), or NotFound. */
  get(sandboxId: string): Promise<SandboxRecord> {
    return this.ctx.get(sandboxId);
  }

  /** Whether this node acts on the sandbox: paused ones belong to every node, running ones to the node running them. */
  isMine(s: SandboxRecord): boolean {
    return this.ctx.isMine(s);
  }

  /** Refuses operations on a sandbox another node runs (its runtime is only reachable there). */
  here(s: SandboxRecord): void {
    this.ctx.here(s);
  }

  async detail(sandboxId: string): Promise<Api['SandboxDetail']> {
    const s = await this.get(sandboxId);
    // Being killed is gone already (E2B answers 404 from the moment of the kill; the teardown may take a moment).
    if (s.state === 'killing') throw notFound(`sandbox '${sandboxId}' not found`);
    return this.present.detail(s);
  }

  /**
   * One page of sandboxes, newest first unless `order: 'asc'`; `template` is a template ID or name (a name that names
   * no template filters by that string as an ID, so snapshot-started sandboxes can be found by their template ID).
   */
  async list(query: ListQuery): Promise<Page<Api['ListedSandbox']>> {
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
    const templateId = query.template === undefined ? undefined : await this.ctx.opts.templates.idOf(query.template);
    const rows = await this.ctx.store.listSandboxes({
      states: storedStates(query.state?.length ? query.state : ['running', 'paused']),
      metadata: parseMetadataQuery(query.metadata),
      templateId,
      startedAfterMs,
      order: query.order,
      after,
      limit: limit + 1,
      teamId: listScope(),
    });
    const key = (s: SandboxRecord) => ({ startedAt: s.startedAt, sandboxId: s.sandboxId });
    return pageOf(rows, limit, (s) => this.present.listed(s), key);
  }

  /** Kills a sandbox (waits for an operation under way on it first; concurrent kills all succeed). */
  async kill(sandboxId: string, reason = 'killed by request'): Promise<void> {
    await this.killIf(sandboxId, reason);
  }

  private async killIf(sandboxId: string, reason: string, onlyFrom?: SandboxRecord['state']): Promise<boolean> {
    const done = await kill(this.ctx, sandboxId, reason, onlyFrom);
    this.expiry.forget(sandboxId);
    this.denied.delete(sandboxId);
    return done;
  }

  /** Pauses a running sandbox; 409 when it is paused already or another operation is under way on it. */
  async pause(sandboxId: string, reason = 'requested'): Promise<void> {
    await pause(this.ctx, sandboxId, reason);
    this.expiry.forget(sandboxId);
  }

  /** Resumes a paused sandbox (after an operation under way settles); a running one only gets its timeout extended. */
  async resume(sandboxId: string, timeoutMs?: number): Promise<SandboxRecord> {
    return (await resume(this.ctx, sandboxId, timeoutMs)).sandbox;
  }

  /** POST /resume: like `resume`, but a sandbox the API shows as running is a 409 (E2B's answer). */
  async resumePaused(sandboxId: string, timeoutMs?: number): Promise<SandboxRecord> {
    const cur = await this.get(sandboxId);
    if (wireState(cur.state) === 'running') {
      throw new ApiError('conflict', `sandbox '${cur.sandboxId}' is already running`);
    }
    return this.resume(sandboxId, timeoutMs);
  }

  /** Connects to a sandbox: extends its timeout; a paused sandbox is resumed (status 201). */
  async connect(sandboxId: string, timeoutMs?: number): Promise<{ resumed: boolean; sandbox: Api['Sandbox'] }> {
    const r = await this.expiry.connect(sandboxId, timeoutMs);
    return { resumed: r.resumed, sandbox: this.present.sandbox(r.sandbox) };
  }

  setTimeout(sandboxId: string, timeoutMs: number): Promise<void> {
    return this.expiry.setTimeout(sandboxId, timeoutMs);
  }

  refresh(sandboxId: string, durationMs?: number): Promise<void> {
    return this.expiry.refresh(sandboxId, durationMs);
  }

  /** Activity seen (ingress traffic): pushes endAt to at least now + timeout. */
  touch(s: SandboxRecord): Promise<void> {
    return this.expiry.touch(s);
  }

  /** One pass of the lifecycle sweep (timeouts and retention). */
  sweep(now = Date.now()): Promise<void> {
    return this.expiry.sweep(now);
  }

  /** At server start: records matched with the runtime, crashes mid-operation finished (lifecycle/reconcile.ts). */
  reconcile(): Promise<ReconcileResult> {
    return reconcile(this.ctx);
  }

  createSnapshot(sandboxId: string, name?: string): Promise<Api['SnapshotInfo']> {
    return snapshots.createSnapshot(this.ctx, sandboxId, name);
  }

  listSnapshots(q: Parameters<typeof snapshots.listSnapshots>[1]): Promise<Page<Api['SnapshotInfo']>> {
    return snapshots.listSnapshots(this.ctx, q);
  }

  deleteSnapshot(idOrName: string): Promise<void> {
    return snapshots.deleteSnapshot(this.ctx, idOrName);
  }

  fork(sandboxId: string, opts: { count?: number; timeoutMs?: number }): Promise<Api['SandboxForkResult'][]> {
    return snapshots.fork(this.ctx, this.present, sandboxId, opts);
  }

  /**
   * Turns the running sandbox's filesystem into a new template (it keeps running, frozen for the copy under
   * `snapshotting`); the build runs in the background (poll its status).
   */
  async commit(sandboxId: string, req: Api['SandboxCommitRequest']): Promise<Api['TemplateRequestResponse']> {
    const driver = this.ctx.driver;
    const s = await this.get(sandboxId);
    if (s.state === 'killing') throw notFound(`sandbox '${sandboxId}' not found`);
    if (isTransitional(s.state)) throw busy(sandboxId, s.state, 'be committed');
    if (s.state !== 'running') {
      throw new ApiError('conflict', `sandbox '${sandboxId}' is ${s.state}; resume it before committing it`);
    }
    this.here(s);
    if (!hasLayerCapturer(driver)) {
      throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot commit sandboxes`);
    }
    const op = {
      verb: 'be committed',
      via: 'snapshotting' as const,
      capable: true,
      incapable: '',
      notRunning: (cur: SandboxRecord) =>
        new ApiError('conflict', `sandbox '${sandboxId}' was ${cur.state} before its filesystem could be copied`),
      checkDisk: false,
      quiesce: false,
    };
    // The copy runs later, in the build job: the guard checks the sandbox again then.
    return this.ctx.opts.templates.commit(s, req, (dest) =>
      withCheckpoint(this.ctx, sandboxId, op, async () => {
        await driver.captureLayer(sandboxId, dest, { leaveRunning: true });
        this.ctx.event(sandboxId, 'info', 'filesystem committed as a template layer');
      }),
    );
  }

  /**
   * Replaces a sandbox's outbound rules (E2B's PUT /sandboxes/{id}/network): in force at once on a running sandbox
   * (open connections to newly denied addresses stop), kept for a paused one (applied on resume). Invalid entries fail
   * with 400 before anything changes; 409 while another operation is under way on the sandbox. The record is written
   * first (conditionally on the state read), so a pause that starts meanwhile resumes with the new rules.
   */
  async updateNetwork(
    sandboxId: string,
    req: { allowOut?: unknown; denyOut?: unknown; allow_internet_access?: unknown },
  ): Promise<void> {
    const rules = egressFromRequest(req);
    // E2B: allow_internet_access false is denyOut 0.0.0.0/0 (allowOut still wins).
    if (req.allow_internet_access === false && !rules.denyOut.includes('0.0.0.0/0')) rules.denyOut.push('0.0.0.0/0');
    const s = await this.get(sandboxId);
    if (s.state === 'killing') throw notFound(`sandbox '${sandboxId}' not found`);
    if (isTransitional(s.state)) throw busy(sandboxId, s.state, 'change its network rules');
    this.here(s);
    const driver = this.ctx.driver;
    if (s.state === 'running' && !hasEgressController(driver)) {
      throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot change network rules`);
    }
    const network = { allowPublicTraffic: true, ...s.network, allowOut: rules.allowOut, denyOut: rules.denyOut };
    // Conditional on the state read: fails (409) when another operation got hold of the sandbox meanwhile.
    await writeWhile(this.ctx.store, s, 'change its network rules', { network });
    if (s.state === 'running' && hasEgressController(driver)) {
      await driver.updateEgress(sandboxId, rules).catch(async (err) => {
        await this.ctx.store.transitionSandbox(sandboxId, ['running', 'pausing'], { network: s.network });
        throw driverFailure(err, `cannot change the network rules of sandbox '${sandboxId}'`);
      });
    }
    const now = `allowOut [${rules.allowOut.join(', ')}], denyOut [${rules.denyOut.join(', ')}]`;
    this.ctx.event(sandboxId, 'info', `network rules replaced: ${now}`);
  }

  /**
   * A connection the sandbox's egress rules denied: logged as a warning, at most one entry per sandbox every 5 s (the
   * ones in between are counted in the next entry).
   */
  egressDenied(sandboxId: string, d: { destination: string; protocol: string; port?: number }): void {
    const now = Date.now();
    const cur = this.denied.get(sandboxId) ?? { lastAt: 0, suppressed: 0 };
    if (now - cur.lastAt < DENIED_LOG_INTERVAL_MS) {
      cur.suppressed++;
      this.denied.set(sandboxId, cur);
      return;
    }
    const more = cur.suppressed ? ` (and ${cur.suppressed} more since the last entry)` : '';
    const to = `${d.destination}${d.port !== undefined ? `:${d.port}` : ''}`;
    const message = `outbound connection denied by the network rules: ${d.protocol} to ${to}${more}`;
    const fields = { source: 'network', destination: d.destination, protocol: d.protocol };
    this.ctx.opts.logs.write(sandboxId, 'warn', message, fields);
    this.denied.set(sandboxId, { lastAt: now, suppressed: 0 });
  }

  /** Metric samples between start and end (unix seconds; default: the last hour). */
  async metrics(sandboxId: string, start?: number, end?: number): Promise<SandboxMetric[]> {
    await this.get(sandboxId);
    const endMs = end !== undefined ? end * 1000 : Date.now();
    const startMs = start !== undefined ? start * 1000 : endMs - 3600_000;
    if (startMs > endMs) throw invalid('start must not be after end');
    return (await this.ctx.store.queryMetrics(sandboxId, startMs, endMs)).map(metricToApi);
  }

  /** The latest sample of each listed sandbox. */
  async latestMetrics(sandboxIds: string[]): Promise<Record<string, SandboxMetric>> {
    if (!sandboxIds.length) throw invalid('sandbox_ids must name at least one sandbox');
    const out: Record<string, SandboxMetric> = {};
    const visible = [];
    for (const id of sandboxIds) {
      if (canSee((await this.ctx.store.getSandbox(id))?.teamId ?? '\0none')) visible.push(id);
    }
    for (const m of await this.ctx.store.latestMetrics(visible)) out[m.sandboxId] = metricToApi(m);
    return out;
  }

  /** Log entries of a sandbox (live or recently killed). */
  async logs(
    sandboxId: string,
    q: { cursor?: number; limit?: number; direction?: 'forward' | 'backward'; level?: LogLevel; search?: string },
  ) {
    const live = await this.ctx.store.getSandbox(sandboxId);
    // A killed sandbox's team is the one its first (creation) entry names.
    const logs = this.ctx.opts.logs;
    const first = live ? undefined : (await logs.query(sandboxId, { limit: 1, direction: 'forward' }))[0];
    const teamId = live ? live.teamId : first?.fields.teamId;
    if (!canSee(teamId ?? (live ? undefined : '\0none'))) throw notFound(`sandbox '${sandboxId}' not found`);
    const entries = await logs.query(sandboxId, q);
    if (!entries.length && !live && q.cursor === undefined) {
      throw notFound(`sandbox '${sandboxId}' not found`);
    }
    return {
      logs: entries.map((e) => ({
        timestamp: new Date(e.timestamp).toISOString(),
        level: e.level,
        message: e.message,
        fields: e.fields,
      })),
    };
  }

  /** What create, connect and resume answer for a record. */
  toSandbox(s: SandboxRecord): Api['Sandbox'] {
    return this.present.sandbox(s);
  }

  toListed(s: SandboxRecord): Api['ListedSandbox'] {
    return this.present.listed(s);
  }
}
