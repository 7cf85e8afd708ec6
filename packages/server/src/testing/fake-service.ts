/**
 * A sandbox service on two in-memory FakeDrivers (one as `container`, the default, one as `microvm`, to check which
 * driver each record's operations reach) and an in-memory SQLite store, with a ready `default` template, for
 * fast tests of service logic (no root, no sandboxes). `fakeService(dir, over)` builds it; `over` adds or replaces
 * options (a host disk, a quota guard, …). Call `close()` when done.
 */
import path from 'node:path';
import { FakeDriver } from '@tensor-box/runtime';
import { SqliteStore } from '../store/sqlite.js';
import type { TemplateRecord } from '../store/store.js';
import { Metrics } from '../http/prometheus.js';
import { SandboxService, type SandboxServiceOptions } from '../services/sandbox-service.js';
import { TemplateService } from '../services/template-service.js';
import { SandboxLogs } from '../services/sandbox-logs.js';
import { MetricsSampler } from '../services/metrics-sampler.js';
import { DirectorySnapshotStore } from '../services/snapshot-store.js';
import { Drivers } from '../lifecycle/drivers.js';

export interface FakeService {
  /** The `container` driver (the default isolation). */
  driver: FakeDriver;
  /** The `microvm` driver. */
  vmDriver: FakeDriver;
  store: SqliteStore;
  svc: SandboxService;
  /** Builds another service on the same driver and store (e.g. with other options). */
  rebuild(over?: Partial<SandboxServiceOptions>): SandboxService;
  close(): Promise<void>;
}

export async function fakeService(dir: string, over: Partial<SandboxServiceOptions> = {}): Promise<FakeService> {
  const driver = new FakeDriver();
  const vmDriver = new FakeDriver();
  await driver.start();
  await vmDriver.start();
  const drivers = new Drivers({ container: driver, microvm: vmDriver }, 'container');
  const store = new SqliteStore(':memory:');
  await addFakeTemplate(store, 'default', { names: ['default', 'base'] });
  const snapshots = new DirectorySnapshotStore(path.join(dir, 'snapshots'));
  const templates = new TemplateService({
    store,
    drivers,
    templateDir: path.join(dir, 'templates'),
    cacheDir: dir,
    snapshots,
  });
  const rebuild = (o: Partial<SandboxServiceOptions> = {}) =>
    new SandboxService({
      store,
      drivers,
      templates,
      snapshots,
      domain: () => 'localhost:3000',
      logs: new SandboxLogs(store),
      metrics: new MetricsSampler({ store, drivers }),
      prom: new Metrics(),
      pausedRetentionMs: 86400_000,
      nodeId: 'node-a',
      ...over,
      ...o,
    });
  return {
    driver,
    vmDriver,
    store,
    svc: rebuild(),
    rebuild,
    async close() {
      await driver.stop();
      await vmDriver.stop();
      await store.close();
    },
  };
}

/** A ready template whose layers do not exist (the fake drivers never read them). */
export async function addFakeTemplate(
  store: SqliteStore,
  templateId: string,
  extra: Partial<TemplateRecord> = {},
): Promise<void> {
  const now = Date.now();
  await store.upsertTemplate({
    templateId,
    buildId: 'b1',
    names: [templateId],
    cpuCount: 1,
    memoryMB: 256,
    diskSizeMB: 1024,
    layers: ['/nonexistent/rootfs'],
    status: 'ready',
    public: true,
    createdAt: now,
    updatedAt: now,
    spawnCount: 0,
    buildCount: 1,
    ...extra,
  });
}
