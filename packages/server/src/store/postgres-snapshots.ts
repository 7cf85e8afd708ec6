/** The snapshots repository on PostgreSQL (snapshot-repository.ts). */
import type pg from 'pg';
import { SNAPSHOT_COLUMNS } from './columns.js';
import { query, rowTo, upsertRecord } from './postgres-rows.js';
import type { SnapshotFilter, SnapshotRecord, SnapshotRepository } from './snapshot-repository.js';

export class PostgresSnapshots implements SnapshotRepository {
  constructor(private pool: pg.Pool) {}

  async insertSnapshot(s: SnapshotRecord): Promise<void> {
    await upsertRecord(this.pool, 'snapshots', SNAPSHOT_COLUMNS, ['snapshot_id'], s);
  }

  async findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined> {
    const [row] = await query(
      this.pool,
      'SELECT * FROM snapshots WHERE snapshot_id = $1 OR name = $1 ' +
        'ORDER BY (snapshot_id = $1) DESC, created_at DESC LIMIT 1',
      [idOrName],
    );
    return row ? rowTo.snapshot(row) : undefined;
  }

  async listSnapshots(f: SnapshotFilter): Promise<SnapshotRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (f.sandboxId) where.push(`sandbox_id = ${arg(f.sandboxId)}`);
    if (f.name) where.push(`name = ${arg(f.name)}`);
    if (f.teamId) where.push(`team_id = ${arg(f.teamId)}`);
    if (f.after) {
      const t = arg(f.after.createdAt);
      where.push(`(created_at < ${t} OR (created_at = ${t} AND snapshot_id < ${arg(f.after.snapshotId)}))`);
    }
    const sql =
      `SELECT * FROM snapshots ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY created_at DESC, snapshot_id DESC LIMIT ${arg(f.limit ?? 100)}`;
    return (await query(this.pool, sql, args)).map(rowTo.snapshot);
  }

  async deleteSnapshot(id: string): Promise<void> {
    await query(this.pool, 'DELETE FROM snapshots WHERE snapshot_id = $1', [id]);
  }
}
