/**
 * Pause and resume. Pause: `running → pausing → paused` — with memory (the default) the processes are checkpointed
 * into a new pause generation of the snapshot store; filesystem-only (`memory` false, E2B's `keepMemory: false`)
 * the processes end and only the writable layer goes there. Either way the host resources are released, and the
 * record says which (`pauseMode`, written with the move into `pausing` so a restart knows); a failed pause goes back
 * to `running` and says why. Resume: `paused → resuming → running` — a memory pause is restored where it stopped; a
 * filesystem-only one (or any, when the caller asks `memory: false`) boots afresh on its files (boot.ts), holding a
 * running slot of the team's quota; a failed resume goes back to `paused`.
 *
 * Concurrency: the move into `pausing`/`resuming` is the lock (transitions.ts). A pause that finds another operation
 * under way answers 409. A resume waits for one to settle and then acts on what it finds — resumes are what clients
 * (connect, every request to an auto-resume sandbox) send many of at once, and they must all get a running sandbox:
 * the first moves the record to `resuming`, the others wait for `running` and only extend the timeout.
 */
import { hasCheckpointer, hasFilesystemPauser, type Driver } from '@tensor-box/runtime';
import { ApiError, notFound } from '../errors.js';
import { envdInit } from '../services/envd-client.js';
import { driverFailure, egressOf, runtimeOf } from '../services/sandbox-records.js';
import type { PauseMode, SandboxRecord } from '../store/store.js';
import { ownerTeam } from '../teams/caller.js';
import { bootPaused, bootsOnResume } from './boot.js';
import { withCheckpoint } from './checkpoint-guard.js';
import type { LifecycleContext } from './context.js';
import { isTransitional } from './states.js';
import { finish, move, settle } from './transitions.js';

/** The 400 for a filesystem-only pause or boot on a runtime that has none (the microvm driver). */
export function noFilesystemPause(driver: Driver): ApiError {
  const msg = `the ${driver.name} runtime cannot pause or resume sandboxes filesystem-only (keepMemory: false)`;
  return new ApiError('invalid_argument', msg);
}

/**
 * Pauses a running sandbox (`reason`: `requested`, or the sweep's `timeout`); `memory` false: filesystem-only (the
 * processes end, the files are kept; resume boots afresh).
 */
export async function pause(ctx: LifecycleContext, sandboxId: string, reason = 'requested', memory = true) {
  const driver = ctx.driverOf(await ctx.get(sandboxId));
  const image = ctx.opts.snapshots.newPauseImage(sandboxId);
  const t0 = Date.now();
  const mode: PauseMode = memory ? 'memory' : 'filesystem';
  const op = {
    verb: 'be paused',
    via: 'pausing' as const,
    viaPatch: { pauseMode: mode },
    capable: memory ? hasCheckpointer(driver) : hasFilesystemPauser(driver),
    incapable: memory ? `the ${driver.name} runtime cannot pause sandboxes` : noFilesystemPause(driver),
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
      try {
        if (!memory && hasFilesystemPauser(driver)) {
          await ctx.opts.prom.time('driver.pauseFilesystem', () => driver.pauseFilesystem(sandboxId, image));
        } else if (memory && hasCheckpointer(driver)) {
          await ctx.opts.prom.time('driver.checkpoint', () => driver.checkpoint(sandboxId, image));
        }
      } catch (err) {
        ctx.event(sandboxId, 'error', `pause failed; the sandbox keeps running: ${(err as Error).message}`);
        throw driverFailure(err, `cannot pause sandbox '${sandboxId}'`);
      }
    },
    () => ({ state: 'paused', patch: pausedPatch(ctx, image) }),
  );
  await ctx.stoppedHere(sandboxId, (await ctx.store.getSandbox(sandboxId))?.volumeMounts);
  const how = memory ? '' : ', filesystem only';
  ctx.event(sandboxId, 'info', `sandbox paused (${reason}${how}) in ${Date.now() - t0} ms`);
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
 * Resumes a paused sandbox where it stopped: the same processes, memory and files — or, paused filesystem-only or
 * with `memory` false, a fresh boot on its files. The timeout restarts (the given one, else the sandbox's own).
 * Resuming a running sandbox only extends its timeout.
 */
export async function resume(
  ctx: LifecycleContext,
  sandboxId: string,
  timeoutMs?: number,
  memory?: boolean,
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
    const driver = ctx.driverOf(paused);
    const boot = bootsOnResume(paused, memory);
    if (boot && !hasFilesystemPauser(driver)) throw noFilesystemPause(driver);
    if (!boot && !hasCheckpointer(driver)) {
      throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot resume sandboxes`);
    }
    ctx.opts.hostDisk?.ensureRoom(paused.diskSizeMB, `sandbox ${sandboxId}`);
    // A boot says so in the record (a restart then finishes setting its agent up); a failure puts the mode back.
    const resuming = { nodeId: ctx.opts.nodeId, ...(boot ? { pauseMode: 'filesystem' as const } : {}) };
    // Lost the race to another resume (or a kill): act on what it left, as if we had come after it.
    if (!(await move(ctx.store, paused, 'resuming', resuming))) {
      s = await ctx.get(sandboxId);
      continue;
    }
    // Ours now: read it again, so the image restored is the one the record names at this moment.
    const held = await ctx.store.getSandbox(sandboxId);
    if (held?.state !== 'resuming' || !held.pausedImage) {
      throw new ApiError('internal', `sandbox '${sandboxId}' changed under a resume`);
    }
    const back = { nodeId: undefined, pauseMode: paused.pauseMode };
    return { sandbox: await restorePaused(ctx, held, { timeout, timeoutMs, boot, back }), resumed: true };
  }
}

/** How a resume ends: the timeout, whether it boots, and the record's fields should it fail. */
interface ResumePlan {
  timeout: number;
  timeoutMs?: number;
  boot: boolean;
  back: Partial<SandboxRecord>;
}

/**
 * Restores (or boots) the checkpoint of a sandbox this call moved to `resuming` (holding a running slot); paused on
 * failure.
 */
async function restorePaused(ctx: LifecycleContext, s: SandboxRecord, p: ResumePlan): Promise<SandboxRecord> {
  const sandboxId = s.sandboxId;
  const held = s; // in `resuming`, on this node
  const driver = ctx.driverOf(s);
  const { timeout, timeoutMs } = p;
  const t0 = Date.now();
  let patch: Partial<SandboxRecord>;
  let back = p.back;
  try {
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
        // Its volumes are mounted here again (the checkpoint names where; restore and boot bind them back).
        const mounts = await ctx.attachVolumes(sandboxId, s.volumeMounts);
        try {
          let info;
          if (p.boot) {
            const retry = ctx.opts.snapshots.newPauseImage(sandboxId);
            // Should the agent's set-up fail, the files are paused again into `retry` (the old image's layer is used).
            back = { nodeId: undefined, pauseMode: 'filesystem', pausedImage: retry };
            info = await bootPaused(ctx, s, { ...spec, mounts }, s.pausedImage!, retry);
          } else {
            if (!hasCheckpointer(driver)) throw new ApiError('internal', 'the runtime lost its checkpointer');
            const restore = () => driver.restore({ ...spec, mounts }, s.pausedImage!, { move: true });
            info = await ctx.opts.prom.time('driver.restore', restore);
            // The agent's /init carries the time: a restored VM's clock is the one it was paused with (envd sets it).
            await envdInit(info.envdUrl, { currentToken: s.envdAccessToken }).catch((err: Error) =>
              ctx.log(`clock hand-over to ${sandboxId} after resume failed: ${err.message}`),
            );
          }
          const done = { runtime: runtimeOf(info), pausedImage: undefined, pauseMode: undefined };
          return { ...done, endAt: Date.now() + timeout };
        } catch (err) {
          await ctx.stoppedHere(sandboxId, s.volumeMounts);
          throw err;
        }
      } catch (err) {
        ctx.event(sandboxId, 'error', `resume failed; the sandbox stays paused: ${(err as Error).message}`);
        throw driverFailure(err, `cannot resume sandbox '${sandboxId}'`);
      }
    });
  } catch (err) {
    // A boot that never started gives the layer back to the old image: keep naming it unless a re-pause made one.
    if (back.pausedImage && !ctx.opts.snapshots.isComplete(back.pausedImage)) back = p.back;
    await finish(ctx.store, held, 'paused', back);
    if (back !== p.back) void ctx.removeImageWhenFree(s.pausedImage!);
    throw err;
  }
  if (timeoutMs !== undefined) patch.timeoutMs = timeoutMs;
  await finish(ctx.store, held, 'running', patch);
  void ctx.removeImageWhenFree(s.pausedImage!);
  const how = p.boot ? ' (booted afresh on its files)' : '';
  ctx.event(sandboxId, 'info', `sandbox resumed${how} in ${Date.now() - t0} ms`);
  void ctx.opts.metrics.sample(s);
  return { ...s, ...patch, state: 'running', nodeId: ctx.opts.nodeId } as SandboxRecord;
}
