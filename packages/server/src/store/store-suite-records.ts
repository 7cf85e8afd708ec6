/** Records for the store suite: a valid record of each kind with every required field, and a base time. */
import type { MetricSample, SandboxRecord, SnapshotRecord, TemplateBuildRecord, TemplateRecord } from './store.js';

export const T0 = 1_700_000_000_000;

export function sandbox(id: string, over: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    sandboxId: id,
    templateId: 'tpl',
    state: 'running',
    startedAt: T0,
    endAt: T0 + 60_000,
    timeoutMs: 60_000,
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: 10_240,
    metadata: {},
    envVars: {},
    onTimeout: 'kill',
    autoResume: false,
    allowInternetAccess: true,
    teamId: 'admin',
    ...over,
  };
}

export function template(id: string, over: Partial<TemplateRecord> = {}): TemplateRecord {
  return {
    templateId: id,
    buildId: `${id}-b1`,
    names: [],
    cpuCount: 2,
    memoryMB: 1024,
    diskSizeMB: 4096,
    layers: [],
    status: 'ready',
    public: false,
    createdAt: T0,
    updatedAt: T0,
    spawnCount: 0,
    buildCount: 1,
    teamId: 'admin',
    ...over,
  };
}

export function build(
  templateId: string,
  buildId: string,
  over: Partial<TemplateBuildRecord> = {},
): TemplateBuildRecord {
  return {
    buildId,
    templateId,
    status: 'building',
    cpuCount: 2,
    memoryMB: 1024,
    diskSizeMB: 4096,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function snapshot(id: string, over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    snapshotId: id,
    sandboxId: 'sbx',
    templateId: 'tpl',
    createdAt: T0,
    imageDir: `/snap/${id}`,
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: 10_240,
    envVars: {},
    allowInternetAccess: false,
    teamId: 'admin',
    ...over,
  };
}

export function metric(sandboxId: string, timestamp: number, over: Partial<MetricSample> = {}): MetricSample {
  return {
    sandboxId,
    timestamp,
    cpuCount: 2,
    cpuUsedPct: 12.5,
    memUsed: 512 * 2 ** 20,
    memTotal: 2 ** 40, // past 2^32: 64-bit columns, numbers back
    memCache: 3,
    diskUsed: 4,
    diskTotal: 5,
    ...over,
  };
}

export const ids = (rows: { sandboxId: string }[]) => rows.map((r) => r.sandboxId);
