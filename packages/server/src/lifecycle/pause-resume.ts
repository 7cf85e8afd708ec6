/**
 * Pause and resume. Pause: `running → pausing → paused` — the processes are checkpointed with their memory into a
 * new pause generation of the snapshot store and the host resources released; a failed checkpoint goes back to
 * `running` and says why. Resume: `paused → resuming → running` — the checkpoint is restored (its writable layer
 * moved back) on this node, holding a running slot of the team's quota; a failed restore goes back to `paused`.
 *
 * Concurrency: the move into `pausing`/`resuming` is the lock (transitions.ts). A pause that finds another operation
 * under way answers 409. A resume waits for one to settle and then acts on what it finds — resumes are what clients
 * (connect, every request to an auto-resume sandbox) send many of at once, and they must all get a running sandbox:
 * the first moves the record to `resuming`, the others wait for `running` and only extend the timeout.
 */
import { hasCheckpointer } from '@tensor-box/runtime';
import { ApiError, notFound } from '../errors.js';
import { driverFailure, egressOf, runtimeOf } from '../services/sandbox-records.js';
import type { SandboxRecord } from '../store/store.js';
import { ownerTeam } from '../teams/caller.js';
import { withCheckpoint } from './checkpoint-guard.js';
import type { LifecycleContext } from './context.js';
import { isTransitional } from './states.js';
import { finish, move, settle } from './transitions.js';

/** Pauses a running sandbox (`reason`: `requested`, or the sweep's `timeout`). */
export async function pause(ctx: LifecycleContext, sandboxId: string, reason = 'requested'): Promise<void> {
  const driver = ctx.driver;
  const image = ctx.opts.snapshots.newPauseImage(sandboxId);
  const t0 = Date.now();
  const op = {
    verb: 'be paused',
    via: 'pausing' as const,
    capable: hasCheckpointer(driver),
    incapable: `the ${driver.name} runtime cannot pause sandboxes`,
    notRunning: () => new ApiError('conflict', `sandbox '${sandboxId}' is already paused`),
    // A requested pause must fit the team's disk quota; a timeout's pause goes ahead (it frees a running slot).
    checkDisk: reason === 'requested',
    quiesce: true,
  };
  await withCheckpoint(
    ctx,
    sandboxId,
    op,
    async () => {
      if (!hasCheckpointer(driver)) return;
      try {
        await ctx.opts.prom.time('driver.checkpoint', () => driver.checkpoint(sandboxId, image));
      } catch (err) {
        ctx.event(sandboxId, 'error', `pause failed; the sandbox keeps running: ${(err as Error).message}`);
        throw driverFailure(err, `cannot pause sandbox '${sandboxId}'`);
      }
    },
    () => ({ state: 'paused', patch: pausedPatch(ctx, image) }),
  );
  ctx.stoppedHere(sandboxId, (await ctx.store.getSandbox(sandboxId))?.volumeMounts);
  ctx.event(sandboxId, 'info', `sandbox paused (${reason}) in ${Date.now() - t0} ms`);
}

/** A lost sandbox (its node died) cannot be resumed: nothing of its processes or memory was saved. */
export function lostError(s: SandboxRecord): ApiError {
  return new ApiError('failed_precondition', `sandbox '${s.sandboxId}' is lost: ${s.stateReason ?? 'its node died'}`);
}

/** The record of a sandbox whose processes and layer are saved in `image`: no runtime, no node, kept for retention. */
export function pausedPatch(ctx: LifecycleContext, image: string): Partial<SandboxRecord> {
  return { runtime: undefined, pausedImage: image, nodeId: undefined, endAt: Date.now() + ctx.opts.pausedRetentionMs };
}

/**
 * Resumes a paused sandbox where it stopped: the same processes, memory and files. The timeout restarts (the given
 * one, else the sandbox's own). Resuming a running sandbox only extends its timeout.
 */
export async function resume(
  ctx: LifecycleContext,
  sandboxId: string,
  timeoutMs?: number,
): Promise<{ sandbox: SandboxRecord; resumed: boolean }> {
  let s: SandboxRecord | undefined = await ctx.get(sandboxId);
  for (;;) {
    if (s.state === 'killing') throw notFound(`sandbox '${sandboxId}' not found`);
    if (s.state === 'lost') throw lostError(s);
    if (isTransitional(s.state)) {
      s = await settle(ctx.store, sandboxId, 'be resumed');
      if (!s) throw notFound(`sandbox '${sandboxId}' not found`);
      continue;
    }
    const timeout = timeoutMs ?? s.timeoutMs;
    if (s.state === 'running') {
      const endAt = Math.max(s.endAt, Date.now() + timeout);
      await ctx.store.updateSandbox(sandboxId, { endAt });
      return { sandbox: { ...s, endAt }, resumed: false };
    }
    const paused: SandboxRecord = s;
    if (!paused.pausedImage || !ctx.opts.snapshots.isComplete(paused.pausedImage)) {
      throw new ApiError('not_found', `the saved state of sandbox '${sandboxId}' is gone`);
    }
    const driver = ctx.driver;
    if (!hasCheckpointer(driver)) {
      throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot resume sandboxes`);
    }
    ctx.opts.hostDisk?.ensureRoom(paused.diskSizeMB, `sandbox ${sandboxId}`);
    // Lost the race to another resume (or a kill): act on what it left, as if we had come after it.
    if (!(await move(ctx.store, paused, 'resuming', { nodeId: ctx.opts.nodeId }))) {
      s = await ctx.get(sandboxId);
      continue;
    }
    // Ours now: read it again, so the image restored is the one the record names at this moment.
    const held = await ctx.store.getSandbox(sandboxId);
    if (held?.state !== 'resuming' || !held.pausedImage) {
      throw new ApiError('internal', `sandbox '${sandboxId}' changed under a resume`);
    }
    return { sandbox: await restorePaused(ctx, held, timeout, timeoutMs), resumed: true };
  }
}

/** Restores the checkpoint of a sandbox this call moved to `resuming` (holding a running slot); paused on failure. */
async function restorePaused(
  ctx: LifecycleContext,
  s: SandboxRecord,
  timeout: number,
  timeoutMs?: number,
): Promise<SandboxRecord> {
  const sandboxId = s.sandboxId;
  const held = s; // in `resuming`, on this node
  const driver = ctx.driver;
  const t0 = Date.now();
  let patch: Partial<SandboxRecord>;
  try {
    if (!hasCheckpointer(driver)) throw new ApiError('internal', 'the runtime lost its checkpointer');
    patch = await ctx.withRunSlot(s.teamId ?? ownerTeam(), s, async () => {
      const spec = {
        sandboxId,
        layers: [], // the checkpoint's own layers
        cpuCount: s.cpuCount,
        memoryMB: s.memoryMB,
        diskMB: s.diskSizeMB,
        internetAccess: s.allowInternetAccess,
        hostname: sandboxId,
        egress: egressOf(s),
      };
      try {
        // Its volumes are mounted here again (the checkpoint names where; restore binds them back).
        const mounts = await ctx.attachVolumes(sandboxId, s.volumeMounts);
        try {
          const restore = () => driver.restore({ ...spec, mounts }, s.pausedImage!, { move: true });
          const info = await ctx.opts.prom.time('driver.restore', restore);
          return { runtime: runtimeOf(info), pausedImage: undefined, endAt: Date.now() + timeout };
        } catch (err) {
          ctx.stoppedHere(sandboxId, s.volumeMounts);
          throw err;
        }
      } catch (err) {
        ctx.event(sandboxId, 'error', `resume failed; the sandbox stays paused: ${(err as Error).message}`);
        throw driverFailure(err, `cannot resume sandbox '${sandboxId}'`);
      }
    });
  } catch (err) {
    await finish(ctx.store, held, 'paused', { nodeId: undefined });
    throw err;
  }
  if (timeoutMs !== undefined) patch.timeoutMs = timeoutMs;
  await finish(ctx.store, held, 'running', patch);
  void ctx.removeImageWhenFree(s.pausedImage!);
  ctx.event(sandboxId, 'info', `sandbox resumed in ${Date.now() - t0} ms`);
  void ctx.opts.metrics.sample(sandboxId);
  return { ...s, ...patch, state: 'running', nodeId: ctx.opts.nodeId } as SandboxRecord;
}
