/**
 * The nodes repository on SQLite (node-repository.ts). A single-node install has one row (itself); the statements
 * mirror postgres-nodes.ts so both pass the same suite.
 */
import type Database from 'better-sqlite3';
import type { NodeCapacity, NodeRecord, NodeRepository, NodeState } from './node-repository.js';
import { capacityArgs, nodeFromRow } from './node-rows.js';

/** Milliseconds: SQLite's `strftime('%s')` has whole seconds only, too coarse for short test leases. */
const NOW = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
const RETURN = `RETURNING *, ${NOW} AS now_ms`;

export class SqliteNodes implements NodeRepository {
  constructor(private db: Database.Database) {}

  async registerNode(nodeId: string, address: string, c: NodeCapacity): Promise<NodeRecord> {
    const row = this.db
      .prepare(
        `INSERT INTO nodes (node_id, address, state, cpu_count, memory_mb, free_memory_mb, sandbox_slots,
           running_sandboxes, registered_at, heartbeat_at)
         VALUES (?, ?, 'alive', ?, ?, ?, ?, ?, ${NOW}, ${NOW})
         ON CONFLICT (node_id) DO UPDATE SET address = excluded.address,
           state = CASE WHEN nodes.state = 'draining' THEN 'draining' ELSE 'alive' END,
           state_reason = CASE WHEN nodes.state = 'draining' THEN nodes.state_reason ELSE NULL END,
           cpu_count = excluded.cpu_count, memory_mb = excluded.memory_mb, free_memory_mb = excluded.free_memory_mb,
           sandbox_slots = excluded.sandbox_slots, running_sandboxes = excluded.running_sandboxes,
           registered_at = excluded.registered_at, heartbeat_at = excluded.heartbeat_at
         ${RETURN}`,
      )
      .get(nodeId, address, ...capacityArgs(c)) as Record<string, unknown>;
    return nodeFromRow(row);
  }

  async heartbeatNode(nodeId: string, c: NodeCapacity): Promise<NodeRecord | undefined> {
    const row = this.db
      .prepare(
        `UPDATE nodes SET cpu_count = ?, memory_mb = ?, free_memory_mb = ?, sandbox_slots = ?,
           running_sandboxes = ?, heartbeat_at = ${NOW}
         WHERE node_id = ? AND state <> 'dead' ${RETURN}`,
      )
      .get(...capacityArgs(c), nodeId) as Record<string, unknown> | undefined;
    return row ? nodeFromRow(row) : undefined;
  }

  async getNode(nodeId: string): Promise<NodeRecord | undefined> {
    const row = this.db.prepare(`SELECT *, ${NOW} AS now_ms FROM nodes WHERE node_id = ?`).get(nodeId);
    return row ? nodeFromRow(row as Record<string, unknown>) : undefined;
  }

  async listNodes(): Promise<NodeRecord[]> {
    const rows = this.db.prepare(`SELECT *, ${NOW} AS now_ms FROM nodes ORDER BY node_id`).all();
    return rows.map((r) => nodeFromRow(r as Record<string, unknown>));
  }

  async declareNodeDead(nodeId: string, leaseMs: number, reason: string): Promise<boolean> {
    const r = this.db
      .prepare(
        `UPDATE nodes SET state = 'dead', state_reason = ?
         WHERE node_id = ? AND state <> 'dead' AND heartbeat_at < ${NOW} - ?`,
      )
      .run(reason, nodeId, leaseMs);
    return r.changes === 1;
  }

  async transitionNode(nodeId: string, from: NodeState[], to: NodeState, reason?: string): Promise<boolean> {
    if (!from.length) return false;
    const r = this.db
      .prepare(`UPDATE nodes SET state = ?, state_reason = ? WHERE node_id = ? AND state IN (${from.map(() => '?')})`)
      .run(to, reason ?? null, nodeId, ...from);
    return r.changes === 1;
  }
}
