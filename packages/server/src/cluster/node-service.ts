/**
 * The cluster's nodes as API operations (`GET /nodes`, `POST /nodes/{id}/drain`), admin key only: the registry as the
 * wire shows it, and draining — a conditional write `alive → draining`; the drained node itself then moves its
 * sandboxes away (drain.ts). Without a cluster (no cluster secret) no node registers: the list is empty and drain is
 * refused.
 */
import type { components } from '../api/schema.gen.js';
import { ApiError, notFound } from '../errors.js';
import type { NodeRecord, NodeRepository } from '../store/store.js';
import { requireAdmin } from '../teams/caller.js';

type Api = components['schemas'];

export function nodeToApi(n: NodeRecord, leaseMs: number): Api['ClusterNode'] {
  return {
    nodeID: n.nodeId,
    address: n.address,
    state: n.state,
    ...(n.stateReason ? { stateReason: n.stateReason } : {}),
    cpuCount: n.cpuCount,
    memoryMB: n.memoryMB,
    freeMemoryMB: n.freeMemoryMB,
    sandboxSlots: n.sandboxSlots,
    runningSandboxes: n.runningSandboxes,
    heartbeatAt: new Date(n.heartbeatAt).toISOString(),
    live: n.state !== 'dead' && n.nowMs - n.heartbeatAt <= leaseMs,
  };
}

export class NodeService {
  constructor(
    private store: NodeRepository,
    /** The lease (ms); undefined: no cluster. */
    private leaseMs: number | undefined,
  ) {}

  async list(): Promise<Api['ClusterNode'][]> {
    requireAdmin('list the cluster nodes');
    return (await this.store.listNodes()).map((n) => nodeToApi(n, this.leaseMs ?? Infinity));
  }

  async drain(nodeId: string): Promise<Api['ClusterNode']> {
    requireAdmin('drain nodes');
    if (this.leaseMs === undefined) {
      throw new ApiError('failed_precondition', 'this server runs alone (no cluster): there is nowhere to drain to');
    }
    const n = await this.store.getNode(nodeId);
    if (!n) throw notFound(`node '${nodeId}' not found`);
    if (n.state === 'dead') throw new ApiError('conflict', `node '${nodeId}' is dead: nothing runs there to move`);
    await this.store.transitionNode(nodeId, ['alive'], 'draining', 'drained by the admin');
    return nodeToApi((await this.store.getNode(nodeId))!, this.leaseMs);
  }
}
