/**
 * What a dead node leaves behind, settled by the node that declared it dead (membership.ts): each of its sandboxes
 * that ran there (`running`, `pausing`, `snapshotting`, `killing`) becomes `lost` with the reason — processes and
 * memory went with the node; the record stays so clients see what happened — and one it was resuming goes back to
 * `paused` (its pause image is still in the shared store: it can resume on any node). Its run claims (quota slots of
 * starts under way) are released. Every change is conditional on the state read, so it is safe to repeat.
 */
import type { SandboxRecord, Store } from '../store/store.js';
import type { SandboxState } from '../lifecycle/states.js';

const RAN_THERE: SandboxState[] = ['running', 'pausing', 'snapshotting', 'killing'];

export interface LostResult {
  lost: string[];
  backToPaused: string[];
}

export async function settleDeadNode(
  store: Store,
  nodeId: string,
  reason: string,
  event: (sandboxId: string, message: string) => void,
): Promise<LostResult> {
  const out: LostResult = { lost: [], backToPaused: [] };
  const rows = await store.listSandboxes({ states: [...RAN_THERE, 'resuming'] });
  for (const s of rows.filter((r: SandboxRecord) => r.nodeId === nodeId)) {
    if (s.state === 'resuming') {
      if (await store.transitionSandbox(s.sandboxId, ['resuming'], { state: 'paused', nodeId: undefined })) {
        out.backToPaused.push(s.sandboxId);
        event(s.sandboxId, `resume interrupted: ${reason}; the sandbox is paused again and can resume on any node`);
      }
      continue;
    }
    const patch = { state: 'lost' as const, stateReason: reason, runtime: undefined };
    if (await store.transitionSandbox(s.sandboxId, [s.state], patch)) {
      out.lost.push(s.sandboxId);
      event(s.sandboxId, `sandbox lost: ${reason}`);
    }
  }
  await store.teams.releaseNodeClaims(nodeId);
  return out;
}

/**
 * On a node that finds it was declared dead (it stalled or was cut off past its lease, then came back): the runtime
 * sandboxes it still has whose records say they are lost, or run on another node now, are destroyed — the cluster
 * moved on without them. Sandboxes without a record (a create under way) are left alone.
 */
export async function dropLocalCopies(
  store: Store,
  driver: { list(): Promise<Array<{ sandboxId: string }>>; destroy(id: string): Promise<void> },
  nodeId: string,
  log: (msg: string) => void,
): Promise<number> {
  let n = 0;
  for (const { sandboxId } of await driver.list()) {
    const s = await store.getSandbox(sandboxId);
    if (!s || !((s.state === 'lost' && s.nodeId === nodeId) || (s.nodeId && s.nodeId !== nodeId))) continue;
    log(`sandbox ${sandboxId} is ${s.state === 'lost' ? 'lost' : `on node ${s.nodeId}`} now; destroying the copy here`);
    await driver.destroy(sandboxId).catch(() => {});
    n++;
  }
  return n;
}
