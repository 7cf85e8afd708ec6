/**
 * Brings a SQLite database to the newest schema version through the shared list (migrations.ts), in one
 * `BEGIN IMMEDIATE` transaction (two processes opening one file take turns). A database made before versioned
 * migrations (tables but no `schema_version`) was kept by a server that added missing columns on every open and so
 * holds version 5's tables and columns: it is checked to have every column this server reads and recorded as version 5;
 * one that lacks some is refused with the missing columns named, and left unchanged.
 */
import type Database from 'better-sqlite3';
import { BUILD_COLUMNS, SANDBOX_COLUMNS, SNAPSHOT_COLUMNS, TEMPLATE_COLUMNS } from './columns.js';
import { checkNotNewer, MIGRATIONS, SCHEMA_VERSION, SQLITE } from './migrations.js';

/** The version of a database made before versioned migrations (PostgreSQL's fifth migration has the same shape). */
export const UNVERSIONED_VERSION = 5;

/** Columns later migrations add (an unversioned database is version 5: it cannot have them yet). */
const ADDED_AFTER_V5 = new Set(['volume_mounts', 'auto_pause_memory', 'pause_mode', 'isolation', 'state_reason']);
const v5 = (columns: Record<string, string>) => Object.values(columns).filter((c) => !ADDED_AFTER_V5.has(c));

/** The columns of the tables an unversioned database must have (the record tables and the teams tables). */
const UNVERSIONED_COLUMNS: Record<string, string[]> = {
  sandboxes: v5(SANDBOX_COLUMNS),
  templates: v5(TEMPLATE_COLUMNS),
  template_builds: v5(BUILD_COLUMNS),
  snapshots: v5(SNAPSHOT_COLUMNS),
  build_logs: ['template_id', 'build_id', 'seq', 'ts', 'level', 'message', 'step'],
  sandbox_logs: ['seq', 'sandbox_id', 'ts', 'level', 'message', 'fields'],
  sandbox_metrics: [
    'sandbox_id',
    'ts',
    'cpu_count',
    'cpu_used_pct',
    'mem_used',
    'mem_total',
    'mem_cache',
    'disk_used',
    'disk_total',
  ],
  settings: ['key', 'value'],
  teams: ['team_id', 'name', 'created_at', 'quotas'],
  api_keys: ['key_id', 'team_id', 'name', 'key_hash', 'mask', 'created_at', 'last_used_at'],
  run_claims: ['claim_id', 'team_id', 'cpu_count', 'memory_mb', 'node_id', 'created_at'],
};

/** Runs the migrations the database lacks; throws (changing nothing) when it is newer or an unknown old shape. */
export function migrateSqlite(db: Database.Database): void {
  db.transaction(() => {
    const version = currentVersion(db);
    checkNotNewer(version);
    if (version === SCHEMA_VERSION) return;
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v](SQLITE));
    db.prepare('DELETE FROM schema_version').run();
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
  }).immediate();
}

function currentVersion(db: Database.Database): number {
  const hasTable = (name: string) =>
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  if (hasTable('schema_version')) {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    if (row) return row.version;
  }
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  if (!hasTable('sandboxes')) return 0;
  checkUnversioned(db);
  return UNVERSIONED_VERSION;
}

/** Each column is selected once by name: SQLite rejects the statement when one is missing. */
function checkUnversioned(db: Database.Database): void {
  const missing: string[] = [];
  for (const [table, columns] of Object.entries(UNVERSIONED_COLUMNS)) {
    for (const c of columns) {
      try {
        db.prepare(`SELECT ${c} FROM ${table} LIMIT 0`);
      } catch {
        missing.push(`${table}.${c}`);
      }
    }
  }
  if (missing.length) {
    throw new Error(
      `this database was made before versioned schema migrations and lacks ${missing.join(', ')}; ` +
        'open it once with a server released before versioned migrations (it adds them), then with this one',
    );
  }
}
