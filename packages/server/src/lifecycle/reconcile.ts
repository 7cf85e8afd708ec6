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
 * | resuming     | running (the restore finished)        | paused again               | removed (lost) |
 * | killing      | destroyed, removed (the kill goes on) | removed                    | removed        |
 * | lost         | destroyed (its node was declared dead) | its leftovers destroyed (if this node ran it)  |
 *
 * ¹ a paused record without its image is left for resume to answer 404 and for retention to delete, as before.
 * Runtime sandboxes no record knows (a crash mid-create) are destroyed, and pause images no record points at
 * (incomplete dumps, leftovers of deleted sandboxes) and this node's fork images are deleted.
 */
import { hasCheckpointer, type SandboxRuntimeInfo } from '@tensor-box/runtime';
import { rm } from 'node:fs/promises';
import { runtimeOf } from '../services/sandbox-records.js';
import type { SandboxRecord } from '../store/store.js';
import type { LifecycleContext } from './context.js';
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
  const live = new Map((await ctx.driver.list()).map((i) => [i.sandboxId, i]));
  const out: ReconcileResult = { adopted: 0, lost: 0, orphans: 0 };
  for (const s of await ctx.store.listSandboxes({ states: ALL_STATES })) {
    if (!ctx.isMine(s)) continue; // another node's sandbox: that node reconciles it
    const info = live.get(s.sandboxId);
    live.delete(s.sandboxId);
    const outcome = await reconcileOne(ctx, s, info);
    if (outcome === 'adopted') out.adopted++;
    if (outcome === 'lost') out.lost++;
  }
  for (const id of live.keys()) {
    out.orphans++;
    ctx.log(`destroying orphaned runtime sandbox ${id}`);
    await ctx.driver.destroy(id).catch(() => {});
  }
  await removePartialImages(ctx);
  return out;
}

async function reconcileOne(
  ctx: LifecycleContext,
  s: SandboxRecord,
  info: SandboxRuntimeInfo | undefined,
): Promise<'adopted' | 'lost' | 'kept'> {
  const id = s.sandboxId;
  if (s.state === 'lost') {
    // Declared lost while this node was away (cluster/lost.ts): its local copy is given up, not fought over.
    // Also when the runtime does not list it: a crash may have left its host objects (disk, netns) behind.
    if (info || s.nodeId === ctx.opts.nodeId) await ctx.driver.destroy(id).catch(() => {});
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
    if (wasPaused) patch.endAt = Date.now() + s.timeoutMs;
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
  const driver = ctx.driver;
  for (const [id, images] of snapshots.pauseImages()) {
    const s = await ctx.store.getSandbox(id);
    if (s && !ctx.isMine(s)) continue; // may be pausing on its node right now
    for (const dir of images) {
      if (s?.pausedImage === dir) continue;
      // A sandbox resumed just before the restart may still fetch pages from its old image.
      if (hasCheckpointer(driver) && driver.imageInUse(dir)) void ctx.removeImageWhenFree(dir);
      else await rm(dir, { recursive: true, force: true });
    }
    if (!s?.pausedImage) await snapshots.removeEmptySandboxDir(id);
  }
}
