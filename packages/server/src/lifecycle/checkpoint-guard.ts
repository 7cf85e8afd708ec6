/**
 * The one guard around operations that checkpoint or copy a running sandbox — pause, snapshot, fork, commit. Their
 * opening steps are the same and live here: look the sandbox up for the caller (404 when absent or being killed), it
 * must be running (each operation says with which error: pause answers 409, snapshot and fork 400 as before), on this
 * node, on a runtime that can do it, within the team's disk quota when it writes an image; then the conditional move
 * into the operation's transitional state (`pausing` or `snapshotting`; 409 when another operation got there first),
 * the agent quiesced, the work, and the move out: to the operation's end state when the work succeeded, back to
 * `running` when it failed.
 */
import type { SandboxRecord } from '../store/store.js';
import { ApiError, notFound } from '../errors.js';
import { ownerTeam } from '../teams/caller.js';
import type { LifecycleContext } from './context.js';
import { isTransitional, type SandboxState } from './states.js';
import { busy, finish, moveOrConflict } from './transitions.js';

export interface CheckpointOp {
  /** For messages: `pause`, `snapshot`, `fork`, `commit`. */
  verb: string;
  /** The transitional state the record holds meanwhile. */
  via: 'pausing' | 'snapshotting';
  /** Written with the move into `via` (cleared again when the work fails). */
  viaPatch?: Partial<SandboxRecord>;
  /** The driver capability the work needs; false: the runtime cannot, with this message (409) or error. */
  capable: boolean;
  incapable: string | ApiError;
  /** The error for a sandbox that is not running (stable state), and its message. */
  notRunning: (s: SandboxRecord) => ApiError;
  /** Checks the team's disk quota first (the work writes an image). */
  checkDisk: boolean;
  /** Ends the agent's watches first (a checkpoint cannot save them). */
  quiesce: boolean;
}

/** The state and record fields to write when the work succeeded (default: back to running, nothing else). */
export interface CheckpointEnd {
  state: SandboxState;
  patch?: Partial<SandboxRecord>;
}

/**
 * Runs `work` on the running sandbox `sandboxId` under `op`'s transitional state. `end` says where the record goes
 * when the work succeeded (called with the work's result); when it throws the record goes back to `running`.
 */
export async function withCheckpoint<T>(
  ctx: LifecycleContext,
  sandboxId: string,
  op: CheckpointOp,
  work: (s: SandboxRecord) => Promise<T>,
  end: (result: T) => CheckpointEnd = () => ({ state: 'running' }),
): Promise<T> {
  const s = await ctx.get(sandboxId);
  if (s.state === 'killing') throw notFound(`sandbox '${sandboxId}' not found`);
  if (isTransitional(s.state)) throw busy(sandboxId, s.state, op.verb);
  if (s.state !== 'running') throw op.notRunning(s);
  ctx.here(s);
  if (!op.capable) {
    throw op.incapable instanceof ApiError ? op.incapable : new ApiError('failed_precondition', op.incapable);
  }
  if (op.checkDisk) await ctx.opts.quota?.checkDisk(s.teamId ?? ownerTeam());
  await moveOrConflict(ctx.store, s, op.via, op.verb, op.viaPatch);
  const held = { ...s, state: op.via };
  let result: T;
  try {
    if (op.quiesce) await ctx.quiesce(s);
    result = await work(s);
  } catch (err) {
    const undo = Object.fromEntries(Object.keys(op.viaPatch ?? {}).map((k) => [k, undefined]));
    await finish(ctx.store, held, 'running', undo);
    throw err;
  }
  const e = end(result);
  await finish(ctx.store, held, e.state, e.patch);
  return result;
}
