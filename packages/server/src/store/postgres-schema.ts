/**
 * The PostgreSQL store's schema as a list of migrations, and `migrate`, which runs those a database lacks. The version
 * lives in `schema_version`; migrations run in one transaction under an advisory lock, so several servers can start
 * against one database at once.
 */
import type pg from 'pg';

/** Key of the advisory lock that serialises migrations between servers (any constant no one else uses). */
const MIGRATION_LOCK = 7_245_019_311;

/**
 * Migrations in order; the database's version is how many have run. Append, never edit: a database migrated by an
 * older server only gets the ones after its version.
 */
export const MIGRATIONS: string[] = [
  `
CREATE TABLE sandboxes (
  sandbox_id TEXT COLLATE "C" PRIMARY KEY,
  template_id TEXT NOT NULL,
  alias TEXT,
  state TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL,
  timeout_ms BIGINT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  metadata JSONB NOT NULL,
  env_vars JSONB NOT NULL,
  on_timeout TEXT NOT NULL,
  auto_resume BOOLEAN NOT NULL,
  envd_access_token TEXT,
  allow_internet_access BOOLEAN NOT NULL,
  runtime JSONB,
  paused_image TEXT
);
CREATE INDEX sandboxes_end_at ON sandboxes (end_at);
CREATE INDEX sandboxes_started ON sandboxes (started_at, sandbox_id);
CREATE TABLE templates (
  template_id TEXT COLLATE "C" PRIMARY KEY,
  build_id TEXT NOT NULL,
  names JSONB NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  layers JSONB NOT NULL,
  status TEXT NOT NULL,
  start_cmd TEXT,
  ready_cmd TEXT,
  public BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  spawn_count INTEGER NOT NULL,
  last_spawned_at BIGINT,
  build_count INTEGER NOT NULL,
  env_vars JSONB,
  default_user TEXT,
  default_workdir TEXT,
  parent_template_id TEXT,
  warm_image TEXT
);
CREATE TABLE template_builds (
  template_id TEXT COLLATE "C" NOT NULL,
  build_id TEXT COLLATE "C" NOT NULL,
  status TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  source TEXT,
  reason JSONB,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT,
  PRIMARY KEY (template_id, build_id)
);
CREATE TABLE build_logs (
  template_id TEXT COLLATE "C" NOT NULL,
  build_id TEXT COLLATE "C" NOT NULL,
  seq INTEGER NOT NULL,
  ts BIGINT NOT NULL,
  level SMALLINT NOT NULL,
  message TEXT NOT NULL,
  step TEXT,
  PRIMARY KEY (template_id, build_id, seq)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE snapshots (
  snapshot_id TEXT COLLATE "C" PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  name TEXT,
  template_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  image_dir TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  env_vars JSONB NOT NULL,
  envd_access_token TEXT,
  allow_internet_access BOOLEAN NOT NULL
);
CREATE INDEX snapshots_created ON snapshots (created_at, snapshot_id);
CREATE INDEX snapshots_name ON snapshots (name);
CREATE TABLE sandbox_logs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  level SMALLINT NOT NULL,
  message TEXT NOT NULL,
  fields JSONB NOT NULL
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
  `ALTER TABLE sandboxes ADD COLUMN node_id TEXT;`,
  // 3: inbound traffic settings (allowPublicTraffic, its token, maskRequestHost).
  `ALTER TABLE sandboxes ADD COLUMN network JSONB;`,
  // 4: teams. What exists belongs to the admin team (the admin key is the install's key before teams).
  `
ALTER TABLE sandboxes ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE templates ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE snapshots ADD COLUMN team_id TEXT NOT NULL DEFAULT 'admin';
CREATE INDEX sandboxes_team ON sandboxes (team_id, state);
CREATE TABLE teams (team_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL, quotas JSONB NOT NULL);
INSERT INTO teams (team_id, name, created_at, quotas) VALUES ('admin', 'admin', (extract(epoch from now()) * 1000)::bigint, '{}');
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
  `ALTER TABLE templates ADD COLUMN tags JSONB;
ALTER TABLE template_builds ADD COLUMN tags JSONB;
ALTER TABLE template_builds ADD COLUMN config JSONB;`,
];

/**
 * Brings the schema to the newest version in one transaction. The advisory lock makes servers that start together
 * take turns: the first migrates, the others then find nothing left to do. A database newer than this server is refused.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const { rows } = await c.query('SELECT version FROM schema_version');
    const version = rows.length ? Number(rows[0].version) : 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`its schema version ${version} is newer than this server's (${MIGRATIONS.length}); upgrade the server`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) await c.query(MIGRATIONS[v]);
    if (!rows.length) await c.query('INSERT INTO schema_version (version) VALUES ($1)', [MIGRATIONS.length]);
    else if (version < MIGRATIONS.length) await c.query('UPDATE schema_version SET version = $1', [MIGRATIONS.length]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
