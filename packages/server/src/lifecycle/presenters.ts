/**
 * Records → the wire shapes of the OpenAPI spec (spec/openapi.yaml): sandboxes (created, listed, detail), snapshots,
 * metric samples, templates. Pure functions, no I/O. Stored states map to the wire's two (states.ts): a sandbox being
 * paused or snapshotted is `running`, one being resumed is `paused`.
 */
import type { components } from '../api/schema.gen.js';
import { ENVD_VERSION } from '../constants.js';
import type {
  MetricSample,
  SandboxRecord,
  SnapshotRecord,
  TemplateBuildRecord,
  TemplateRecord,
} from '../store/store.js';
import { isolationOf } from './drivers.js';
import { wireState } from './states.js';

type Api = components['schemas'];
export type SandboxMetric = Api['SandboxMetric'];

/** The sandbox shapes, which name the server's public domain (known once it listens). */
export class Presenters {
  constructor(private domain: () => string) {}

  /** What create, connect, resume and fork answer. */
  sandbox(s: SandboxRecord): Api['Sandbox'] {
    return {
      templateID: s.templateId,
      sandboxID: s.sandboxId,
      alias: s.alias,
      clientID: 'tensor-box',
      envdVersion: ENVD_VERSION,
      envdAccessToken: s.envdAccessToken,
      trafficAccessToken: s.network?.trafficAccessToken ?? null,
      domain: this.domain(),
      isolation: isolationOf(s),
    };
  }

  /** One entry of GET /v2/sandboxes. */
  listed(s: SandboxRecord): Api['ListedSandbox'] {
    return {
      templateID: s.templateId,
      alias: s.alias,
      sandboxID: s.sandboxId,
      clientID: 'tensor-box',
      startedAt: new Date(s.startedAt).toISOString(),
      endAt: new Date(s.endAt).toISOString(),
      cpuCount: s.cpuCount,
      memoryMB: s.memoryMB,
      diskSizeMB: s.diskSizeMB,
      metadata: s.metadata,
      // Killing sandboxes are never listed (the service filters them); `running` would be the safe reading anyway.
      state: wireState(s.state) ?? 'running',
      envdVersion: ENVD_VERSION,
      isolation: isolationOf(s),
      ...(s.stateReason ? { stateReason: s.stateReason } : {}),
      ...(s.nodeId ? { nodeID: s.nodeId } : {}),
      volumeMounts: (s.volumeMounts ?? []).map((m) => ({ name: m.name, path: m.path })),
    };
  }

  /** GET /sandboxes/{id}. */
  detail(s: SandboxRecord): Api['SandboxDetail'] {
    return {
      ...this.listed(s),
      envdAccessToken: s.envdAccessToken,
      domain: this.domain(),
      allowInternetAccess: s.allowInternetAccess,
      network: {
        allowPublicTraffic: s.network?.allowPublicTraffic ?? true,
        ...(s.network?.maskRequestHost ? { maskRequestHost: s.network.maskRequestHost } : {}),
        allowOut: s.network?.allowOut ?? [],
        denyOut: s.network?.denyOut ?? [],
      },
      trafficAccessToken: s.network?.trafficAccessToken ?? null,
      lifecycle: { onTimeout: s.onTimeout, autoResume: s.autoResume },
    };
  }
}

export function snapshotToApi(r: SnapshotRecord): Api['SnapshotInfo'] {
  return {
    snapshotID: r.snapshotId,
    names: r.name ? [r.name] : [],
    sandboxID: r.sandboxId,
    name: r.name,
    templateID: r.templateId,
    createdAt: new Date(r.createdAt).toISOString(),
    isolation: isolationOf(r),
  };
}

export function metricToApi(m: MetricSample): SandboxMetric {
  return {
    timestampUnix: Math.floor(m.timestamp / 1000),
    timestamp: new Date(m.timestamp).toISOString(),
    cpuCount: m.cpuCount,
    cpuUsedPct: m.cpuUsedPct,
    memUsed: m.memUsed,
    memTotal: m.memTotal,
    memCache: m.memCache,
    diskUsed: m.diskUsed,
    diskTotal: m.diskTotal,
  };
}

export function templateToApi(t: TemplateRecord): Api['Template'] {
  return {
    templateID: t.templateId,
    buildID: t.buildId,
    cpuCount: t.cpuCount,
    memoryMB: t.memoryMB,
    diskSizeMB: t.diskSizeMB,
    public: t.public,
    aliases: t.names,
    names: t.names,
    createdAt: new Date(t.createdAt).toISOString(),
    updatedAt: new Date(t.updatedAt).toISOString(),
    lastSpawnedAt: t.lastSpawnedAt ? new Date(t.lastSpawnedAt).toISOString() : null,
    buildCount: t.buildCount,
    spawnCount: t.spawnCount,
    envdVersion: ENVD_VERSION,
    buildStatus: t.status,
    ...(t.startCmd ? { startCmd: t.startCmd } : {}),
    ...(t.readyCmd ? { readyCmd: t.readyCmd } : {}),
    parentTemplateID: t.parentTemplateId ?? null,
    warmStart: !!t.warmImage,
    // Absent: the server's default (the built-in template follows it).
    ...(t.isolation ? { isolation: t.isolation } : {}),
  };
}

/** One build in GET /templates/{id}. */
export function buildToApi(b: TemplateBuildRecord): Api['TemplateWithBuilds']['builds'][number] {
  return {
    buildID: b.buildId,
    status: b.status,
    createdAt: new Date(b.createdAt).toISOString(),
    updatedAt: new Date(b.updatedAt).toISOString(),
    finishedAt: b.finishedAt ? new Date(b.finishedAt).toISOString() : null,
    cpuCount: b.cpuCount,
    memoryMB: b.memoryMB,
    diskSizeMB: b.diskSizeMB,
    envdVersion: ENVD_VERSION,
    ...(b.source ? { source: b.source } : {}),
    ...(b.reason ? { reason: b.reason } : {}),
  };
}
