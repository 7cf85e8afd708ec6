/**
 * Rows ↔ records, once for both stores. Tables with a column map (columns.ts: sandboxes, snapshots, templates, builds, volumes)
 * convert field by field; the others (teams, API keys, sandbox logs, build logs, metrics) have one converter each
 * here. The two dialects differ only in how their drivers hand over JSON and boolean columns, which a `RowCodec`
 * says: sqlite-rows.ts and postgres-rows.ts each bind theirs once (`rowReaders`), so the repository files hold only
 * their SQL.
 */
import type { Quotas } from '../teams/quotas.js';
import {
  BOOL_FIELDS,
  BUILD_COLUMNS,
  JSON_FIELDS,
  ownerValue,
  SANDBOX_COLUMNS,
  SNAPSHOT_COLUMNS,
  TEMPLATE_COLUMNS,
  VOLUME_COLUMNS,
} from './columns.js';
import type { SandboxRecord } from './sandbox-repository.js';
import type { SnapshotRecord } from './snapshot-repository.js';
import type { ApiKeyRecord, TeamRecord } from './teams.js';
import { LOG_LEVELS, type BuildLogEntry, type LogEntry, type MetricSample } from './telemetry-repository.js';
import type { TemplateBuildRecord, TemplateRecord } from './template-repository.js';
import type { VolumeRecord } from './volume-repository.js';

export type Row = Record<string, unknown>;

/** How one dialect's driver reads and writes the column kinds that differ between SQLite and PostgreSQL. */
export interface RowCodec {
  /** A JSON column as read: SQLite returns text, `pg` an already parsed JSONB value. */
  readJson(value: unknown): unknown;
  /** A boolean column as read: SQLite returns 0/1, `pg` a boolean. */
  readBool(value: unknown): boolean;
  /** A boolean as a statement parameter. */
  writeBool(value: unknown): unknown;
}

/** A row as a record through a column map; NULL columns leave their (optional) fields absent, not `undefined`. */
export function recordFromRow<T>(row: Row, columns: Record<string, string>, codec: RowCodec): T {
  const out: Row = {};
  for (const [field, column] of Object.entries(columns)) {
    const v = row[column];
    if (v === null || v === undefined) continue;
    if (JSON_FIELDS.has(field)) out[field] = codec.readJson(v);
    else if (BOOL_FIELDS.has(field)) out[field] = codec.readBool(v);
    else out[field] = v;
  }
  return out as T;
}

/**
 * A record field's value as a statement parameter: absent is NULL, JSON fields go out as text (`pg` would turn a JS
 * array into a PostgreSQL array, not a JSON one), an unset owner is the admin team (`ownerValue`).
 */
export function columnParam(field: string, value: unknown, codec: RowCodec): unknown {
  value = ownerValue(field, value);
  if (value === undefined || value === null) return null;
  if (JSON_FIELDS.has(field)) return JSON.stringify(value);
  if (BOOL_FIELDS.has(field)) return codec.writeBool(value);
  return value;
}

/** Every table's row → record converter, for one dialect. */
export function rowReaders(codec: RowCodec) {
  const mapped =
    <T>(columns: Record<string, string>) =>
    (r: Row) =>
      recordFromRow<T>(r, columns, codec);
  return {
    sandbox: mapped<SandboxRecord>(SANDBOX_COLUMNS),
    snapshot: mapped<SnapshotRecord>(SNAPSHOT_COLUMNS),
    template: mapped<TemplateRecord>(TEMPLATE_COLUMNS),
    build: mapped<TemplateBuildRecord>(BUILD_COLUMNS),
    volume: mapped<VolumeRecord>(VOLUME_COLUMNS),
    team: (r: Row): TeamRecord => ({
      teamId: r.team_id as string,
      name: r.name as string,
      createdAt: Number(r.created_at),
      quotas: codec.readJson(r.quotas) as Partial<Quotas>,
    }),
    apiKey: (r: Row): ApiKeyRecord => ({
      keyId: r.key_id as string,
      teamId: r.team_id as string,
      name: r.name as string,
      keyHash: r.key_hash as string,
      mask: r.mask as string,
      createdAt: Number(r.created_at),
      ...(r.last_used_at != null ? { lastUsedAt: Number(r.last_used_at) } : {}),
    }),
    /** A `sandbox_logs` row. */
    log: (r: Row): LogEntry => ({
      sandboxId: r.sandbox_id as string,
      timestamp: Number(r.ts),
      seq: Number(r.seq),
      level: LOG_LEVELS[r.level as number],
      message: r.message as string,
      fields: codec.readJson(r.fields) as Record<string, string>,
    }),
    /** A `build_logs` row (`step` absent when there is none). */
    buildLog: (r: Row): BuildLogEntry => ({
      templateId: r.template_id as string,
      buildId: r.build_id as string,
      seq: Number(r.seq),
      timestamp: Number(r.ts),
      level: LOG_LEVELS[r.level as number],
      message: r.message as string,
      ...(r.step ? { step: r.step as string } : {}),
    }),
    /** A `sandbox_metrics` row. */
    metric: (r: Row): MetricSample => ({
      sandboxId: r.sandbox_id as string,
      timestamp: Number(r.ts),
      cpuCount: Number(r.cpu_count),
      cpuUsedPct: Number(r.cpu_used_pct),
      memUsed: Number(r.mem_used),
      memTotal: Number(r.mem_total),
      memCache: Number(r.mem_cache),
      diskUsed: Number(r.disk_used),
      diskTotal: Number(r.disk_total),
    }),
  };
}
