/**
 * The shared Store test suite: every Store implementation runs it (sqlite.test.ts, postgres.test.ts), so both behave
 * the same for every method — round trips of every field, ordering, cursors, filters, upserts, the atomic template
 * writes under concurrency, per-build log numbering, cascading deletes and pruning. It is split by repository
 * (store-suite-*.ts); each test gets a fresh, empty store from the factory and closes it afterwards.
 */
import { afterEach, describe } from 'node:test';
import { nodeCases } from './store-suite-nodes.js';
import { sandboxCases } from './store-suite-sandboxes.js';
import { snapshotCases } from './store-suite-snapshots.js';
import { telemetryCases } from './store-suite-telemetry.js';
import { templateCases } from './store-suite-templates.js';
import { volumeCases } from './store-suite-volumes.js';
import type { Store } from './store.js';

export interface StoreSuiteOptions {
  name: string;
  /** A new, empty store. */
  makeStore(): Promise<Store>;
  skip?: string | false;
}

/**
 * Registers the suite with node:test.
 *
 * @example
 * storeSuite({ name: 'sqlite', makeStore: async () => new SqliteStore(path.join(dir, `${n++}.db`)) });
 */
export function storeSuite(o: StoreSuiteOptions): void {
  describe(`store suite: ${o.name}`, { skip: o.skip }, () => {
    let store: Store | undefined;
    const open = async () => (store = await o.makeStore());
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });
    sandboxCases(open);
    templateCases(open);
    telemetryCases(open);
    snapshotCases(open);
    nodeCases(open);
    volumeCases(open);
  });
}
