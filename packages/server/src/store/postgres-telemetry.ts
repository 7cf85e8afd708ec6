/**
 * The telemetry repository on PostgreSQL (telemetry-repository.ts): sandbox logs (numbered by an identity column),
 * metric samples (one per sandbox and time) and build logs. A build log line takes the next seq in its INSERT; lines
 * of one build written by this process are chained so their seq follows call order, and another server appending to
 * the same build at once costs a retry on the primary key.
 */
import type pg from 'pg';
import { query, rowTo } from './postgres-rows.js';
import {
  LOG_LEVELS,
  type BuildLogEntry,
  type LogEntry,
  type LogLevel,
  type LogQuery,
  type MetricSample,
  type TelemetryRepository,
} from './telemetry-repository.js';

/** 23505: unique_violation (two servers took the same seq). */
const UNIQUE_VIOLATION = '23505';

export class PostgresTelemetry implements TelemetryRepository {
  /** Appends of build log lines in flight per build, so lines written by this process keep their order. */
  private buildLogTails = new Map<string, Promise<unknown>>();

  constructor(private pool: pg.Pool) {}

  async appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
    // Calls from this process are chained per build so that seq follows call order even over several connections
    // (SQLite gets that for free, being synchronous).
    const key = `${e.templateId}\0${e.buildId}`;
    const prev = this.buildLogTails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => insertBuildLog(this.pool, e));
    this.buildLogTails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.buildLogTails.get(key) === next) this.buildLogTails.delete(key);
    }
  }

  async queryBuildLogs(
    templateId: string,
    buildId: string,
    q: { offset: number; limit: number; minLevel?: LogLevel },
  ): Promise<BuildLogEntry[]> {
    const rows = await query(
      this.pool,
      'SELECT * FROM build_logs WHERE template_id = $1 AND build_id = $2 AND seq >= $3 AND level >= $4 ' +
        'ORDER BY seq LIMIT $5',
      [templateId, buildId, q.offset, q.minLevel ? LOG_LEVELS.indexOf(q.minLevel) : 0, q.limit],
    );
    return rows.map(rowTo.buildLog);
  }

  async appendLog(e: Omit<LogEntry, 'seq'>): Promise<void> {
    await query(
      this.pool,
      'INSERT INTO sandbox_logs (sandbox_id, ts, level, message, fields) VALUES ($1, $2, $3, $4, $5)',
      [e.sandboxId, e.timestamp, LOG_LEVELS.indexOf(e.level), e.message, JSON.stringify(e.fields)],
    );
  }

  async queryLogs(sandboxId: string, q: LogQuery): Promise<LogEntry[]> {
    const args: unknown[] = [sandboxId];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    const where = ['sandbox_id = $1'];
    if (q.cursor !== undefined) where.push(`ts ${q.direction === 'forward' ? '>' : '<'} ${arg(q.cursor)}`);
    if (q.minLevel) where.push(`level >= ${arg(LOG_LEVELS.indexOf(q.minLevel))}`);
    // strpos, not LIKE: the search text is literal (no % or _ wildcards), as with SQLite's instr.
    if (q.search) where.push(`strpos(lower(message), lower(${arg(q.search)})) > 0`);
    const order = q.direction === 'forward' ? 'ASC' : 'DESC';
    const sql =
      `SELECT * FROM sandbox_logs WHERE ${where.join(' AND ')} ` +
      `ORDER BY ts ${order}, seq ${order} LIMIT ${arg(q.limit)}`;
    const rows = await query(this.pool, sql, args);
    return rows.map(rowTo.log);
  }

  async pruneLogs(before: number): Promise<void> {
    await query(
      this.pool,
      'DELETE FROM sandbox_logs l WHERE ts < $1 ' +
        'AND NOT EXISTS (SELECT 1 FROM sandboxes s WHERE s.sandbox_id = l.sandbox_id)',
      [before],
    );
  }

  async appendMetric(m: MetricSample): Promise<void> {
    await query(
      this.pool,
      `INSERT INTO sandbox_metrics (sandbox_id, ts, cpu_count, cpu_used_pct, mem_used, mem_total, mem_cache, disk_used,
         disk_total)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (sandbox_id, ts) DO UPDATE SET cpu_count = EXCLUDED.cpu_count, cpu_used_pct = EXCLUDED.cpu_used_pct,
         mem_used = EXCLUDED.mem_used, mem_total = EXCLUDED.mem_total, mem_cache = EXCLUDED.mem_cache,
         disk_used = EXCLUDED.disk_used, disk_total = EXCLUDED.disk_total`,
      [m.sandboxId, m.timestamp, m.cpuCount, m.cpuUsedPct, m.memUsed, m.memTotal, m.memCache, m.diskUsed, m.diskTotal],
    );
  }

  async queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]> {
    const rows = await query(
      this.pool,
      'SELECT * FROM sandbox_metrics WHERE sandbox_id = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts',
      [sandboxId, startMs, endMs],
    );
    return rows.map(rowTo.metric);
  }

  async latestMetrics(sandboxIds: string[]): Promise<MetricSample[]> {
    if (!sandboxIds.length) return [];
    const rows = await query(
      this.pool,
      'SELECT DISTINCT ON (sandbox_id) * FROM sandbox_metrics WHERE sandbox_id = ANY($1::text[]) ' +
        'ORDER BY sandbox_id, ts DESC',
      [sandboxIds],
    );
    return rows.map(rowTo.metric);
  }

  async pruneMetrics(before: number): Promise<void> {
    await query(
      this.pool,
      'DELETE FROM sandbox_metrics m WHERE ts < $1 ' +
        'OR NOT EXISTS (SELECT 1 FROM sandboxes s WHERE s.sandbox_id = m.sandbox_id)',
      [before],
    );
  }
}

/** Takes the next seq in the statement itself; another server appending to the same build at once makes one retry. */
async function insertBuildLog(pool: pg.Pool, e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await query(
        pool,
        `INSERT INTO build_logs (template_id, build_id, seq, ts, level, message, step)
         SELECT $1, $2, COALESCE(MAX(seq) + 1, 0), $3, $4, $5, $6 FROM build_logs
         WHERE template_id = $1 AND build_id = $2
         RETURNING seq`,
        [e.templateId, e.buildId, e.timestamp, LOG_LEVELS.indexOf(e.level), e.message, e.step ?? null],
      );
      return { ...e, seq: row.seq as number };
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 20) throw err;
    }
  }
}
