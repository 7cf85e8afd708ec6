/** The sandboxes repository on SQLite (sandbox-repository.ts): one row per sandbox, metadata filters by json_each. */
import type Database from 'better-sqlite3';
import { SANDBOX_COLUMNS } from './columns.js';
import type { SandboxFilter, SandboxRecord, SandboxRepository, SandboxState } from './sandbox-repository.js';
import { insertRecord, patchRecord, rowTo, toColumnValue, type Row } from './sqlite-rows.js';

export class SqliteSandboxes implements SandboxRepository {
  constructor(private db: Database.Database) {}

  async insertSandbox(s: SandboxRecord): Promise<void> {
    insertRecord(this.db, 'sandboxes', SANDBOX_COLUMNS, s);
  }

  async updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void> {
    patchRecord(this.db, 'sandboxes', SANDBOX_COLUMNS, patch, ['sandboxId'], { sql: 'sandbox_id = ?', args: [id] });
  }

  async transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (from.length === 0) return false;
    const sets = ['sandbox_id = sandbox_id', ...fields.map((f) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = ?`)];
    const states = from.map(() => '?').join(', ');
    const info = this.db
      .prepare(`UPDATE sandboxes SET ${sets.join(', ')} WHERE sandbox_id = ? AND state IN (${states})`)
      .run(...fields.map((f) => toColumnValue(f, (patch as Row)[f])), id, ...from);
    return info.changes === 1;
  }

  async getSandbox(id: string): Promise<SandboxRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE sandbox_id = ?').get(id) as Row | undefined;
    return row ? rowTo.sandbox(row) : undefined;
  }

  async listSandboxes(filter: SandboxFilter = {}): Promise<SandboxRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      args.push(...filter.states);
    }
    if (filter.teamId) where.push('team_id = ?'), args.push(filter.teamId);
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
    return (this.db.prepare(sql).all(...args) as Row[]).map(rowTo.sandbox);
  }

  async expiredSandboxes(now: number): Promise<SandboxRecord[]> {
    const sql = `SELECT * FROM sandboxes WHERE state IN ('running', 'paused') AND end_at <= ?`;
    return (this.db.prepare(sql).all(now) as Row[]).map(rowTo.sandbox);
  }

  async deleteSandbox(id: string): Promise<void> {
    this.db.prepare('DELETE FROM sandboxes WHERE sandbox_id = ?').run(id);
  }
}
