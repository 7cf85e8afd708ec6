/** The snapshots repository on SQLite (snapshot-repository.ts). */
import type Database from 'better-sqlite3';
import { SNAPSHOT_COLUMNS } from './columns.js';
import type { SnapshotFilter, SnapshotRecord, SnapshotRepository } from './snapshot-repository.js';
import { insertRecord, rowTo, type Row } from './sqlite-rows.js';

export class SqliteSnapshots implements SnapshotRepository {
  constructor(private db: Database.Database) {}

  async insertSnapshot(r: SnapshotRecord): Promise<void> {
    insertRecord(this.db, 'snapshots', SNAPSHOT_COLUMNS, r);
  }

  async findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined> {
    const row = this.db
      .prepare(
        'SELECT * FROM snapshots WHERE snapshot_id = ? OR name = ? ' +
          'ORDER BY snapshot_id = ? DESC, created_at DESC LIMIT 1',
      )
      .get(idOrName, idOrName, idOrName) as Row | undefined;
    return row ? rowTo.snapshot(row) : undefined;
  }

  async listSnapshots(f: SnapshotFilter): Promise<SnapshotRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.sandboxId) where.push('sandbox_id = ?'), args.push(f.sandboxId);
    if (f.name) where.push('name = ?'), args.push(f.name);
    if (f.teamId) where.push('team_id = ?'), args.push(f.teamId);
    if (f.after) {
      where.push('(created_at < ? OR (created_at = ? AND snapshot_id < ?))');
      args.push(f.after.createdAt, f.after.createdAt, f.after.snapshotId);
    }
    const sql =
      `SELECT * FROM snapshots ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      'ORDER BY created_at DESC, snapshot_id DESC LIMIT ?';
    const rows = this.db.prepare(sql).all(...args, f.limit ?? 100) as Row[];
    return rows.map(rowTo.snapshot);
  }

  async deleteSnapshot(id: string): Promise<void> {
    this.db.prepare('DELETE FROM snapshots WHERE snapshot_id = ?').run(id);
  }
}
