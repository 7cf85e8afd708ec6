/**
 * Chooses and opens the Store for a configuration: PostgreSQL when `databaseUrl` (DATABASE_URL) is set, otherwise the
 * embedded SQLite database in the data dir.
 */
import path from 'node:path';
import type { ServerConfig } from '../config.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the configured store; rejects (without hanging) when the PostgreSQL database cannot be reached or used. */
export async function openStore(
  config: Pick<ServerConfig, 'dataDir' | 'databaseUrl'>,
  log?: (msg: string) => void,
): Promise<Store> {
  if (config.databaseUrl) return PostgresStore.connect(config.databaseUrl, { log });
  return new SqliteStore(path.join(config.dataDir, 'tensor-box.db'));
}
