/**
 * How the SQLite repositories turn records into rows and back: JSON columns hold maps and lists as text, booleans are
 * 0/1, absent optional fields are NULL (and stay absent when read); the conversions themselves are rows.ts's.
 * `insertRecord` replaces a whole row, `patchRecord` sets only the fields a patch names.
 */
import type Database from 'better-sqlite3';
import { columnParam, rowReaders, type Row, type RowCodec } from './rows.js';

export type { Row } from './rows.js';

const SQLITE: RowCodec = {
  readJson: (v) => JSON.parse(v as string),
  readBool: (v) => v === 1,
  writeBool: (v) => (v ? 1 : 0),
};

/** Every table's row → record converter for SQLite rows (`rowTo.sandbox(row)`, …). */
export const rowTo = rowReaders(SQLITE);

export const toColumnValue = (field: string, value: unknown): unknown => columnParam(field, value, SQLITE);

/** INSERT OR REPLACE of every field of `record`. */
export function insertRecord(
  db: Database.Database,
  table: string,
  columns: Record<string, string>,
  record: object,
): void {
  const fields = Object.keys(columns);
  const cols = fields.map((f) => columns[f]);
  const sql = `INSERT OR REPLACE INTO ${table} (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`;
  db.prepare(sql).run(...fields.map((f) => toColumnValue(f, (record as Row)[f])));
}

/**
 * `UPDATE table SET <the patch's fields> WHERE <where>`; fields not in `columns` or in `ignored` are left out. Returns
 * the number of rows changed (undefined when the patch named no field, and nothing ran).
 */
export function patchRecord(
  db: Database.Database,
  table: string,
  columns: Record<string, string>,
  patch: object,
  ignored: string[],
  where: { sql: string; args: unknown[] },
): number | undefined {
  const fields = Object.keys(patch).filter((f) => f in columns && !ignored.includes(f));
  if (fields.length === 0) return undefined;
  const sets = fields.map((f) => `${columns[f]} = ?`).join(', ');
  const args = fields.map((f) => toColumnValue(f, (patch as Row)[f]));
  return db.prepare(`UPDATE ${table} SET ${sets} WHERE ${where.sql}`).run(...args, ...where.args).changes;
}
