/** The volumes repository on PostgreSQL (volume-repository.ts). */
import type pg from 'pg';
import { VOLUME_COLUMNS } from './columns.js';
import { fromRow, query } from './postgres-rows.js';
import type { VolumeRecord, VolumeRepository } from './volume-repository.js';

export class PostgresVolumes implements VolumeRepository {
  constructor(private pool: pg.Pool) {}

  async insertVolume(v: VolumeRecord): Promise<boolean> {
    const rows = await query(
      this.pool,
      'INSERT INTO volumes (volume_id, name, team_id, size_mb, created_at) VALUES ($1, $2, $3, $4, $5) ' +
        'ON CONFLICT (team_id, name) DO NOTHING RETURNING volume_id',
      [v.volumeId, v.name, v.teamId, v.sizeMB, v.createdAt],
    );
    return rows.length === 1;
  }

  async getVolume(volumeId: string): Promise<VolumeRecord | undefined> {
    const [row] = await query(this.pool, 'SELECT * FROM volumes WHERE volume_id = $1', [volumeId]);
    return row ? fromRow<VolumeRecord>(row, VOLUME_COLUMNS) : undefined;
  }

  async findVolumeByName(teamId: string, name: string): Promise<VolumeRecord | undefined> {
    const [row] = await query(this.pool, 'SELECT * FROM volumes WHERE team_id = $1 AND name = $2', [teamId, name]);
    return row ? fromRow<VolumeRecord>(row, VOLUME_COLUMNS) : undefined;
  }

  async listVolumes(teamId?: string): Promise<VolumeRecord[]> {
    const rows = teamId
      ? await query(this.pool, 'SELECT * FROM volumes WHERE team_id = $1 ORDER BY created_at, volume_id', [teamId])
      : await query(this.pool, 'SELECT * FROM volumes ORDER BY created_at, volume_id', []);
    return rows.map((r) => fromRow<VolumeRecord>(r, VOLUME_COLUMNS));
  }

  async deleteVolume(volumeId: string): Promise<void> {
    await query(this.pool, 'DELETE FROM volumes WHERE volume_id = $1', [volumeId]);
  }
}
