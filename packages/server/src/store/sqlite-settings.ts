/** The settings repository on SQLite (settings-repository.ts). */
import type Database from 'better-sqlite3';
import type { SettingsRepository } from './settings-repository.js';

export class SqliteSettings implements SettingsRepository {
  constructor(private db: Database.Database) {}

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(key, value);
  }
}
