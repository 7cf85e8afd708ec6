/** The SQLite store passes the shared store suite (each test on a new database file in a temp dir). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from './sqlite.js';
import { storeSuite } from './store-suite.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeSuite({ name: 'sqlite', makeStore: async () => new SqliteStore(path.join(dir, `store-${n++}.db`)) });
