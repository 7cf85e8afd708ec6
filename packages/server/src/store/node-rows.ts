/** The `nodes` row ↔ NodeRecord mapping both stores share (the same column names in SQLite and PostgreSQL). */
import type { NodeCapacity, NodeRecord, NodeState } from './node-repository.js';

/** A `nodes` row (plus the database's `now_ms`) as a record. */
export function nodeFromRow(r: Record<string, unknown>): NodeRecord {
  return {
    nodeId: r.node_id as string,
    address: r.address as string,
    state: r.state as NodeState,
    cpuCount: Number(r.cpu_count),
    memoryMB: Number(r.memory_mb),
    freeMemoryMB: Number(r.free_memory_mb),
    sandboxSlots: Number(r.sandbox_slots),
    runningSandboxes: Number(r.running_sandboxes),
    registeredAt: Number(r.registered_at),
    heartbeatAt: Number(r.heartbeat_at),
    ...(r.state_reason ? { stateReason: r.state_reason as string } : {}),
    nowMs: Number(r.now_ms),
  };
}

/** The capacity columns in the order the statements bind them. */
export const capacityArgs = (c: NodeCapacity) => [
  Math.round(c.cpuCount),
  Math.round(c.memoryMB),
  Math.round(c.freeMemoryMB),
  Math.round(c.sandboxSlots),
  Math.round(c.runningSandboxes),
];
