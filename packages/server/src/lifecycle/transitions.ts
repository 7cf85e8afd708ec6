/**
 * State changes of sandbox records, and only through here: each is one conditional write in the store
 * (`Store.transitionSandbox`: applied only while the record is still in the state the caller read), checked against
 * the table in states.ts. The record's state is the lock of every lifecycle operation, across processes and nodes: an
 * operation that finds another one under way waits for it to settle (`settle`) or answers 409 (`busy`), and one that
 * lost the race for the write fails loudly instead of overwriting what the winner wrote.
 */
import { ApiError, notFound } from '../errors.js';
import type { SandboxRecord, Store } from '../store/store.js';
import { canMove, isTransitional, UNDER_WAY, type SandboxState } from './states.js';

/** How long an operation waits for another one on the same sandbox to finish (a checkpoint can take a while). */
export const SETTLE_TIMEOUT_MS = 5 * 60_000;

/** 409 for an operation that found (or lost the race to) another one under way on the sandbox. */
export function busy(sandboxId: string, state: SandboxState, verb: string): ApiError {
  return new ApiError('conflict', `sandbox '${sandboxId}' is ${UNDER_WAY[state]}; it cannot ${verb} now (try again)`);
}

/** A move the table does not allow is a bug: it throws before anything is written. */
function checkMove(s: SandboxRecord, to: SandboxState): void {
  if (!canMove(s.state, to)) {
    throw new ApiError('internal', `sandbox '${s.sandboxId}': no transition ${s.state} → ${to}`);
  }
}

/**
 * Moves the record from the state it was read in (`s.state`) to `to`, writing `patch` with it. False when the race
 * was lost (the record changed state or is gone). A move the table does not allow is a bug and throws.
 */
export async function move(store: Store, s: SandboxRecord, to: SandboxState, patch: Partial<SandboxRecord> = {}) {
  checkMove(s, to);
  return store.transitionSandbox(s.sandboxId, [s.state], { ...patch, state: to });
}

/** `move`, or 409 naming what the sandbox is doing now (404 when it is gone) when another operation got there first. */
export async function moveOrConflict(
  store: Store,
  s: SandboxRecord,
  to: SandboxState,
  verb: string,
  patch: Partial<SandboxRecord> = {},
): Promise<void> {
  checkMove(s, to);
  await writeWhile(store, s, verb, { ...patch, state: to });
}

/**
 * Writes `patch` (no state change) only while the record is still in the state it was read in: a change of settings
 * (network rules) that must not land in the middle of an operation. 409 (404 when gone) otherwise.
 */
export async function writeWhile(store: Store, s: SandboxRecord, verb: string, patch: Partial<SandboxRecord>) {
  if (await store.transitionSandbox(s.sandboxId, [s.state], patch)) return;
  const now = await store.getSandbox(s.sandboxId);
  if (!now || now.state === 'killing') throw notFound(`sandbox '${s.sandboxId}' not found`);
  throw busy(s.sandboxId, now.state, verb);
}

/**
 * Ends an operation: moves the record out of the transitional state it holds. Losing this write means something
 * broke the rule that only the operation holding a transitional state moves the record out of it: internal error.
 */
export async function finish(store: Store, s: SandboxRecord, to: SandboxState, patch: Partial<SandboxRecord> = {}) {
  if (await move(store, s, to, patch)) return;
  const now = await store.getSandbox(s.sandboxId);
  const what = `sandbox '${s.sandboxId}' left ${s.state} behind our back (now ${now?.state ?? 'gone'})`;
  throw new ApiError('internal', what);
}

/**
 * Waits until the sandbox is in a stable state (running or paused) and returns its record, or undefined once it is
 * gone. Polls the store (the operation may run in another process or on another node); 409 after `timeoutMs`.
 */
export async function settle(
  store: Store,
  sandboxId: string,
  verb: string,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<SandboxRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 200)) {
    const s = await store.getSandbox(sandboxId);
    if (!s || !isTransitional(s.state)) return s;
    if (Date.now() >= deadline) throw busy(sandboxId, s.state, verb);
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
