/** The volumes repository on SQLite (volume-repository.ts). */
import type Database from 'better-sqlite3';
import { VOLUME_COLUMNS } from './columns.js';
import { fromRow, toColumnValue, type Row } from './sqlite-rows.js';
import type { VolumeRecord, VolumeRepository } from './volume-repository.js';

export class SqliteVolumes implements VolumeRepository {
  constructor(private db: Database.Database) {}

  async insertVolume(v: VolumeRecord): Promise<boolean> {
    const fields = Object.keys(VOLUME_COLUMNS) as Array<keyof VolumeRecord>;
    const cols = fields.map((f) => VOLUME_COLUMNS[f]);
    const sql =
      `INSERT INTO volumes (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')}) ` +
      'ON CONFLICT (team_id, name) DO NOTHING';
    return this.db.prepare(sql).run(...fields.map((f) => toColumnValue(f, v[f]))).changes === 1;
  }

  async getVolume(volumeId: string): Promise<VolumeRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM volumes WHERE volume_id = ?').get(volumeId) as Row | undefined;
    return row ? fromRow<VolumeRecord>(row, VOLUME_COLUMNS) : undefined;
  }

  async findVolumeByName(teamId: string, name: string): Promise<VolumeRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM volumes WHERE team_id = ? AND name = ?').get(teamId, name) as
      | Row
      | undefined;
    return row ? fromRow<VolumeRecord>(row, VOLUME_COLUMNS) : undefined;
  }

  async listVolumes(teamId?: string): Promise<VolumeRecord[]> {
    const rows = (
      teamId
        ? this.db.prepare('SELECT * FROM volumes WHERE team_id = ? ORDER BY created_at, volume_id').all(teamId)
        : this.db.prepare('SELECT * FROM volumes ORDER BY created_at, volume_id').all()
    ) as Row[];
    return rows.map((r) => fromRow<VolumeRecord>(r, VOLUME_COLUMNS));
  }

  async deleteVolume(volumeId: string): Promise<void> {
    this.db.prepare('DELETE FROM volumes WHERE volume_id = ?').run(volumeId);
  }
}
