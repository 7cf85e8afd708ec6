/**
 * The Store on PostgreSQL (`pg`, one connection pool), used when DATABASE_URL is set: connects, brings the schema up
 * to date (postgres-schema.ts) and composes the PostgreSQL repositories on the pool. Same semantics as the SQLite
 * store: maps and lists live in JSONB columns, times are BIGINT epoch milliseconds, IDs sort bytewise
 * (`COLLATE "C"`, like SQLite) so cursors page the same way.
 */
import pg from 'pg';
import { bindRepositories, ComposedStore } from './compose.js';
import { PostgresNodes } from './postgres-nodes.js';
import { PostgresSandboxes } from './postgres-sandboxes.js';
import { migrate } from './postgres-schema.js';
import { PostgresSettings } from './postgres-settings.js';
import { PostgresSnapshots } from './postgres-snapshots.js';
import { PostgresVolumes } from './postgres-volumes.js';
import { PostgresTeamStore } from './postgres-teams.js';
import { PostgresTelemetry } from './postgres-telemetry.js';
import { PostgresTemplates } from './postgres-templates.js';

/** BIGINT (oid 20) as a JS number: epoch ms and byte counts fit in 2^53, and records promise numbers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
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
export class PostgresStore extends ComposedStore {
  declare readonly teams: PostgresTeamStore;

  private constructor(private pool: pg.Pool) {
    super();
    const repos = {
      sandboxes: new PostgresSandboxes(pool),
      templates: new PostgresTemplates(pool),
      snapshots: new PostgresSnapshots(pool),
      telemetry: new PostgresTelemetry(pool),
      settings: new PostgresSettings(pool),
      nodes: new PostgresNodes(pool),
      volumes: new PostgresVolumes(pool),
    };
    bindRepositories(this, repos, new PostgresTeamStore(pool));
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
      const why = (err as Error).message || String(err);
      throw new Error(`cannot use the PostgreSQL database at ${redactUrl(url)} (DATABASE_URL): ${why}`);
    }
    return new PostgresStore(pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
