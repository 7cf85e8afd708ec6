/**
 * How the PostgreSQL repositories turn records into rows and back, and run statements: JSON goes out as text (JSONB
 * and BOOLEAN come back typed), absent optional fields are NULL (and stay absent when read); the conversions
 * themselves are rows.ts's. `upsertRecord` replaces a whole row, `patchRecord` sets only the fields a patch names,
 * `inTransaction` runs statements on one connection between BEGIN and COMMIT.
 */
import type pg from 'pg';
import { columnParam, rowReaders, type Row, type RowCodec } from './rows.js';

export type { Row } from './rows.js';

/** A pool, or one connection of it inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** `pg` parses JSONB and BOOLEAN itself (and BIGINT as a number: postgres.ts). */
const POSTGRES: RowCodec = { readJson: (v) => v, readBool: (v) => v as boolean, writeBool: (v) => v };

/** Every table's row → record converter for PostgreSQL rows (`rowTo.sandbox(row)`, …). */
export const rowTo = rowReaders(POSTGRES);

export const toParam = (field: string, value: unknown): unknown => columnParam(field, value, POSTGRES);

export async function query(db: Queryable, sql: string, args: unknown[] = []): Promise<Row[]> {
  return (await db.query(sql, args)).rows;
}

/** INSERT … ON CONFLICT DO UPDATE: the whole record replaces the stored one, like SQLite's INSERT OR REPLACE. */
export async function upsertRecord(
  db: Queryable,
  table: string,
  columns: Record<string, string>,
  key: string[],
  record: object,
): Promise<void> {
  const fields = Object.keys(columns);
  const cols = fields.map((f) => columns[f]);
  const updates = cols.filter((c) => !key.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
  await db.query(
    `INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')}) ` +
      `ON CONFLICT (${key.join(',')}) DO UPDATE SET ${updates.join(', ')}`,
    fields.map((f) => toParam(f, (record as Row)[f])),
  );
}

/**
 * `UPDATE table SET <the patch's fields> WHERE <where>` (`where.sql` numbers its parameters from $1; they are
 * renumbered after the patch's). Fields not in `columns` or in `ignored` are left out. Returns the number of rows
 * changed (undefined when the patch named no field, and nothing ran).
 */
export async function patchRecord(
  db: Queryable,
  table: string,
  columns: Record<string, string>,
  patch: object,
  ignored: string[],
  where: { sql: string; args: unknown[] },
): Promise<number | undefined> {
  const fields = Object.keys(patch).filter((f) => f in columns && !ignored.includes(f));
  if (fields.length === 0) return undefined;
  const sets = fields.map((f, i) => `${columns[f]} = $${i + 1}`).join(', ');
  const whereSql = where.sql.replace(/\$(\d+)/g, (_, n) => `$${Number(n) + fields.length}`);
  const args = [...fields.map((f) => toParam(f, (patch as Row)[f])), ...where.args];
  return (await db.query(`UPDATE ${table} SET ${sets} WHERE ${whereSql}`, args)).rowCount ?? 0;
}

/** Runs `fn` on one connection between BEGIN and COMMIT (ROLLBACK when it throws). */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
