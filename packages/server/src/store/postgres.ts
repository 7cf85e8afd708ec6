/**
 * PostgreSQL implementation of the Store (`pg`, one connection pool), used when DATABASE_URL is set. Same semantics as
 * the SQLite store: maps and lists live in JSONB columns, times are BIGINT epoch milliseconds, IDs sort bytewise
 * (`COLLATE "C"`, like SQLite) so cursors page the same way. The schema (postgres-schema.ts) is brought up to date on
 * connect.
 */
import pg from 'pg';
import { BUILD_COLUMNS, JSON_FIELDS, SANDBOX_COLUMNS, SNAPSHOT_COLUMNS, TEMPLATE_COLUMNS, metricFromRow, ownerValue } from './columns.js';
import { PostgresTeamStore } from './postgres-teams.js';
import { migrate } from './postgres-schema.js';
import type { BuildLogEntry, LogEntry, LogLevel, LogQuery, MetricSample, SandboxFilter, SandboxRecord, SandboxState, SnapshotRecord, Store, TemplateBuildRecord, TemplateRecord } from './store.js';

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

type Row = Record<string, unknown>;


/** JSON values are sent as text: `pg` would turn a JS array into a PostgreSQL array, not a JSON one. */
function toParam(field: string, value: unknown): unknown {
  value = ownerValue(field, value);
  if (value === undefined || value === null) return null;
  return JSON_FIELDS.has(field) ? JSON.stringify(value) : value;
}

/** Absent optional fields stay absent (not `undefined`), as in the SQLite store. JSONB and BOOLEAN arrive typed. */
function fromRow<T>(row: Row, columns: Record<string, string>): T {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(columns)) {
    const v = row[column];
    if (v !== null && v !== undefined) out[field] = v;
  }
  return out as T;
}

/** BIGINT (oid 20) as a JS number: epoch ms and byte counts fit in 2^53, and records promise numbers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

/** Options of `PostgresStore.connect`. */
export interface PostgresStoreOptions {
  /** Gives up connecting (at start and later) after this long, in ms. Default 10 s. */
  connectTimeoutMs?: number;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** Where errors of idle connections go (the pool drops such a connection and opens a new one when needed). */
  log?: (msg: string) => void;
}

/**
 * The Store over PostgreSQL. Open it with `PostgresStore.connect`, which checks the database is reachable and brings
 * the schema up to date; `close()` ends the pool.
 *
 * @example
 * const store = await PostgresStore.connect('postgres://tb:secret@db.internal/tensor_box');
 * await store.setSetting('k', 'v');
 * await store.close();
 */
export class PostgresStore implements Store {
  /** Appends of build log lines in flight per build, so lines written by this process keep their order. */
  private buildLogTails = new Map<string, Promise<unknown>>();

  readonly teams: PostgresTeamStore;

  private constructor(private pool: pg.Pool) {
    this.teams = new PostgresTeamStore(pool);
  }

  /** Connects, creates or migrates the schema, and returns the store; rejects with a clear message when it cannot. */
  static async connect(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      max: opts.maxConnections ?? 10,
      types,
    });
    pool.on('error', (err) => opts.log?.(`PostgreSQL connection error (will reconnect): ${err.message}`));
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot use the PostgreSQL database at ${redactUrl(url)} (DATABASE_URL): ${(err as Error).message || String(err)}`);
    }
    return new PostgresStore(pool);
  }

  private async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, args)).rows;
  }

  /** INSERT … ON CONFLICT DO UPDATE: the whole record replaces the stored one, like SQLite's INSERT OR REPLACE. */
  private async upsert(table: string, columns: Record<string, string>, key: string[], record: object): Promise<void> {
    const fields = Object.keys(columns);
    const cols = fields.map((f) => columns[f]);
    const updates = cols.filter((c) => !key.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
    await this.q(
      `INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')}) ` +
        `ON CONFLICT (${key.join(',')}) DO UPDATE SET ${updates.join(', ')}`,
      fields.map((f) => toParam(f, (record as Row)[f])),
    );
  }

  async insertSandbox(s: SandboxRecord): Promise<void> {
    await this.upsert('sandboxes', SANDBOX_COLUMNS, ['sandbox_id'], s);
  }

  async updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (fields.length === 0) return;
    const sets = fields.map((f, i) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = $${i + 1}`).join(', ');
    await this.q(`UPDATE sandboxes SET ${sets} WHERE sandbox_id = $${fields.length + 1}`, [
      ...fields.map((f) => toParam(f, (patch as Row)[f])),
      id,
    ]);
  }

  async transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (from.length === 0) return false;
    const sets = ['sandbox_id = sandbox_id', ...fields.map((f, i) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = $${i + 1}`)];
    const n = fields.length;
    const rows = await this.q(
      `UPDATE sandboxes SET ${sets.join(', ')} WHERE sandbox_id = $${n + 1} AND state = ANY($${n + 2}::text[]) RETURNING sandbox_id`,
      [...fields.map((f) => toParam(f, (patch as Row)[f])), id, from],
    );
    return rows.length === 1;
  }

  async getSandbox(id: string): Promise<SandboxRecord | undefined> {
    const [row] = await this.q('SELECT * FROM sandboxes WHERE sandbox_id = $1', [id]);
    return row ? fromRow<SandboxRecord>(row, SANDBOX_COLUMNS) : undefined;
  }

  async listSandboxes(filter: SandboxFilter = {}): Promise<SandboxRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (filter.states?.length) where.push(`state = ANY(${arg(filter.states)}::text[])`);
    if (filter.teamId) where.push(`team_id = ${arg(filter.teamId)}`);
    // Keys and values are parameters, so quotes in them need no escaping.
    for (const [k, v] of Object.entries(filter.metadata ?? {})) where.push(`metadata ->> ${arg(k)}::text = ${arg(v)}::text`);
    if (filter.templateId !== undefined) where.push(`template_id = ${arg(filter.templateId)}`);
    if (filter.startedAfterMs !== undefined) where.push(`started_at >= ${arg(filter.startedAfterMs)}`);
    const asc = filter.order === 'asc';
    if (filter.after) {
      const t = arg(filter.after.startedAt);
      const cmp = asc ? '>' : '<';
      const id = arg(filter.after.sandboxId);
      where.push(`(started_at ${cmp} ${t} OR (started_at = ${t} AND sandbox_id ${cmp} ${id}))`);
    }
    const dir = asc ? 'ASC' : 'DESC';
    const sql =
      `SELECT * FROM sandboxes ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ` +
      `ORDER BY started_at ${dir}, sandbox_id ${dir} ${filter.limit ? 'LIMIT ' + Number(filter.limit) : ''}`;
    return (await this.q(sql, args)).map((r) => fromRow<SandboxRecord>(r, SANDBOX_COLUMNS));
  }

  async expiredSandboxes(now: number): Promise<SandboxRecord[]> {
    const rows = await this.q(`SELECT * FROM sandboxes WHERE state IN ('running', 'paused') AND end_at <= $1`, [now]);
    return rows.map((r) => fromRow<SandboxRecord>(r, SANDBOX_COLUMNS));
  }

  async deleteSandbox(id: string): Promise<void> {
    await this.q('DELETE FROM sandboxes WHERE sandbox_id = $1', [id]);
  }

  async upsertTemplate(t: TemplateRecord): Promise<void> {
    await this.upsert('templates', TEMPLATE_COLUMNS, ['template_id'], t);
  }

  async findTemplate(idOrName: string): Promise<TemplateRecord | undefined> {
    // An ID match wins over another template that has the same string as a name.
    const [row] = await this.q(
      'SELECT * FROM templates WHERE template_id = $1 OR names ? $1 ORDER BY (template_id = $1) DESC, created_at LIMIT 1',
      [idOrName],
    );
    return row ? fromRow<TemplateRecord>(row, TEMPLATE_COLUMNS) : undefined;
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    const rows = await this.q('SELECT * FROM templates ORDER BY created_at, template_id');
    return rows.map((r) => fromRow<TemplateRecord>(r, TEMPLATE_COLUMNS));
  }

  async deleteTemplate(id: string): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('DELETE FROM build_logs WHERE template_id = $1', [id]);
      await c.query('DELETE FROM template_builds WHERE template_id = $1', [id]);
      await c.query('DELETE FROM templates WHERE template_id = $1', [id]);
    });
  }

  async upsertBuild(b: TemplateBuildRecord): Promise<void> {
    await this.upsert('template_builds', BUILD_COLUMNS, ['template_id', 'build_id'], b);
  }

  async getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined> {
    const [row] = await this.q('SELECT * FROM template_builds WHERE template_id = $1 AND build_id = $2', [templateId, buildId]);
    return row ? fromRow<TemplateBuildRecord>(row, BUILD_COLUMNS) : undefined;
  }

  async listBuilds(templateId: string): Promise<TemplateBuildRecord[]> {
    const rows = await this.q('SELECT * FROM template_builds WHERE template_id = $1 ORDER BY created_at DESC, build_id DESC', [templateId]);
    return rows.map((r) => fromRow<TemplateBuildRecord>(r, BUILD_COLUMNS));
  }

  async appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
    // Calls from this process are chained per build so that seq follows call order even over several connections
    // (SQLite gets that for free, being synchronous).
    const key = `${e.templateId}\0${e.buildId}`;
    const prev = this.buildLogTails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.insertBuildLog(e));
    this.buildLogTails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.buildLogTails.get(key) === next) this.buildLogTails.delete(key);
    }
  }

  /** Takes the next seq in the statement itself; another server appending to the same build at once makes one retry. */
  private async insertBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
    for (let attempt = 0; ; attempt++) {
      try {
        const [row] = await this.q(
          `INSERT INTO build_logs (template_id, build_id, seq, ts, level, message, step)
           SELECT $1, $2, COALESCE(MAX(seq) + 1, 0), $3, $4, $5, $6 FROM build_logs WHERE template_id = $1 AND build_id = $2
           RETURNING seq`,
          [e.templateId, e.buildId, e.timestamp, LEVELS.indexOf(e.level), e.message, e.step ?? null],
        );
        return { ...e, seq: row.seq as number };
      } catch (err) {
        if ((err as { code?: string }).code !== '23505' || attempt >= 20) throw err; // 23505: unique_violation
      }
    }
  }

  async queryBuildLogs(templateId: string, buildId: string, q: { offset: number; limit: number; minLevel?: LogLevel }): Promise<BuildLogEntry[]> {
    const rows = await this.q(
      'SELECT * FROM build_logs WHERE template_id = $1 AND build_id = $2 AND seq >= $3 AND level >= $4 ORDER BY seq LIMIT $5',
      [templateId, buildId, q.offset, q.minLevel ? LEVELS.indexOf(q.minLevel) : 0, q.limit],
    );
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
    await this.q('INSERT INTO sandbox_logs (sandbox_id, ts, level, message, fields) VALUES ($1, $2, $3, $4, $5)', [
      e.sandboxId,
      e.timestamp,
      LEVELS.indexOf(e.level),
      e.message,
      JSON.stringify(e.fields),
    ]);
  }

  async queryLogs(sandboxId: string, q: LogQuery): Promise<LogEntry[]> {
    const args: unknown[] = [sandboxId];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    const where = ['sandbox_id = $1'];
    if (q.cursor !== undefined) where.push(`ts ${q.direction === 'forward' ? '>' : '<'} ${arg(q.cursor)}`);
    if (q.minLevel) where.push(`level >= ${arg(LEVELS.indexOf(q.minLevel))}`);
    // strpos, not LIKE: the search text is literal (no % or _ wildcards), as with SQLite's instr.
    if (q.search) where.push(`strpos(lower(message), lower(${arg(q.search)})) > 0`);
    const order = q.direction === 'forward' ? 'ASC' : 'DESC';
    const rows = await this.q(
      `SELECT * FROM sandbox_logs WHERE ${where.join(' AND ')} ORDER BY ts ${order}, seq ${order} LIMIT ${arg(q.limit)}`,
      args,
    );
    return rows.map((r) => ({
      sandboxId: r.sandbox_id as string,
      timestamp: r.ts as number,
      seq: r.seq as number,
      level: LEVELS[r.level as number],
      message: r.message as string,
      fields: r.fields as Record<string, string>,
    }));
  }

  async pruneLogs(before: number): Promise<void> {
    await this.q(
      'DELETE FROM sandbox_logs l WHERE ts < $1 AND NOT EXISTS (SELECT 1 FROM sandboxes s WHERE s.sandbox_id = l.sandbox_id)',
      [before],
    );
  }

  async appendMetric(m: MetricSample): Promise<void> {
    await this.q(
      `INSERT INTO sandbox_metrics (sandbox_id, ts, cpu_count, cpu_used_pct, mem_used, mem_total, mem_cache, disk_used, disk_total)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (sandbox_id, ts) DO UPDATE SET cpu_count = EXCLUDED.cpu_count, cpu_used_pct = EXCLUDED.cpu_used_pct,
         mem_used = EXCLUDED.mem_used, mem_total = EXCLUDED.mem_total, mem_cache = EXCLUDED.mem_cache,
         disk_used = EXCLUDED.disk_used, disk_total = EXCLUDED.disk_total`,
      [m.sandboxId, m.timestamp, m.cpuCount, m.cpuUsedPct, m.memUsed, m.memTotal, m.memCache, m.diskUsed, m.diskTotal],
    );
  }

  async queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]> {
    const rows = await this.q('SELECT * FROM sandbox_metrics WHERE sandbox_id = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts', [sandboxId, startMs, endMs]);
    return rows.map((r) => metricFromRow(r));
  }

  async latestMetrics(sandboxIds: string[]): Promise<MetricSample[]> {
    if (!sandboxIds.length) return [];
    const rows = await this.q(
      'SELECT DISTINCT ON (sandbox_id) * FROM sandbox_metrics WHERE sandbox_id = ANY($1::text[]) ORDER BY sandbox_id, ts DESC',
      [sandboxIds],
    );
    return rows.map((r) => metricFromRow(r));
  }

  async pruneMetrics(before: number): Promise<void> {
    await this.q(
      'DELETE FROM sandbox_metrics m WHERE ts < $1 OR NOT EXISTS (SELECT 1 FROM sandboxes s WHERE s.sandbox_id = m.sandbox_id)',
      [before],
    );
  }

  async insertSnapshot(s: SnapshotRecord): Promise<void> {
    await this.upsert('snapshots', SNAPSHOT_COLUMNS, ['snapshot_id'], s);
  }

  async findSnapshot(idOrName: string): Promise<SnapshotRecord | undefined> {
    const [row] = await this.q(
      'SELECT * FROM snapshots WHERE snapshot_id = $1 OR name = $1 ORDER BY (snapshot_id = $1) DESC, created_at DESC LIMIT 1',
      [idOrName],
    );
    return row ? fromRow<SnapshotRecord>(row, SNAPSHOT_COLUMNS) : undefined;
  }

  async listSnapshots(f: { sandboxId?: string; name?: string; teamId?: string; after?: { createdAt: number; snapshotId: string }; limit?: number }): Promise<SnapshotRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (f.sandboxId) where.push(`sandbox_id = ${arg(f.sandboxId)}`);
    if (f.name) where.push(`name = ${arg(f.name)}`);
    if (f.teamId) where.push(`team_id = ${arg(f.teamId)}`);
    if (f.after) {
      const t = arg(f.after.createdAt);
      where.push(`(created_at < ${t} OR (created_at = ${t} AND snapshot_id < ${arg(f.after.snapshotId)}))`);
    }
    const sql =
      `SELECT * FROM snapshots ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY created_at DESC, snapshot_id DESC LIMIT ${arg(f.limit ?? 100)}`;
    return (await this.q(sql, args)).map((r) => fromRow<SnapshotRecord>(r, SNAPSHOT_COLUMNS));
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.q('DELETE FROM snapshots WHERE snapshot_id = $1', [id]);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const [row] = await this.q('SELECT value FROM settings WHERE key = $1', [key]);
    return row?.value as string | undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.q('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await fn(c);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}
