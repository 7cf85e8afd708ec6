/** The sandboxes repository on PostgreSQL (sandbox-repository.ts): one row per sandbox, metadata in JSONB. */
import type pg from 'pg';
import { SANDBOX_COLUMNS } from './columns.js';
import { patchRecord, query, rowTo, toParam, upsertRecord, type Row } from './postgres-rows.js';
import type { SandboxFilter, SandboxRecord, SandboxRepository, SandboxState } from './sandbox-repository.js';

export class PostgresSandboxes implements SandboxRepository {
  constructor(private pool: pg.Pool) {}

  async insertSandbox(s: SandboxRecord): Promise<void> {
    await upsertRecord(this.pool, 'sandboxes', SANDBOX_COLUMNS, ['sandbox_id'], s);
  }

  async updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void> {
    await patchRecord(this.pool, 'sandboxes', SANDBOX_COLUMNS, patch, ['sandboxId'], {
      sql: 'sandbox_id = $1',
      args: [id],
    });
  }

  async transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean> {
    const fields = Object.keys(patch).filter((f) => f in SANDBOX_COLUMNS && f !== 'sandboxId');
    if (from.length === 0) return false;
    const sets = [
      'sandbox_id = sandbox_id',
      ...fields.map((f, i) => `${SANDBOX_COLUMNS[f as keyof SandboxRecord]} = $${i + 1}`),
    ];
    const n = fields.length;
    const rows = await query(
      this.pool,
      `UPDATE sandboxes SET ${sets.join(', ')} WHERE sandbox_id = $${n + 1} AND state = ANY($${n + 2}::text[]) ` +
        'RETURNING sandbox_id',
      [...fields.map((f) => toParam(f, (patch as Row)[f])), id, from],
    );
    return rows.length === 1;
  }

  async getSandbox(id: string): Promise<SandboxRecord | undefined> {
    const [row] = await query(this.pool, 'SELECT * FROM sandboxes WHERE sandbox_id = $1', [id]);
    return row ? rowTo.sandbox(row) : undefined;
  }

  async listSandboxes(filter: SandboxFilter = {}): Promise<SandboxRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (filter.states?.length) where.push(`state = ANY(${arg(filter.states)}::text[])`);
    if (filter.teamId) where.push(`team_id = ${arg(filter.teamId)}`);
    // Keys and values are parameters, so quotes in them need no escaping.
    for (const [k, v] of Object.entries(filter.metadata ?? {})) {
      where.push(`metadata ->> ${arg(k)}::text = ${arg(v)}::text`);
    }
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
    return (await query(this.pool, sql, args)).map(rowTo.sandbox);
  }

  async expiredSandboxes(now: number): Promise<SandboxRecord[]> {
    const sql = `SELECT * FROM sandboxes WHERE state IN ('running', 'paused') AND end_at <= $1`;
    return (await query(this.pool, sql, [now])).map(rowTo.sandbox);
  }

  async deleteSandbox(id: string): Promise<void> {
    await query(this.pool, 'DELETE FROM sandboxes WHERE sandbox_id = $1', [id]);
  }
}
