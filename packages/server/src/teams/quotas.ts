/**
 * Per-team quotas: what they are, their server-wide defaults, and the one check that compares usage plus a request
 * against them. A breach is a 429 `resource_exhausted` whose message names the quota and its value. The checks that
 * must not race between nodes (running sandboxes, vCPUs, memory) run inside the store's claim transaction
 * (`TeamStore.claimRun`); the others (paused/snapshot disk, templates) are checked just before the operation.
 */
import { ApiError } from '../errors.js';

export interface Quotas {
  /** Sandboxes running at once. */
  maxRunningSandboxes: number;
  /** Sum of the vCPUs of running sandboxes. */
  maxVcpus: number;
  /** Sum of the memory of running sandboxes, in MiB. */
  maxMemoryMB: number;
  /** Disk used by paused sandboxes' images and snapshots, in MiB. */
  maxDiskMB: number;
  /** Templates the team owns. */
  maxTemplates: number;
}

export const QUOTA_NAMES = ['maxRunningSandboxes', 'maxVcpus', 'maxMemoryMB', 'maxDiskMB', 'maxTemplates'] as const;

/** Defaults when the server settings give none: generous for one machine, meant to be lowered per team. */
export const DEFAULT_QUOTAS: Quotas = {
  maxRunningSandboxes: 100,
  maxVcpus: 200,
  maxMemoryMB: 409_600,
  maxDiskMB: 1_048_576,
  maxTemplates: 100,
};

/** What a team's running sandboxes (plus creates under way) use. */
export interface RunUsage {
  runningSandboxes: number;
  vcpus: number;
  memoryMB: number;
}

/** A quota a request would exceed. */
export interface QuotaBreach {
  quota: keyof Quotas;
  limit: number;
  /** Usage including the request. */
  wanted: number;
}

/** The first running-sandbox quota that `usage` plus one sandbox of `need` would exceed. */
export function runBreach(
  q: Quotas,
  usage: RunUsage,
  need: { cpuCount: number; memoryMB: number },
): QuotaBreach | undefined {
  const checks: Array<[keyof Quotas, number]> = [
    ['maxRunningSandboxes', usage.runningSandboxes + 1],
    ['maxVcpus', usage.vcpus + need.cpuCount],
    ['maxMemoryMB', usage.memoryMB + need.memoryMB],
  ];
  for (const [quota, wanted] of checks) if (wanted > q[quota]) return { quota, limit: q[quota], wanted };
  return undefined;
}

/** The 429 for a breach. */
export function quotaError(teamId: string, b: QuotaBreach): ApiError {
  return new ApiError(
    'resource_exhausted',
    `team '${teamId}' quota ${b.quota} (${b.limit}) would be exceeded (${b.wanted} requested in total)`,
  );
}

/** A team's effective quotas: its own overrides over the defaults. */
export function effectiveQuotas(defaults: Quotas, overrides: Partial<Quotas> | undefined): Quotas {
  return { ...defaults, ...(overrides ?? {}) };
}

const ENV_NAMES: Record<keyof Quotas, string> = {
  maxRunningSandboxes: 'MAX_RUNNING_SANDBOXES',
  maxVcpus: 'MAX_VCPUS',
  maxMemoryMB: 'MAX_MEMORY_MB',
  maxDiskMB: 'MAX_DISK_MB',
  maxTemplates: 'MAX_TEMPLATES',
};

/** Server-wide defaults from the environment (`TENSOR_BOX_QUOTA_MAX_RUNNING_SANDBOXES`, …). */
export function quotasFromEnv(env: NodeJS.ProcessEnv): Partial<Quotas> {
  const out: Partial<Quotas> = {};
  for (const name of QUOTA_NAMES) {
    const v = env[`TENSOR_BOX_QUOTA_${ENV_NAMES[name]}`];
    if (v !== undefined && v !== '') out[name] = Number(v);
  }
  return out;
}
