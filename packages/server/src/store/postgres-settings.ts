/** The settings repository on PostgreSQL (settings-repository.ts). */
import type pg from 'pg';
import { query } from './postgres-rows.js';
import type { SettingsRepository } from './settings-repository.js';

export class PostgresSettings implements SettingsRepository {
  constructor(private pool: pg.Pool) {}

  async getSetting(key: string): Promise<string | undefined> {
    const [row] = await query(this.pool, 'SELECT value FROM settings WHERE key = $1', [key]);
    return row?.value as string | undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await query(
      this.pool,
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }
}
