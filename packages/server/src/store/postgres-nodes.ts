/** The nodes repository on PostgreSQL (node-repository.ts): times from the database's clock (`now()`). */
import type pg from 'pg';
import { POSTGRES } from './migrations.js';
import type { NodeCapacity, NodeRecord, NodeRepository, NodeState } from './node-repository.js';
import { capacityArgs, nodeFromRow } from './node-rows.js';
import { query } from './postgres-rows.js';

const NOW = POSTGRES.nowMs;
const RETURN = `RETURNING *, ${NOW} AS now_ms`;

export class PostgresNodes implements NodeRepository {
  constructor(private pool: pg.Pool) {}

  async registerNode(nodeId: string, address: string, c: NodeCapacity): Promise<NodeRecord> {
    const [row] = await query(
      this.pool,
      `INSERT INTO nodes (node_id, address, state, cpu_count, memory_mb, free_memory_mb, sandbox_slots,
         running_sandboxes, registered_at, heartbeat_at)
       VALUES ($1, $2, 'alive', $3, $4, $5, $6, $7, ${NOW}, ${NOW})
       ON CONFLICT (node_id) DO UPDATE SET address = EXCLUDED.address,
         state = CASE WHEN nodes.state = 'draining' THEN 'draining' ELSE 'alive' END,
         state_reason = CASE WHEN nodes.state = 'draining' THEN nodes.state_reason ELSE NULL END,
         cpu_count = EXCLUDED.cpu_count, memory_mb = EXCLUDED.memory_mb, free_memory_mb = EXCLUDED.free_memory_mb,
         sandbox_slots = EXCLUDED.sandbox_slots, running_sandboxes = EXCLUDED.running_sandboxes,
         registered_at = EXCLUDED.registered_at, heartbeat_at = EXCLUDED.heartbeat_at
       ${RETURN}`,
      [nodeId, address, ...capacityArgs(c)],
    );
    return nodeFromRow(row);
  }

  async heartbeatNode(nodeId: string, c: NodeCapacity): Promise<NodeRecord | undefined> {
    const [row] = await query(
      this.pool,
      `UPDATE nodes SET cpu_count = $2, memory_mb = $3, free_memory_mb = $4, sandbox_slots = $5,
         running_sandboxes = $6, heartbeat_at = ${NOW}
       WHERE node_id = $1 AND state <> 'dead' ${RETURN}`,
      [nodeId, ...capacityArgs(c)],
    );
    return row ? nodeFromRow(row) : undefined;
  }

  async getNode(nodeId: string): Promise<NodeRecord | undefined> {
    const [row] = await query(this.pool, `SELECT *, ${NOW} AS now_ms FROM nodes WHERE node_id = $1`, [nodeId]);
    return row ? nodeFromRow(row) : undefined;
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await query(this.pool, `SELECT *, ${NOW} AS now_ms FROM nodes ORDER BY node_id`)).map(nodeFromRow);
  }

  async declareNodeDead(nodeId: string, leaseMs: number, reason: string): Promise<boolean> {
    const rows = await query(
      this.pool,
      `UPDATE nodes SET state = 'dead', state_reason = $3
       WHERE node_id = $1 AND state <> 'dead' AND heartbeat_at < ${NOW} - $2 RETURNING node_id`,
      [nodeId, leaseMs, reason],
    );
    return rows.length === 1;
  }

  async transitionNode(nodeId: string, from: NodeState[], to: NodeState, reason?: string): Promise<boolean> {
    const rows = await query(
      this.pool,
      `UPDATE nodes SET state = $3, state_reason = $4 WHERE node_id = $1 AND state = ANY($2::text[])
       RETURNING node_id`,
      [nodeId, from, to, reason ?? null],
    );
    return rows.length === 1;
  }
}
