/**
 * The Store on SQLite (better-sqlite3, WAL mode): opens the file, brings its schema up to date (sqlite-schema.ts) and
 * composes the SQLite repositories on one connection. better-sqlite3 is synchronous, so each statement — and each
 * transaction — runs whole before any other call of this process.
 */
import Database from 'better-sqlite3';
import { bindRepositories, ComposedStore } from './compose.js';
import { SqliteNodes } from './sqlite-nodes.js';
import { SqliteSandboxes } from './sqlite-sandboxes.js';
import { migrateSqlite } from './sqlite-schema.js';
import { SqliteSettings } from './sqlite-settings.js';
import { SqliteSnapshots } from './sqlite-snapshots.js';
import { SqliteTeamStore } from './sqlite-teams.js';
import { SqliteTelemetry } from './sqlite-telemetry.js';
import { SqliteTemplates } from './sqlite-templates.js';
import { SqliteVolumes } from './sqlite-volumes.js';

/**
 * The Store over one SQLite file (`:memory:` for a private in-memory database).
 *
 * @example
 * const store = new SqliteStore('/var/lib/tensor-box/tensor-box.db');
 * await store.setSetting('k', 'v');
 * await store.close();
 */
export class SqliteStore extends ComposedStore {
  private db: Database.Database;
  declare readonly teams: SqliteTeamStore;

  constructor(file: string) {
    super();
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    try {
      migrateSqlite(this.db);
    } catch (err) {
      this.db.close();
      throw new Error(`cannot use the SQLite database ${file}: ${(err as Error).message}`);
    }
    const db = this.db;
    const repos = {
      sandboxes: new SqliteSandboxes(db),
      templates: new SqliteTemplates(db),
      snapshots: new SqliteSnapshots(db),
      telemetry: new SqliteTelemetry(db),
      settings: new SqliteSettings(db),
      nodes: new SqliteNodes(db),
      volumes: new SqliteVolumes(db),
    };
    bindRepositories(this, repos, new SqliteTeamStore(db));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
