/**
 * How the SQLite repositories turn records into rows and back: JSON columns hold maps and lists as text, booleans are
 * 0/1, absent optional fields are NULL (and stay absent when read). `insertRecord` replaces a whole row, `patchRecord`
 * sets only the fields a patch names.
 */
import type Database from 'better-sqlite3';
import { BOOL_FIELDS, JSON_FIELDS, ownerValue } from './columns.js';

export type Row = Record<string, unknown>;

export function toColumnValue(field: string, value: unknown): unknown {
  value = ownerValue(field, value);
  if (value === undefined || value === null) return null;
  if (JSON_FIELDS.has(field)) return JSON.stringify(value);
  if (BOOL_FIELDS.has(field)) return value ? 1 : 0;
  return value;
}

export function fromRow<T>(row: Row, columns: Record<string, string>): T {
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
