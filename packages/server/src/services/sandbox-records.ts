/**
 * Sandbox records and what requests say about them: the running record a start writes, the checkpoints a sandbox can
 * start from (ImageStart), env var and network rule checks, and driver failures as API errors. Pure functions the
 * lifecycle uses; no I/O. (Records → wire shapes: lifecycle/presenters.ts.)
 */
import { DriverError, parseEgressRules, type SandboxRuntimeInfo } from '@tensor-box/runtime';
import { ApiError, invalid } from '../errors.js';
import type { SandboxNetwork, SandboxRecord, SnapshotRecord, VolumeMount } from '../store/store.js';
import { newAccessToken } from '../ids.js';
import { DEFAULT_USER, DEFAULT_WORKDIR } from './default-template.js';

/** A driver failure as an API error: a failed pause/resume leaves things as they were and says why. */
export function driverFailure(err: unknown, what: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DriverError) {
    const kind =
      err.kind === 'resource_exhausted'
        ? 'resource_exhausted'
        : err.kind === 'not_found'
          ? 'not_found'
          : err.kind === 'failed_precondition'
            ? 'failed_precondition'
            : err.kind === 'invalid_argument'
              ? 'invalid_argument'
              : 'internal';
    return new ApiError(kind, `${what}: ${err.message}`);
  }
  return new ApiError('internal', `${what}: ${(err as Error).message}`);
}

/** What a create request says about inbound traffic (E2B's `network`), as sent by the stock SDKs. */
export interface NetworkRequest {
  allowPublicTraffic?: boolean;
  maskRequestHost?: string;
  allowOut?: string[];
  denyOut?: string[];
}

/** Validated outbound rules of a request (400 naming the first bad entry). */
export function egressFromRequest(req: { allowOut?: unknown; denyOut?: unknown } | undefined): {
  allowOut: string[];
  denyOut: string[];
} {
  try {
    return parseEgressRules(req ?? {});
  } catch (err) {
    throw invalid((err as Error).message);
  }
}

/** The rules a driver enforces for a sandbox record (undefined: none). */
export function egressOf(s: Pick<SandboxRecord, 'network'>): { allowOut: string[]; denyOut: string[] } | undefined {
  const allowOut = s.network?.allowOut ?? [];
  const denyOut = s.network?.denyOut ?? [];
  return allowOut.length || denyOut.length ? { allowOut, denyOut } : undefined;
}

/** A Host header value, with `${PORT}` allowed: no spaces, no line breaks, nothing that could split a header. */
const HOST_MASK = /^[A-Za-z0-9._:[\]${}-]{1,255}$/;

/**
 * The inbound network settings of a new sandbox; a traffic access token is issued when public traffic is off.
 * Undefined when the request says nothing (public traffic, Host as sent).
 */
export function networkFromRequest(req: NetworkRequest | undefined): SandboxNetwork | undefined {
  if (!req) return undefined;
  if (req.allowPublicTraffic !== undefined && typeof req.allowPublicTraffic !== 'boolean') {
    throw invalid('network.allowPublicTraffic must be a boolean');
  }
  if (
    req.maskRequestHost !== undefined &&
    (typeof req.maskRequestHost !== 'string' || !HOST_MASK.test(req.maskRequestHost))
  ) {
    throw invalid(
      `network.maskRequestHost '${String(req.maskRequestHost)}' is not a host name (with an optional \${PORT})`,
    );
  }
  const allowPublicTraffic = req.allowPublicTraffic ?? true;
  const { allowOut, denyOut } = egressFromRequest(req);
  return {
    allowPublicTraffic,
    ...(allowOut.length ? { allowOut } : {}),
    ...(denyOut.length ? { denyOut } : {}),
    ...(allowPublicTraffic ? {} : { trafficAccessToken: newAccessToken() }),
    ...(req.maskRequestHost ? { maskRequestHost: req.maskRequestHost } : {}),
  };
}

export function checkEnvVars(envVars: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(envVars ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(`envVars: '${k}' is not a valid variable name`);
    if (typeof v !== 'string') throw invalid(`envVars.${k} must be a string`);
  }
}

/**
 * A reusable checkpoint a new sandbox starts from (a snapshot, a fork's temporary image, a template's warm image), with
 * what the new sandbox is made of and runs as. `envdAccessToken` is the token the agent in the image holds.
 */
export interface ImageStart {
  imageDir: string;
  templateId: string;
  alias?: string;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  envVars: Record<string, string>;
  envdAccessToken?: string;
  allowInternetAccess: boolean;
  user: string;
  workdir: string;
  /** For messages: `snapshot …`, `fork of …`, `template … (warm start)`. */
  what: string;
  /** The volumes the checkpointed sandbox mounted: the new one mounts them too. */
  volumeMounts?: VolumeMount[];
  /** Fields of the lifecycle log entry. */
  fields: Record<string, string>;
}

export function fromSnapshot(snap: SnapshotRecord): ImageStart {
  return {
    imageDir: snap.imageDir,
    templateId: snap.templateId,
    alias: snap.name,
    cpuCount: snap.cpuCount,
    memoryMB: snap.memoryMB,
    diskSizeMB: snap.diskSizeMB,
    envVars: snap.envVars,
    envdAccessToken: snap.envdAccessToken,
    allowInternetAccess: snap.allowInternetAccess,
    user: DEFAULT_USER,
    workdir: DEFAULT_WORKDIR,
    what: snap.snapshotId,
    fields: { snapshotId: snap.snapshotId },
    volumeMounts: snap.volumeMounts,
  };
}

/** The record of a sandbox that just started (from a template or from a checkpoint). */
export function runningRecord(
  base: Pick<
    SandboxRecord,
    | 'sandboxId'
    | 'templateId'
    | 'alias'
    | 'timeoutMs'
    | 'cpuCount'
    | 'memoryMB'
    | 'diskSizeMB'
    | 'envVars'
    | 'envdAccessToken'
    | 'allowInternetAccess'
    | 'nodeId'
    | 'network'
    | 'teamId'
    | 'volumeMounts'
  >,
  req: { metadata?: Record<string, string>; autoPause?: boolean; autoResume?: { enabled: boolean } },
  info: SandboxRuntimeInfo,
): SandboxRecord {
  const now = Date.now();
  return {
    ...base,
    state: 'running',
    startedAt: now,
    endAt: now + base.timeoutMs,
    metadata: req.metadata ?? {},
    onTimeout: req.autoPause ? 'pause' : 'kill',
    autoResume: req.autoResume?.enabled ?? false,
    runtime: runtimeOf(info),
  };
}

export function runtimeOf(info: SandboxRuntimeInfo) {
  return { pid: info.pid, address: info.address, envdUrl: info.envdUrl };
}
