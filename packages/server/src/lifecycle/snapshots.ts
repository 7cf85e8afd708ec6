/**
 * Snapshots and forks of a running sandbox. Both checkpoint it under `snapshotting` (checkpoint-guard.ts: it keeps
 * running, frozen for the moment of the dump, and is back to `running` after). A snapshot's image goes to the
 * snapshot store with a record whose ID (or name) works as a templateID; a fork's image is temporary: `count` new
 * sandboxes start from it (start-sandbox.ts) and it is deleted once none reads from it.
 */
import { hasCheckpointer } from '@tensor-box/runtime';
import path from 'node:path';
import type { components } from '../api/schema.gen.js';
import { ApiError, invalid } from '../errors.js';
import { randomId } from '../ids.js';
import { decodeCursor, pageOf } from '../services/pagination.js';
import { driverFailure, type ImageStart } from '../services/sandbox-records.js';
import { DEFAULT_USER, DEFAULT_WORKDIR } from '../services/template-service.js';
import type { SandboxRecord, SnapshotRecord } from '../store/store.js';
import { canSee, listScope, ownerTeam, requireVisible } from '../teams/caller.js';
import { withCheckpoint, type CheckpointOp } from './checkpoint-guard.js';
import type { LifecycleContext } from './context.js';
import { snapshotToApi, type Presenters } from './presenters.js';
import { startSandbox } from './start-sandbox.js';

type SnapshotInfo = components['schemas']['SnapshotInfo'];
type ForkResult = components['schemas']['SandboxForkResult'];

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** What a checkpoint of a sandbox carries over to the sandboxes started from it. */
function savedWith(s: SandboxRecord) {
  const { cpuCount, memoryMB, diskSizeMB, envVars, envdAccessToken, allowInternetAccess, volumeMounts } = s;
  // Volumes are shared, not copied: a sandbox started from the copy mounts the same volumes.
  return { cpuCount, memoryMB, diskSizeMB, envVars, envdAccessToken, allowInternetAccess, volumeMounts };
}

/** The opening checks of a snapshot or fork (a copy that leaves the sandbox running). */
function copyOp(ctx: LifecycleContext, sandboxId: string, verb: 'snapshot' | 'fork'): CheckpointOp {
  const driver = ctx.driver;
  return {
    verb: `be ${verb === 'fork' ? 'forked' : 'snapshotted'}`,
    via: 'snapshotting',
    capable: hasCheckpointer(driver),
    incapable: `the ${driver.name} runtime cannot ${verb} sandboxes`,
    notRunning: (s) =>
      new ApiError('failed_precondition', `sandbox '${sandboxId}' is ${s.state}; resume it to ${verb} it`),
    checkDisk: verb === 'snapshot',
    quiesce: true,
  };
}

/** Checkpoints the running sandbox into `imageDir`, leaving it running; returns its record as it was. */
async function copyOf(ctx: LifecycleContext, sandboxId: string, verb: 'snapshot' | 'fork', imageDir: string) {
  return withCheckpoint(ctx, sandboxId, copyOp(ctx, sandboxId, verb), async (s) => {
    const driver = ctx.driver;
    if (!hasCheckpointer(driver)) throw new ApiError('internal', 'no checkpointer');
    try {
      await ctx.opts.prom.time('driver.snapshot', () => driver.checkpoint(sandboxId, imageDir, { leaveRunning: true }));
    } catch (err) {
      throw driverFailure(err, `cannot ${verb} sandbox '${sandboxId}'`);
    }
    return s;
  });
}

/** A snapshot by ID or name that the caller may use (names are not unique across teams: the caller's own wins). */
export async function visibleSnapshot(ctx: LifecycleContext, idOrName: string): Promise<SnapshotRecord | undefined> {
  const found = await ctx.store.findSnapshot(idOrName);
  if (!found || canSee(found.teamId)) return found;
  return (await ctx.store.listSnapshots({ name: idOrName, teamId: listScope(), limit: 1 }))[0];
}

/** Saves a running sandbox's memory, processes and files as a snapshot while it keeps running. */
export async function createSnapshot(ctx: LifecycleContext, sandboxId: string, name?: string): Promise<SnapshotInfo> {
  if (name !== undefined && !SNAPSHOT_NAME.test(name)) {
    const rule = 'letters, digits, dot, dash and underscore, starting with a letter or digit, at most 63 characters';
    throw invalid(`name: ${rule}`);
  }
  const snapshotId = `snap${randomId(16)}`;
  const imageDir = ctx.opts.snapshots.snapshotImage(snapshotId);
  const s = await copyOf(ctx, sandboxId, 'snapshot', imageDir);
  const rec: SnapshotRecord = {
    snapshotId,
    sandboxId,
    name,
    templateId: s.templateId,
    createdAt: Date.now(),
    imageDir,
    ...savedWith(s),
    teamId: s.teamId,
  };
  await ctx.store.insertSnapshot(rec);
  ctx.event(sandboxId, 'info', `snapshot ${snapshotId} taken${name ? ` (${name})` : ''}`);
  return snapshotToApi(rec);
}

export async function listSnapshots(
  ctx: LifecycleContext,
  q: { sandboxID?: string; name?: string; limit?: number; nextToken?: string },
): Promise<{ items: SnapshotInfo[]; nextToken?: string }> {
  const limit = q.limit ?? 100;
  const after = q.nextToken
    ? decodeCursor<{ createdAt: number; snapshotId: string }>(
        q.nextToken,
        (v) => typeof v?.createdAt === 'number' && typeof v?.snapshotId === 'string',
      )
    : undefined;
  const filter = { sandboxId: q.sandboxID, name: q.name, after, limit: limit + 1, teamId: listScope() };
  const rows = await ctx.store.listSnapshots(filter);
  return pageOf(rows, limit, snapshotToApi, (r) => ({ createdAt: r.createdAt, snapshotId: r.snapshotId }));
}

export async function deleteSnapshot(ctx: LifecycleContext, idOrName: string): Promise<void> {
  const r = requireVisible(await visibleSnapshot(ctx, idOrName), `snapshot '${idOrName}'`);
  await ctx.store.deleteSnapshot(r.snapshotId);
  await ctx.removeImageWhenFree(r.imageDir);
}

/**
 * Live copies of a running sandbox: one checkpoint of the source, then `count` new sandboxes started from it with
 * the source's memory, processes, files, env vars and metadata. Each copy succeeds or fails on its own.
 */
export async function fork(
  ctx: LifecycleContext,
  present: Presenters,
  sandboxId: string,
  opts: { count?: number; timeoutMs?: number },
): Promise<ForkResult[]> {
  const count = opts.count ?? 1;
  const name = `${sandboxId}-${Date.now().toString(36)}-${randomId(6)}`;
  const tmp = path.join(ctx.opts.snapshots.forkImages(ctx.opts.nodeId), name);
  const s = await copyOf(ctx, sandboxId, 'fork', tmp);
  const image = forkImage(s, tmp);
  const out: ForkResult[] = [];
  try {
    for (let i = 0; i < count; i++) {
      try {
        const r = await startSandbox(ctx, { kind: 'image', image }, forkRequest(s, opts.timeoutMs));
        out.push({ sandbox: present.sandbox(r) });
      } catch (err) {
        const e = driverFailure(err, `fork ${i + 1} of ${count}`);
        out.push({ error: { code: e.status, message: e.message } });
      }
    }
  } finally {
    void ctx.removeImageWhenFree(tmp);
  }
  return out;
}

function forkImage(s: SandboxRecord, imageDir: string): ImageStart {
  return {
    imageDir,
    templateId: s.templateId,
    ...savedWith(s),
    user: DEFAULT_USER,
    workdir: DEFAULT_WORKDIR,
    what: `fork of ${s.sandboxId}`,
    fields: { snapshotId: `fork of ${s.sandboxId}` },
  };
}

/** A fork gets its source's settings (a new access token when the source has one). */
function forkRequest(s: SandboxRecord, timeoutMs: number | undefined) {
  const n = s.network;
  const network = n && {
    allowPublicTraffic: n.allowPublicTraffic,
    maskRequestHost: n.maskRequestHost,
    allowOut: n.allowOut,
    denyOut: n.denyOut,
  };
  return {
    timeoutMs,
    metadata: s.metadata,
    secure: !!s.envdAccessToken,
    network,
    autoPause: s.onTimeout === 'pause',
    autoResume: { enabled: s.autoResume },
    teamId: s.teamId ?? ownerTeam(),
  };
}
