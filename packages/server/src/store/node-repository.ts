/**
 * The nodes repository: the cluster's registry. Every server sharing one database (a "node") registers its internal
 * address and capacity, and heartbeats; a node whose heartbeat is older than the lease is declared dead by another
 * one with a conditional write (exactly one node wins). Times are the database's clock (epoch ms), never a node's:
 * leases do not depend on the nodes' clocks agreeing. Implemented by sqlite-nodes.ts and postgres-nodes.ts.
 *
 * States: `alive` (takes new sandboxes), `draining` (takes none; its sandboxes move away), `dead` (missed its lease;
 * its running sandboxes are `lost`). A dead node that comes back re-registers as `alive` after cleaning up.
 */

export type NodeState = 'alive' | 'draining' | 'dead';

/** What a node reports about itself on registration and on every heartbeat. */
export interface NodeCapacity {
  cpuCount: number;
  memoryMB: number;
  freeMemoryMB: number;
  /** How many sandboxes the node may run at most. */
  sandboxSlots: number;
  /** How many it runs now. */
  runningSandboxes: number;
}

export interface NodeRecord extends NodeCapacity {
  nodeId: string;
  /** The URL other nodes forward requests to (`TENSOR_BOX_NODE_ADDRESS`). */
  address: string;
  state: NodeState;
  registeredAt: number;
  /** The last heartbeat, on the database's clock. */
  heartbeatAt: number;
  /** Why the node is in its state (dead: whose lease check declared it). */
  stateReason?: string;
  /** The database's clock when the record was read (to judge leases without trusting this node's clock). */
  nowMs: number;
}

export interface NodeRepository {
  /**
   * Registers (or re-registers) a node: address and capacity, heartbeat now. A `dead` node comes back `alive`; a
   * `draining` one stays draining (the operator's choice outlives restarts).
   */
  registerNode(nodeId: string, address: string, capacity: NodeCapacity): Promise<NodeRecord>;
  /** A heartbeat: capacity and time. Undefined when the node is not registered or was declared dead meanwhile. */
  heartbeatNode(nodeId: string, capacity: NodeCapacity): Promise<NodeRecord | undefined>;
  getNode(nodeId: string): Promise<NodeRecord | undefined>;
  listNodes(): Promise<NodeRecord[]>;
  /**
   * Conditional: declares the node dead only while it is not dead and its heartbeat is older than `leaseMs` (database
   * clock). True for the one caller that made the change.
   */
  declareNodeDead(nodeId: string, leaseMs: number, reason: string): Promise<boolean>;
  /** Conditional state change (`from` → `to`), e.g. alive → draining. False when the node was in another state. */
  transitionNode(nodeId: string, from: NodeState[], to: NodeState, reason?: string): Promise<boolean>;
}
