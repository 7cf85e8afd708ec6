/**
 * SQLite implementation of the Store (better-sqlite3, WAL mode). The schema is created on open and versioned through
 * `PRAGMA user_version`; JSON columns hold maps and lists.
 */
import Database from 'better-sqlite3';
import { BOOL_FIELDS, BUILD_COLUMNS, JSON_FIELDS, SANDBOX_COLUMNS, SNAPSHOT_COLUMNS, TEMPLATE_COLUMNS, metricFromRow, ownerValue } from './columns.js';
import { migrateTeams, SqliteTeamStore } from './sqlite-teams.js';
import type { BuildLogEntry, LogEntry, LogLevel, LogQuery, MetricSample, SandboxFilter, SandboxRecord, SandboxState, SnapshotRecord, Store, TemplateBuildRecord, TemplateRecord } from './store.js';

const SCHEMA_VERSION = 4;
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sandboxes (
  sandbox_id TEXT PRIMARY KEY,
  template_id TEXT NOT NULL,
  alias TEXT,
  state TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  env_vars TEXT NOT NULL,
  on_timeout TEXT NOT NULL,
  auto_resume INTEGER NOT NULL,
  envd_access_token TEXT,
  allow_internet_access INTEGER NOT NULL,
  runtime TEXT,
  paused_image TEXT,
  node_id TEXT
);
CREATE INDEX IF NOT EXISTS sandboxes_end_at ON sandboxes(end_at);
CREATE TABLE IF NOT EXISTS templates (
  template_id TEXT PRIMARY KEY,
  build_id TEXT NOT NULL,
  names TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  layers TEXT NOT NULL,
  status TEXT NOT NULL,
  start_cmd TEXT,
  ready_cmd TEXT,
  public INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  spawn_count INTEGER NOT NULL,
  last_spawned_at INTEGER,
  build_count INTEGER NOT NULL,
  env_vars TEXT,
  default_user TEXT,
  default_workdir TEXT,
  parent_template_id TEXT,
  warm_image TEXT,
  tags TEXT
);
CREATE TABLE IF NOT EXISTS template_builds (
  template_id TEXT NOT NULL,
  build_id TEXT NOT NULL,
  status TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  source TEXT,
  reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER,
  tags TEXT,
  config TEXT,
  PRIMARY KEY (template_id, build_id)
);
CREATE TABLE IF NOT EXISTS build_logs (
  template_id TEXT NOT NULL,
  build_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  level INTEGER NOT NULL,
  message TEXT NOT NULL,
  step TEXT,
  PRIMARY KEY (template_id, build_id, seq)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
  snapshot_id TEXT PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  name TEXT,
  template_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  image_dir TEXT NOT NULL,
  cpu_count INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  disk_size_mb INTEGER NOT NULL,
  env_vars TEXT NOT NULL,
  envd_access_token TEXT,
  allow_internet_access INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_created ON snapshots(created_at, snapshot_id);
CREATE TABLE IF NOT EXISTS sandbox_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  level INTEGER NOT NULL,
  message TEXT NOT NULL,
  fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sandbox_logs_by_sandbox ON sandbox_logs(sandbox_id, ts, seq);
CREATE TABLE IF NOT EXISTS sandbox_metrics (
  sandbox_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  cpu_count INTEGER NOT NULL,
  cpu_used_pct REAL NOT NULL,
  mem_used INTEGER NOT NULL,
  mem_total INTEGER NOT NULL,
  mem_cache INTEGER NOT NULL,
  disk_used INTEGER NOT NULL,
  disk_total INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, ts)
);
`;

type Row = Record<string, unknown>;

function toColumnValue(field: string, value: unknown): unknown {
  value = ownerValue(field, value);
  if (value === undefined || value === null) return null;
  if (JSON_FIELDS.has(field)) return JSON.stringify(value);
  if (BOOL_FIELDS.has(field)) return value ? 1 : 0;
  return value;
}

function fromRow<T>(row: Row, columns: Record<string, string>): T {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(columns)) {
    const v = row[column];
    if (v === null || v === undefined) continue;
    if (JSON_FIELDS.has(field)) out[field] = JSON.parse(v as string);
    else if (BOOL_FIELDS.has(field)) out[field] = v === 1;
    else out[field] = v;
  }
  return out as T;
}

export class SqliteStore implements Store {
  private db: Database.Database;
  readonly teams: SqliteTeamStore;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // Databases made before pause/resume existed lack this column.
    const cols = (this.db.prepare(`PRAGMA table_info(sandboxes)`).all() as { name: string }[]).map((c) => c.name);
    if (!cols.includes('paused_image')) this.db.exec('ALTER TABLE sandboxes ADD COLUMN paused_image TEXT');
    if (!cols.includes('node_id')) this.db.exec('ALTER TABLE sandboxes ADD COLUMN node_id TEXT');
    if (!cols.includes('network')) this.db.exec('ALTER TABLE sandboxes ADD COLUMN network TEXT');
    // ... and templates made before template builds existed lack these.
    const tcols = (this.db.prepare(`PRAGMA table_info(templates)`).all() as { name: string }[]).map((c) => c.name);
    for (const c of ['env_vars', 'default_user', 'default_workdir', 'parent_template_id', 'warm_image', 'tags']) {
      if (!tcols.includes(c)) this.db.exec(`ALTER TABLE templates ADD COLUMN ${c} TEXT`);
    }
    // ... and builds made before template tags existed lack these.
    const bcols = (this.db.prepare(`PRAGMA table_info(template_builds)`).all() as { name: string }[]).map((c) => c.name);
    for (const c of ['tags', 'config']) {
      if (!bcols.includes(c)) this.db.exec(`ALTER TABLE template_builds ADD COLUMN ${c} TEXT`);
    }
    migrateTeams(this.db);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.teams = new SqliteTeamStore(this.db);
  }

  private insert(table: string, columns: Record<string, string>, record: object): void {
    const fields = Object.keys(columns);
    const cols = fields.map((f) => columns[f]);
    const sql = `INSERT OR REPLACE INTO ${table} (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`;
    this.db.prepare(sql).run(...fields.map((f) => toColumnValue(f, (record as Row)[f])));
  }

  async insertSandbox(s: SandboxRecord): Promise<void> {
    this.insert('sandboxes', SANDBOX_COLUMNS, s);
  }

  async updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (fields.length === 0) return;
    const sets = fields.map((f) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = ?`).join(', ');
    this.db
      .prepare(`UPDATE sandboxes SET ${sets} WHERE sandbox_id = ?`)
      .run(...fields.map((f) => toColumnValue(f, (patch as Row)[f])), id);
  }

  async transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (from.length === 0) return false;
    const sets = ['sandbox_id = sandbox_id', ...fields.map((f) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = ?`)];
    const info = this.db
      .prepare(`UPDATE sandboxes SET ${sets.join(', ')} WHERE sandbox_id = ? AND state IN (${from.map(() => '?').join(', ')})`)
      .run(...fields.map((f) => toColumnValue(f, (patch as Row)[f])), id, ...from);
    return info.changes === 1;
  }

  async insertSnapshot(r: SnapshotRecord): Promise<void> {
    this.insert('snapshots', SNAPSHOT_COLUMNS, r);
  }

  async findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined> {
    const row = this.db
      .prepare('SELECT * FROM snapshots WHERE snapshot_id = ? OR name = ? ORDER BY snapshot_id = ? DESC, created_at DESC LIMIT 1')
      .get(idOrName, idOrName, idOrName) as Row | undefined;
    return row ? fromRow<SnapshotRecord>(row, SNAPSHOT_COLUMNS) : undefined;
  }

  async listSnapshots(f: { sandboxId?: string; name?: string; teamId?: string; after?: { createdAt: number; snapshotId: string }; limit?: number }): Promise<SnapshotRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.sandboxId) (where.push('sandbox_id = ?'), args.push(f.sandboxId));
    if (f.name) (where.push('name = ?'), args.push(f.name));
    if (f.teamId) (where.push('team_id = ?'), args.push(f.teamId));
    if (f.after) (where.push('(created_at < ? OR (created_at = ? AND snapshot_id < ?))'), args.push(f.after.createdAt, f.after.createdAt, f.after.snapshotId));
    const sql = `SELECT * FROM snapshots ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, snapshot_id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, f.limit ?? 100) as Row[];
    return rows.map((r) => fromRow<SnapshotRecord>(r, SNAPSHOT_COLUMNS));
  }

  async deleteSnapshot(id: string): Promise<void> {
    this.db.prepare('DELETE FROM snapshots WHERE snapshot_id = ?').run(id);
  }

  async getSandbox(id: string): Promise<SandboxRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE sandbox_id = ?').get(id) as Row | undefined;
    return row ? fromRow<SandboxRecord>(row, SANDBOX_COLUMNS) : undefined;
  }

  async listSandboxes(filter: SandboxFilter = {}): Promise<SandboxRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      args.push(...filter.states);
    }
    if (filter.teamId) (where.push('team_id = ?'), args.push(filter.teamId));
    for (const [k, v] of Object.entries(filter.metadata ?? {})) {
      // json_each rather than a JSON path: a path cannot spell every key (a double quote in it ends the label).
      where.push(`EXISTS (SELECT 1 FROM json_each(sandboxes.metadata) WHERE key = ? AND value = ?)`);
      args.push(k, v);
    }
    if (filter.templateId !== undefined) {
      where.push('template_id = ?');
      args.push(filter.templateId);
    }
    if (filter.startedAfterMs !== undefined) {
      where.push('started_at >= ?');
      args.push(filter.startedAfterMs);
    }
    const asc = filter.order === 'asc';
    if (filter.after) {
      const cmp = asc ? '>' : '<';
      where.push(`(started_at ${cmp} ? OR (started_at = ? AND sandbox_id ${cmp} ?))`);
      args.push(filter.after.startedAt, filter.after.startedAt, filter.after.sandboxId);
    }
    const dir = asc ? 'ASC' : 'DESC';
    const sql =
      `SELECT * FROM sandboxes ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ` +
      `ORDER BY started_at ${dir}, sandbox_id ${dir} ${filter.limit ? 'LIMIT ' + Number(filter.limit) : ''}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => fromRow<SandboxRecord>(r, SANDBOX_COLUMNS));
  }

  async expiredSandboxes(now: number): Promise<SandboxRecord[]> {
    const rows = this.db.prepare(`SELECT * FROM sandboxes WHERE state IN ('running', 'paused') AND end_at <= ?`).all(now) as Row[];
    return rows.map((r) => fromRow<SandboxRecord>(r, SANDBOX_COLUMNS));
  }

  async deleteSandbox(id: string): Promise<void> {
    this.db.prepare('DELETE FROM sandboxes WHERE sandbox_id = ?').run(id);
  }

  async upsertTemplate(t: TemplateRecord): Promise<void> {
    this.insert('templates', TEMPLATE_COLUMNS, t);
  }

  async findTemplate(idOrName: string): Promise<TemplateRecord | undefined> {
    const row = this.db
      .prepare(
        // An ID match wins over another template that has the same string as a name.
        `SELECT * FROM templates WHERE template_id = ? OR EXISTS (SELECT 1 FROM json_each(templates.names) WHERE value = ?) ` +
          `ORDER BY template_id = ? DESC, created_at LIMIT 1`,
      )
      .get(idOrName, idOrName, idOrName) as Row | undefined;
    return row ? fromRow<TemplateRecord>(row, TEMPLATE_COLUMNS) : undefined;
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    const rows = this.db.prepare('SELECT * FROM templates ORDER BY created_at, template_id').all() as Row[];
    return rows.map((r) => fromRow<TemplateRecord>(r, TEMPLATE_COLUMNS));
  }

  async deleteTemplate(id: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM build_logs WHERE template_id = ?').run(id);
      this.db.prepare('DELETE FROM template_builds WHERE template_id = ?').run(id);
      this.db.prepare('DELETE FROM templates WHERE template_id = ?').run(id);
    })();
  }

  async upsertBuild(b: TemplateBuildRecord): Promise<void> {
    this.insert('template_builds', BUILD_COLUMNS, b);
  }

  async getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM template_builds WHERE template_id = ? AND build_id = ?').get(templateId, buildId) as Row | undefined;
    return row ? fromRow<TemplateBuildRecord>(row, BUILD_COLUMNS) : undefined;
  }

  async listBuilds(templateId: string): Promise<TemplateBuildRecord[]> {
    const rows = this.db.prepare('SELECT * FROM template_builds WHERE template_id = ? ORDER BY created_at DESC, build_id DESC').all(templateId) as Row[];
    return rows.map((r) => fromRow<TemplateBuildRecord>(r, BUILD_COLUMNS));
  }

  async appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
    return this.db.transaction(() => {
      const { n } = this.db
        .prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM build_logs WHERE template_id = ? AND build_id = ?')
        .get(e.templateId, e.buildId) as { n: number };
      this.db
        .prepare('INSERT INTO build_logs (template_id, build_id, seq, ts, level, message, step) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(e.templateId, e.buildId, n, e.timestamp, LEVELS.indexOf(e.level), e.message, e.step ?? null);
      return { ...e, seq: n };
    })();
  }

  async queryBuildLogs(templateId: string, buildId: string, q: { offset: number; limit: number; minLevel?: LogLevel }): Promise<BuildLogEntry[]> {
    const rows = this.db
      .prepare('SELECT * FROM build_logs WHERE template_id = ? AND build_id = ? AND seq >= ? AND level >= ? ORDER BY seq LIMIT ?')
      .all(templateId, buildId, q.offset, q.minLevel ? LEVELS.indexOf(q.minLevel) : 0, q.limit) as Row[];
    return rows.map((r) => ({
      templateId: r.template_id as string,
      buildId: r.build_id as string,
      seq: r.seq as number,
      timestamp: r.ts as number,
      level: LEVELS[r.level as number],
      message: r.message as string,
      ...(r.step ? { step: r.step as string } : {}),
    }));
  }

  async appendLog(e: Omit<LogEntry, 'seq'>): Promise<void> {
    this.db
      .prepare('INSERT INTO sandbox_logs (sandbox_id, ts, level, message, fields) VALUES (?, ?, ?, ?, ?)')
      .run(e.sandboxId, e.timestamp, LEVELS.indexOf(e.level), e.message, JSON.stringify(e.fields));
  }

  async queryLogs(sandboxId: string, q: LogQuery): Promise<LogEntry[]> {
    const where = ['sandbox_id = ?'];
    const args: unknown[] = [sandboxId];
    if (q.cursor !== undefined) {
      where.push(q.direction === 'forward' ? 'ts > ?' : 'ts < ?');
      args.push(q.cursor);
    }
    if (q.minLevel) {
      where.push('level >= ?');
      args.push(LEVELS.indexOf(q.minLevel));
    }
    if (q.search) {
      where.push("instr(lower(message), lower(?)) > 0");
      args.push(q.search);
    }
    const order = q.direction === 'forward' ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(`SELECT * FROM sandbox_logs WHERE ${where.join(' AND ')} ORDER BY ts ${order}, seq ${order} LIMIT ?`)
      .all(...args, q.limit) as Row[];
    return rows.map((r) => ({
      sandboxId: r.sandbox_id as string,
      timestamp: r.ts as number,
      seq: r.seq as number,
      level: LEVELS[r.level as number],
      message: r.message as string,
      fields: JSON.parse(r.fields as string),
    }));
  }

  async pruneLogs(before: number): Promise<void> {
    this.db.prepare('DELETE FROM sandbox_logs WHERE ts < ? AND sandbox_id NOT IN (SELECT sandbox_id FROM sandboxes)').run(before);
  }

  async appendMetric(m: MetricSample): Promise<void> {
    this.db
      .prepare('INSERT OR REPLACE INTO sandbox_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.sandboxId, m.timestamp, m.cpuCount, m.cpuUsedPct, m.memUsed, m.memTotal, m.memCache, m.diskUsed, m.diskTotal);
  }

  async queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]> {
    const rows = this.db
      .prepare('SELECT * FROM sandbox_metrics WHERE sandbox_id = ? AND ts >= ? AND ts <= ? ORDER BY ts')
      .all(sandboxId, startMs, endMs) as Row[];
    return rows.map((r) => metricFromRow(r));
  }

  async latestMetrics(sandboxIds: string[]): Promise<MetricSample[]> {
    if (!sandboxIds.length) return [];
    const rows = this.db
      .prepare(
        `SELECT m.* FROM sandbox_metrics m JOIN (SELECT sandbox_id, MAX(ts) AS ts FROM sandbox_metrics WHERE sandbox_id IN (${sandboxIds.map(() => '?').join(',')}) GROUP BY sandbox_id) l ON m.sandbox_id = l.sandbox_id AND m.ts = l.ts`,
      )
      .all(...sandboxIds) as Row[];
    return rows.map((r) => metricFromRow(r));
  }

  async pruneMetrics(before: number): Promise<void> {
    this.db.prepare('DELETE FROM sandbox_metrics WHERE ts < ? OR sandbox_id NOT IN (SELECT sandbox_id FROM sandboxes)').run(before);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(key, value);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
