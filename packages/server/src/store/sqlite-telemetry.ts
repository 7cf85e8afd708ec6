/**
 * The telemetry repository on SQLite (telemetry-repository.ts): sandbox logs (numbered by an AUTOINCREMENT key),
 * metric samples (one per sandbox and time) and build logs (numbered per build inside a transaction).
 */
import type Database from 'better-sqlite3';
import { rowTo, type Row } from './sqlite-rows.js';
import {
  LOG_LEVELS,
  type BuildLogEntry,
  type LogEntry,
  type LogLevel,
  type LogQuery,
  type MetricSample,
  type TelemetryRepository,
} from './telemetry-repository.js';

export class SqliteTelemetry implements TelemetryRepository {
  constructor(private db: Database.Database) {}

  async appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry> {
    return this.db.transaction(() => {
      const { n } = this.db
        .prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM build_logs WHERE template_id = ? AND build_id = ?')
        .get(e.templateId, e.buildId) as { n: number };
      this.db
        .prepare(
          'INSERT INTO build_logs (template_id, build_id, seq, ts, level, message, step) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(e.templateId, e.buildId, n, e.timestamp, LOG_LEVELS.indexOf(e.level), e.message, e.step ?? null);
      return { ...e, seq: n };
    })();
  }

  async queryBuildLogs(
    templateId: string,
    buildId: string,
    q: { offset: number; limit: number; minLevel?: LogLevel },
  ): Promise<BuildLogEntry[]> {
    const rows = this.db
      .prepare(
        'SELECT * FROM build_logs WHERE template_id = ? AND build_id = ? AND seq >= ? AND level >= ? ' +
          'ORDER BY seq LIMIT ?',
      )
      .all(templateId, buildId, q.offset, q.minLevel ? LOG_LEVELS.indexOf(q.minLevel) : 0, q.limit) as Row[];
    return rows.map(rowTo.buildLog);
  }

  async appendLog(e: Omit<LogEntry, 'seq'>): Promise<void> {
    this.db
      .prepare('INSERT INTO sandbox_logs (sandbox_id, ts, level, message, fields) VALUES (?, ?, ?, ?, ?)')
      .run(e.sandboxId, e.timestamp, LOG_LEVELS.indexOf(e.level), e.message, JSON.stringify(e.fields));
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
      args.push(LOG_LEVELS.indexOf(q.minLevel));
    }
    if (q.search) {
      where.push('instr(lower(message), lower(?)) > 0');
      args.push(q.search);
    }
    const order = q.direction === 'forward' ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(`SELECT * FROM sandbox_logs WHERE ${where.join(' AND ')} ORDER BY ts ${order}, seq ${order} LIMIT ?`)
      .all(...args, q.limit) as Row[];
    return rows.map(rowTo.log);
  }

  async pruneLogs(before: number): Promise<void> {
    this.db
      .prepare('DELETE FROM sandbox_logs WHERE ts < ? AND sandbox_id NOT IN (SELECT sandbox_id FROM sandboxes)')
      .run(before);
  }

  async appendMetric(m: MetricSample): Promise<void> {
    this.db
      .prepare('INSERT OR REPLACE INTO sandbox_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        m.sandboxId,
        m.timestamp,
        m.cpuCount,
        m.cpuUsedPct,
        m.memUsed,
        m.memTotal,
        m.memCache,
        m.diskUsed,
        m.diskTotal,
      );
  }

  async queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]> {
    const rows = this.db
      .prepare('SELECT * FROM sandbox_metrics WHERE sandbox_id = ? AND ts >= ? AND ts <= ? ORDER BY ts')
      .all(sandboxId, startMs, endMs) as Row[];
    return rows.map(rowTo.metric);
  }

  async latestMetrics(sandboxIds: string[]): Promise<MetricSample[]> {
    if (!sandboxIds.length) return [];
    const ids = sandboxIds.map(() => '?').join(',');
    const rows = this.db
      .prepare(
        'SELECT m.* FROM sandbox_metrics m JOIN (SELECT sandbox_id, MAX(ts) AS ts FROM sandbox_metrics ' +
          `WHERE sandbox_id IN (${ids}) GROUP BY sandbox_id) l ON m.sandbox_id = l.sandbox_id AND m.ts = l.ts`,
      )
      .all(...sandboxIds) as Row[];
    return rows.map(rowTo.metric);
  }

  async pruneMetrics(before: number): Promise<void> {
    this.db
      .prepare('DELETE FROM sandbox_metrics WHERE ts < ? OR sandbox_id NOT IN (SELECT sandbox_id FROM sandboxes)')
      .run(before);
  }
}
