/**
 * Admin helpers for a cluster's nodes (several servers sharing one database, docs/cluster.md): the registry with
 * each node's capacity and heartbeat, and draining a node (it takes no new sandboxes; its running ones move to other
 * nodes by pause and resume). Admin key only.
 * @example
 * const nodes = await ClusterNode.list({ apiKey: adminKey })
 * await ClusterNode.drain('node-3', { apiKey: adminKey })
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import type { components } from './api/schema.gen.js';

export type ClusterNodeInfo = components['schemas']['ClusterNode'];

const client = (opts: ConnectionOpts) => apiClient(resolveConnection(opts));

export class ClusterNode {
  /** Every node of the cluster (admin key). */
  static async list(opts: ConnectionOpts = {}): Promise<ClusterNodeInfo[]> {
    return unwrap(await client(opts).GET('/nodes'), 'list nodes');
  }

  /** Drains a node; returns it, now `draining` (admin key). */
  static async drain(nodeID: string, opts: ConnectionOpts = {}): Promise<ClusterNodeInfo> {
    return unwrap(
      await client(opts).POST('/nodes/{nodeID}/drain', { params: { path: { nodeID } } }),
      `drain node ${nodeID}`,
    );
  }
}
