/**
 * Restart reconciliation: at server start, before the API opens, the records of this node are matched with what the
 * runtime still runs (`driver.list()`, which first finishes what a crash interrupted inside the runtime: a finished
 * dump, a finished restore, a writable layer moved out). Per stored state, for a server that died at any point:
 *
 * | record       | runtime sandbox alive                 | gone, complete pause image | gone, no image |
 * |--------------|---------------------------------------|----------------------------|----------------|
 * | running      | re-adopted, running                   | paused with it             | removed (lost) |
 * | pausing      | running (the pause did not complete)  | paused with it             | removed (lost) |
 * | snapshotting | running (the copy is abandoned)       | —                          | removed (lost) |
 * | paused       | running (a resume finished)           | stays paused               | stays paused¹  |
 * | resuming     | running (the restore finished)²       | paused again               | removed (lost) |
 * | killing      | destroyed, removed (the kill goes on) | removed                    | removed        |
 * | lost         | destroyed (its node was declared dead) | its leftovers destroyed (if this node ran it)  |
 *
 * ¹ a paused record without its image is left for resume to answer 404 and for retention to delete, as before.
 * ² a fresh boot (filesystem-only resume) gets its agent set up again and its start command run (boot.ts).
 * Every driver of the server is listed (a record's isolation names the driver that runs it). Runtime sandboxes no
 * record knows (a crash mid-create) are destroyed, and pause images no record points at
 * (incomplete dumps, leftovers of deleted sandboxes) and this node's fork images are deleted.
 */
import { hasCheckpointer, type SandboxRuntimeInfo } from '@tensor-box/runtime';
import { rm } from 'node:fs/promises';
import { runtimeOf } from '../services/sandbox-records.js';
import type { Isolation, SandboxRecord } from '../store/store.js';
import type { LifecycleContext } from './context.js';
import { initBooted } from './boot.js';
import { isolationOf } from './drivers.js';
import { finishKill } from './kill.js';
import { pausedPatch } from './pause-resume.js';
import { ALL_STATES } from './states.js';
import { move } from './transitions.js';

export interface ReconcileResult {
  adopted: number;
  lost: number;
  orphans: number;
}

export async function reconcile(ctx: LifecycleContext): Promise<ReconcileResult> {
  // Every driver's live sandboxes, each with the isolation that runs it.
  const live = new Map<string, SandboxRuntimeInfo & { isolation: Isolation }>();
  for (const [isolation, driver] of ctx.drivers.all()) {
    for (const i of await driver.list()) live.set(i.sandboxId, { ...i, isolation });
  }
  const out: ReconcileResult = { adopted: 0, lost: 0, orphans: 0 };
  for (const s of await ctx.store.listSandboxes({ states: ALL_STATES })) {
    if (!ctx.isMine(s)) continue; // another node's sandbox: that node reconciles it
    const info = live.get(s.sandboxId);
    live.delete(s.sandboxId);
    const outcome = await reconcileOne(ctx, s, info);
    if (outcome === 'adopted') out.adopted++;
    if (outcome === 'lost') out.lost++;
  }
  for (const [id, { isolation }] of live) {
    out.orphans++;
    ctx.log(`destroying orphaned runtime sandbox ${id} (${isolation})`);
    await ctx
      .driverOf({ isolation })
      .destroy(id)
      .catch(() => {});
  }
  await removePartialImages(ctx);
  return out;
}

async function reconcileOne(
  ctx: LifecycleContext,
  s: SandboxRecord,
  info: (SandboxRuntimeInfo & { isolation: Isolation }) | undefined,
): Promise<'adopted' | 'lost' | 'kept'> {
  const id = s.sandboxId;
  if (s.state === 'lost') {
    // Declared lost while this node was away (cluster/lost.ts): its local copy is given up, not fought over.
    // Also when the runtime does not list it: a crash may have left its host objects (disk, netns) behind.
    if (info || s.nodeId === ctx.opts.nodeId)
      await Promise.resolve()
        .then(() => ctx.driverOf(s).destroy(id))
        .catch(() => {});
    return 'kept';
  }
  if (s.state === 'killing') {
    await finishKill(ctx, s);
    return 'kept';
  }
  if (info) {
    // Running — also when a resume (or a restore of an interrupted resume) finished while the server was down.
    const wasPaused = s.state === 'paused' || s.state === 'resuming';
    const patch: Partial<SandboxRecord> = { runtime: runtimeOf(info), pausedImage: undefined, nodeId: ctx.opts.nodeId };
    // The driver that lists it runs it (a record from before isolation was recorded learns its isolation here).
    if (info.isolation !== isolationOf(s)) patch.isolation = info.isolation;
    if (wasPaused) patch.endAt = Date.now() + s.timeoutMs;
    patch.pauseMode = undefined; // running: no pause mode (a pause the restart cut short had written one)
    if (s.state === 'resuming' && s.pauseMode === 'filesystem') {
      // A boot the restart interrupted: its agent may not be set up yet (env vars, token, the start command).
      await initBooted(ctx, s, info, true).catch((e) => ctx.log(`set-up of booted ${id}: ${(e as Error).message}`));
    }
    if (s.state !== 'running' && !(await move(ctx.store, s, 'running', patch))) return 'kept';
    if (s.state === 'running') await ctx.store.updateSandbox(id, patch);
    if (wasPaused) await ctx.opts.snapshots.removePauseImages(id);
    // Its volumes stay mounted here while it runs (this process's count of their users starts again).
    await ctx.attachVolumes(id, s.volumeMounts).catch((e) => ctx.log(`volumes of ${id}: ${(e as Error).message}`));
    const was = s.state !== 'running' ? ` (was ${s.state})` : '';
    ctx.event(id, 'info', `re-adopted after a control-plane restart${was}`);
    return 'adopted';
  }
  if (s.state === 'paused') return 'kept';
  const snapshots = ctx.opts.snapshots;
  if (s.state === 'resuming' && s.pausedImage && snapshots.isComplete(s.pausedImage)) {
    // The restore never produced a sandbox: the image is still the paused state (the runtime gave its layer back).
    if (await move(ctx.store, s, 'paused', { nodeId: undefined })) {
      ctx.event(id, 'info', 'resume interrupted by a control-plane restart; the sandbox stays paused');
    }
    return 'kept';
  }
  // A pause the restart interrupted may have completed meanwhile: the sandbox is paused with that image.
  const image = s.state === 'running' || s.state === 'pausing' ? snapshots.newestPauseImage(id) : undefined;
  if (image) {
    if (await move(ctx.store, s, 'paused', pausedPatch(ctx, image))) {
      ctx.event(id, 'info', 'pause completed across a control-plane restart');
    }
    return 'kept';
  }
  ctx.event(id, 'error', `sandbox was not running (and had no saved state) after a control-plane restart; removed`);
  await ctx.store.deleteSandbox(id);
  return 'lost';
}

/** Pause images no record points at (incomplete dumps, leftovers of deleted sandboxes) are discarded. */
async function removePartialImages(ctx: LifecycleContext): Promise<void> {
  const { snapshots, nodeId } = ctx.opts;
  await rm(snapshots.forkImages(nodeId), { recursive: true, force: true }); // no fork of this node runs at start
  const inUse = (dir: string) => ctx.drivers.all().some(([, d]) => hasCheckpointer(d) && d.imageInUse(dir));
  for (const [id, images] of snapshots.pauseImages()) {
    const s = await ctx.store.getSandbox(id);
    if (s && !ctx.isMine(s)) continue; // may be pausing on its node right now
    for (const dir of images) {
      if (s?.pausedImage === dir) continue;
      // A sandbox resumed just before the restart may still fetch pages from its old image.
      if (inUse(dir)) void ctx.removeImageWhenFree(dir);
      else await rm(dir, { recursive: true, force: true });
    }
    if (!s?.pausedImage) await snapshots.removeEmptySandboxDir(id);
  }
}
