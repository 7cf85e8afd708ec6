/**
 * The sandbox state machine as data: every state a record can be in, which states it may move to, who moves it there,
 * and what the wire API shows for it. The one place that knows; the table in docs/design.md (Sandbox lifecycle) mirrors it.
 *
 * The wire keeps E2B's two states. A sandbox in the middle of an operation shows the stable state it had before the
 * operation began, until the operation commits (a failed pause leaves it `running`, a failed resume `paused`, so a
 * listing never shows a state that is then rolled back): `pausing` and `snapshotting` show as `running`, `resuming`
 * as `paused`. A `killing` sandbox is already gone for the API (404, not listed), as on E2B.
 *
 * `lost` is ours, not E2B's: a running sandbox whose node stopped heartbeating past its lease (docs/cluster.md). It
 * is shown as `lost` with a `stateReason` by GET /sandboxes/{id}, and listed only when a list asks for `state=lost`
 * (the default list is running and paused, so E2B's SDKs, whose state enums know only those two, keep working).
 */
import type { SandboxState } from '../store/store.js';

export type { SandboxState };
/** The states the wire API knows (OpenAPI `SandboxState`). */
export type WireState = 'running' | 'paused' | 'lost';

interface StateRule {
  /** States a conditional transition may move a record in this state to (deletion is not a state: kill ends there). */
  next: readonly SandboxState[];
  /** What GET/list show; undefined: not shown (404). */
  wire: WireState | undefined;
  /** Held by an operation under way (a stable state otherwise). */
  transitional: boolean;
}

export const STATES: Readonly<Record<SandboxState, StateRule>> = {
  // pause, snapshot/fork/commit, kill; `paused` only by reconcile (a pause an older server left half-recorded).
  running: { next: ['pausing', 'snapshotting', 'killing', 'paused', 'lost'], wire: 'running', transitional: false },
  // the checkpoint completed → paused; it failed → running again.
  pausing: { next: ['paused', 'running', 'lost'], wire: 'running', transitional: true },
  // resume (or connect, or a request to an auto-resume sandbox), kill; `running` only by reconcile (restore finished).
  paused: { next: ['resuming', 'killing', 'running'], wire: 'paused', transitional: false },
  // the restore completed → running; it failed → paused again.
  resuming: { next: ['running', 'paused'], wire: 'paused', transitional: true },
  // snapshot, fork and commit leave the sandbox running: back to running whether the copy worked or not.
  snapshotting: { next: ['running', 'lost'], wire: 'running', transitional: true },
  // ends with the record deleted; a destroy that failed puts back the state the kill started from.
  killing: { next: ['running', 'paused', 'lost'], wire: undefined, transitional: true },
  // its node died (missed its lease, cluster/leases.ts) while it ran: processes and memory are gone; the record stays,
  // with the reason, until it is killed (DELETE). Not E2B's: listed only when `state=lost` is asked for.
  lost: { next: ['killing'], wire: 'lost', transitional: false },
};

/*
 * A transitional state never moves to `killing`: a kill first waits for the operation under way to settle
 * (lifecycle/kill.ts). Restart reconciliation moves records a crash left mid-operation along the same rows
 * (lifecycle/reconcile.ts) or deletes them.
 */

export const ALL_STATES = Object.keys(STATES) as SandboxState[];

/** Whether a record in `from` may move to `to`. */
export function canMove(from: SandboxState, to: SandboxState): boolean {
  return STATES[from].next.includes(to);
}

export function isTransitional(state: SandboxState): boolean {
  return STATES[state].transitional;
}

/** What the API shows for a stored state (undefined: the sandbox is gone for the API). */
export function wireState(state: SandboxState): WireState | undefined {
  return STATES[state].wire;
}

/** The stored states a wire state filter matches (`running` also matches sandboxes being paused or snapshotted). */
export function storedStates(wire: readonly WireState[]): SandboxState[] {
  return ALL_STATES.filter((s) => {
    const w = STATES[s].wire;
    return w !== undefined && wire.includes(w);
  });
}

/** States in which the sandbox's processes run and its agent and ports are reachable (what the wire calls running). */
export const REACHABLE_STATES = storedStates(['running']);

/** Whether traffic (ingress, terminals, file links) may reach the sandbox now. */
export function isReachable(state: SandboxState): boolean {
  return wireState(state) === 'running';
}

/** The words messages use for an operation under way. */
export const UNDER_WAY: Readonly<Record<SandboxState, string>> = {
  running: 'running',
  paused: 'paused',
  pausing: 'being paused',
  resuming: 'being resumed',
  snapshotting: 'being snapshotted',
  killing: 'being killed',
  lost: 'lost (its node died)',
};
