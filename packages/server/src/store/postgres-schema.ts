/**
 * Brings a PostgreSQL database to the newest schema version through the shared list (migrations.ts). The version
 * lives in `schema_version`; migrations run in one transaction under an advisory lock, so several servers can start
 * against one database at once.
 */
import type pg from 'pg';
import { checkNotNewer, MIGRATIONS, POSTGRES, SCHEMA_VERSION } from './migrations.js';
import { inTransaction } from './postgres-rows.js';

/** Key of the advisory lock that serialises migrations between servers (any constant no one else uses). */
const MIGRATION_LOCK = 7_245_019_311;

/**
 * Brings the schema to the newest version in one transaction. The advisory lock makes servers that start together
 * take turns: the first migrates, the others then find nothing left to do. A database newer than this server is
 * refused.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const { rows } = await c.query('SELECT version FROM schema_version');
    const version = rows.length ? Number(rows[0].version) : 0;
    checkNotNewer(version);
    for (let v = version; v < SCHEMA_VERSION; v++) await c.query(MIGRATIONS[v](POSTGRES));
    if (!rows.length) await c.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
    else if (version < SCHEMA_VERSION) await c.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION]);
  });
}
