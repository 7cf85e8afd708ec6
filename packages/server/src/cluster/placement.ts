/**
 * Placement: which node a new sandbox (a create, or the resume of a paused one) lands on. The live, non-draining node
 * with the most free sandbox slots — its heartbeat's slot count minus what runs there now (the store's records, so a
 * burst of creates sees the ones that just landed) and the starts this node sent there that have not answered yet —
 * then the most free memory, then this node. Pure: the caller gathers the numbers.
 */
import type { NodeRecord } from '../store/store.js';

export interface PlacementInput {
  /** Nodes as last read, already filtered to live ones. */
  nodes: NodeRecord[];
  selfId: string;
  /** Sandboxes each node runs now (store records). */
  running: Map<string, number>;
  /** Starts forwarded to each node and not answered yet. */
  inFlight: Map<string, number>;
}

/** Free slots of a node for placement. */
export function freeSlots(n: NodeRecord, i: PlacementInput): number {
  return n.sandboxSlots - (i.running.get(n.nodeId) ?? 0) - (i.inFlight.get(n.nodeId) ?? 0);
}

/** The node to start on, or undefined when no live node takes new sandboxes. */
export function place(i: PlacementInput): NodeRecord | undefined {
  const open = i.nodes.filter((n) => n.state === 'alive' && freeSlots(n, i) > 0);
  open.sort(
    (a, b) =>
      freeSlots(b, i) - freeSlots(a, i) ||
      b.freeMemoryMB - a.freeMemoryMB ||
      Number(b.nodeId === i.selfId) - Number(a.nodeId === i.selfId) ||
      a.nodeId.localeCompare(b.nodeId),
  );
  return open[0];
}
