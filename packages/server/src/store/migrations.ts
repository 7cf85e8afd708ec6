/**
 * The schema of both stores as one numbered list of migrations: the same numbering and statements for SQLite and
 * PostgreSQL, the few types that differ filled in per dialect (below). A database's version is how many migrations
 * it has run (table `schema_version`); sqlite-schema.ts and postgres-schema.ts run the ones it lacks. Append, never
 * edit: a database migrated by an older server only gets the migrations after its version.
 */

/** What differs between the two SQL dialects in the statements below. */
export interface Dialect {
  /** IDs that cursors page by: bytewise order (SQLite's default collation already is). */
  sortedText: string;
  /** Maps and lists. */
  json: string;
  bool: string;
  /** An increasing 64-bit row number the database assigns. */
  rowId: string;
  /** The current time in epoch milliseconds, as an SQL expression. */
  nowMs: string;
}

export const POSTGRES: Dialect = {
  sortedText: 'TEXT COLLATE "C"',
  json: 'JSONB',
  bool: 'BOOLEAN',
  rowId: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
  nowMs: '(extract(epoch from now()) * 1000)::bigint',
};

/** SQLite takes BIGINT, SMALLINT and DOUBLE PRECISION as they are (integer and real affinity). */
export const SQLITE: Dialect = {
  sortedText: 'TEXT',
  json: 'TEXT',
  bool: 'INTEGER',
  rowId: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  nowMs: `(CAST(strftime('%s', 'now') AS INTEGER) * 1000)`,
};

/** Migrations in order (version n has run the first n). */
export const MIGRATIONS: Array<(d: Dialect) => string> = [
  // 1: the first schema.
  (d) => `
CREATE TABLE sandboxes (
  sandbox_id ${d.sortedText} PRIMARY KEY,
  template_id TEXT NOT NULL,
  alias TEXT,
  state TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL,
  timeout_ms BIGINT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  metadata ${d.json} NOT NULL,
  env_vars ${d.json} NOT NULL,
  on_timeout TEXT NOT NULL,
  auto_resume ${d.bool} NOT NULL,
  envd_access_token TEXT,
  allow_internet_access ${d.bool} NOT NULL,
  runtime ${d.json},
  paused_image TEXT
);
CREATE INDEX sandboxes_end_at ON sandboxes (end_at);
CREATE INDEX sandboxes_started ON sandboxes (started_at, sandbox_id);
CREATE TABLE templates (
  template_id ${d.sortedText} PRIMARY KEY,
  build_id TEXT NOT NULL,
  names ${d.json} NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  layers ${d.json} NOT NULL,
  status TEXT NOT NULL,
  start_cmd TEXT,
  ready_cmd TEXT,
  public ${d.bool} NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  spawn_count INTEGER NOT NULL,
  last_spawned_at BIGINT,
  build_count INTEGER NOT NULL,
  env_vars ${d.json},
  default_user TEXT,
  default_workdir TEXT,
  parent_template_id TEXT,
  warm_image TEXT
);
CREATE TABLE template_builds (
  template_id ${d.sortedText} NOT NULL,
  build_id ${d.sortedText} NOT NULL,
  status TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  source TEXT,
  reason ${d.json},
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT,
  PRIMARY KEY (template_id, build_id)
);
CREATE TABLE build_logs (
  template_id ${d.sortedText} NOT NULL,
  build_id ${d.sortedText} NOT NULL,
  seq INTEGER NOT NULL,
  ts BIGINT NOT NULL,
  level SMALLINT NOT NULL,
  message TEXT NOT NULL,
  step TEXT,
  PRIMARY KEY (template_id, build_id, seq)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE snapshots (
  snapshot_id ${d.sortedText} PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  name TEXT,
  template_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  image_dir TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  env_vars ${d.json} NOT NULL,
  envd_access_token TEXT,
  allow_internet_access ${d.bool} NOT NULL
);
CREATE INDEX snapshots_created ON snapshots (created_at, snapshot_id);
CREATE INDEX snapshots_name ON snapshots (name);
CREATE TABLE sandbox_logs (
  seq ${d.rowId},
  sandbox_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  level SMALLINT NOT NULL,
  message TEXT NOT NULL,
  fields ${d.json} NOT NULL
);
CREATE INDEX sandbox_logs_by_sandbox ON sandbox_logs (sandbox_id, ts, seq);
CREATE TABLE sandbox_metrics (
  sandbox_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  cpu_count INTEGER NOT NULL,
  cpu_used_pct DOUBLE PRECISION NOT NULL,
  mem_used BIGINT NOT NULL,
  mem_total BIGINT NOT NULL,
  mem_cache BIGINT NOT NULL,
  disk_used BIGINT NOT NULL,
  disk_total BIGINT NOT NULL,
  PRIMARY KEY (sandbox_id, ts)
);
`,
  // 2: the node running a sandbox (several control planes on one database).
  () => `ALTER TABLE sandboxes ADD COLUMN node_id TEXT;`,
  // 3: inbound traffic settings (allowPublicTraffic, its token, maskRequestHost).
  (d) => `ALTER TABLE sandboxes ADD COLUMN network ${d.json};`,
  // 4: teams. What exists belongs to the admin team (the admin key is the install's key before teams).
  (d) => `
ALTER TABLE sandboxes ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE templates ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE snapshots ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
CREATE INDEX sandboxes_team ON sandboxes (team_id, state);
CREATE TABLE teams (team_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL, quotas ${d.json} NOT \
NULL);
INSERT INTO teams (team_id, name, created_at, quotas) VALUES ('admin', 'admin', ${d.nowMs}, '{}');
CREATE TABLE api_keys (
  key_id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  mask TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE TABLE run_claims (
  claim_id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`,
  // 5: template tags (tag → build) and what each ready build starts with.
  (d) => `ALTER TABLE templates ADD COLUMN tags ${d.json};
ALTER TABLE template_builds ADD COLUMN tags ${d.json};
ALTER TABLE template_builds ADD COLUMN config ${d.json};`,
  // 6: indexes that SQLite databases made before versioned migrations lack (PostgreSQL's first schema has them).
  () => `CREATE INDEX IF NOT EXISTS sandboxes_started ON sandboxes (started_at, sandbox_id);
CREATE INDEX IF NOT EXISTS snapshots_name ON snapshots (name);`,
  // 7: volumes (a team's named persistent file systems) and the volumes each sandbox and snapshot mounts.
  (d) => `CREATE TABLE volumes (
  volume_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  team_id TEXT NOT NULL,
  size_mb INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX volumes_team_name ON volumes (team_id, name);
ALTER TABLE sandboxes ADD COLUMN volume_mounts ${d.json};
ALTER TABLE snapshots ADD COLUMN volume_mounts ${d.json};`,
  // 8: filesystem-only pause — the timeout pause's kind (NULL: with memory) and how a paused sandbox was paused.
  (d) => `ALTER TABLE sandboxes ADD COLUMN auto_pause_memory ${d.bool};
ALTER TABLE sandboxes ADD COLUMN pause_mode TEXT;`,
  // 9: each sandbox's and snapshot's isolation (the driver that runs it), a template's default. Rows from before
  // are containers (NULL reads as `container`); a template without one follows the server's default.
  () => `ALTER TABLE sandboxes ADD COLUMN isolation TEXT;
ALTER TABLE snapshots ADD COLUMN isolation TEXT;
ALTER TABLE templates ADD COLUMN isolation TEXT;`,
  // 10: the cluster's nodes (registry, heartbeats, leases) and why a sandbox is in its state (`lost`: its node died).
  () => `CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  free_memory_mb INTEGER NOT NULL,
  sandbox_slots INTEGER NOT NULL,
  running_sandboxes INTEGER NOT NULL,
  registered_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  state_reason TEXT
);
ALTER TABLE sandboxes ADD COLUMN state_reason TEXT;`,
];

/** The newest schema version this server knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** A database newer than this server is refused rather than misread. */
export function checkNotNewer(version: number): void {
  if (version > SCHEMA_VERSION) {
    const why = `its schema version ${version} is newer than this server's (${SCHEMA_VERSION})`;
    throw new Error(`${why}; upgrade the server`);
  }
}
