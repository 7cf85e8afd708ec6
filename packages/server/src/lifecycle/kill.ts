/**
 * Kill: `running|paused → killing → (record deleted)`. The runtime sandbox is destroyed, a paused sandbox's images
 * deleted, then the record. From the move to `killing` on the sandbox is gone for the API (404, not listed, the
 * ingress answers as for a missing sandbox). A destroy that fails puts the record back in the state it had.
 *
 * Concurrency: a kill never answers 409. It waits for an operation under way (a pause, a resume, a snapshot) to
 * settle and then kills what is left; a kill that finds another kill under way waits for the sandbox to be gone, so
 * concurrent kills all succeed once. The sweep kills with `onlyFrom`: if the sandbox left the state the sweep saw
 * (e.g. a client resumed it meanwhile) the sweep's kill does nothing.
 */
import type { SandboxRecord } from '../store/store.js';
import type { LifecycleContext } from './context.js';
import { isTransitional, type SandboxState } from './states.js';
import { finish, move, settle } from './transitions.js';

/** Kills a sandbox; resolves once it is gone. False when `onlyFrom` was given and the sandbox had left that state. */
export async function kill(
  ctx: LifecycleContext,
  sandboxId: string,
  reason: string,
  onlyFrom?: SandboxState,
): Promise<boolean> {
  let s: SandboxRecord | undefined = await ctx.get(sandboxId);
  for (;;) {
    if (isTransitional(s.state)) {
      // Another kill (wait until it is gone) or another operation (wait, then kill what it left).
      s = await settle(ctx.store, sandboxId, 'be killed');
      if (!s) return true;
      continue;
    }
    if (onlyFrom && s.state !== onlyFrom) return false;
    ctx.here(s);
    if (await move(ctx.store, s, 'killing')) break;
    s = await ctx.store.getSandbox(sandboxId);
    if (!s) return true; // another kill finished first
  }
  const from = s;
  try {
    // A lost sandbox died with its node (cluster/lost.ts): there is nothing here to destroy, only the record.
    if (from.state !== 'lost') await ctx.opts.prom.time('driver.destroy', () => ctx.driverOf(from).destroy(sandboxId));
  } catch (err) {
    await finish(ctx.store, { ...from, state: 'killing' }, from.state);
    throw err;
  }
  if (from.pausedImage) await ctx.opts.snapshots.removePauseImages(sandboxId);
  await ctx.store.deleteSandbox(sandboxId);
  await ctx.stoppedHere(sandboxId, from.runtime ? from.volumeMounts : undefined);
  ctx.event(sandboxId, 'info', `sandbox killed (${reason})`);
  return true;
}

/** Completes a kill a restart interrupted (restart reconciliation): destroy, images, record. */
export async function finishKill(ctx: LifecycleContext, s: SandboxRecord): Promise<void> {
  // Also when the runtime does not list it: a destroy the crash cut short may have left host objects behind.
  await Promise.resolve()
    .then(() => ctx.driverOf(s).destroy(s.sandboxId))
    .catch(() => {});
  await ctx.opts.snapshots.removePauseImages(s.sandboxId);
  await ctx.store.deleteSandbox(s.sandboxId);
  await ctx.stoppedHere(s.sandboxId, s.volumeMounts);
  ctx.event(s.sandboxId, 'info', 'sandbox killed (the kill was interrupted by a control-plane restart)');
}
