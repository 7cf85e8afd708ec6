/**
 * Server configuration, read once from the environment by the entry point and passed down explicitly.
 * Every variable is documented in the README ("Configuration").
 */
import path from 'node:path';
import { quotasFromEnv, type Quotas } from './teams/quotas.js';
import type { RateLimit } from './teams/rate-limit.js';

export interface ServerConfig {
  host: string;
  port: number;
  /** Root of all state: database, templates, sandbox runtime dirs. */
  dataDir: string;
  /** Public domain used to build sandbox host names (`<id>-<port>.<domain>`), e.g. `localhost:3000`. */
  domain: string;
  /** API key from the environment; when absent one is generated on first start and stored. */
  apiKey?: string;
  /** PostgreSQL URL; SQLite in dataDir when absent. */
  databaseUrl?: string;
  /** Shared cache for built root filesystems (speeds up first start of fresh data dirs). */
  cacheDir: string;
  /** Default sandbox timeout when a request does not give one, in ms (E2B's API default: 15 s). */
  defaultTimeoutMs: number;
  /** Interval of the lifecycle sweep, in ms. */
  sweepIntervalMs: number;
  /** Interval between metric samples of each sandbox, in ms. */
  metricsIntervalMs?: number;
  /**
   * Snapshot store root (pause images). Default `<dataDir>/snapshots`; point it at a directory several nodes mount
   * (NFS, JuiceFS) to resume sandboxes on another node. Layout: docs/snapshots.md.
   */
  snapshotDir?: string;
  /** How long a paused sandbox is kept before it is deleted, in ms (default 30 days). */
  pausedRetentionMs?: number;
  /**
   * This control plane's name among several sharing one database (default: generated once and kept in
   * `<dataDir>/node-id`). Running sandboxes belong to the node that runs them; paused ones can resume on any node.
   */
  nodeId?: string;
  /**
   * Template layers, base images and uploaded build files. Default `<dataDir>/templates`; with several nodes, a
   * directory they all mount at the same path (as the snapshot store).
   */
  templateDir?: string;
  /** The built web console served at `/` (default: packages/console/dist of this checkout; '' serves none). */
  consoleDir?: string;
  /** The OCI/Docker registry templates can be built `fromImage` from (Registry HTTP API v2). */
  registry?: { url: string; username?: string; password?: string };
  /**
   * Lifetime of one template build step (default 30 min) and how long a readyCmd may take to pass (default 5 min), in
   * ms.
   */
  buildStepTimeoutMs?: number;
  readyTimeoutMs?: number;
  /**
   * Run each sandbox in its own user namespace, root inside an unprivileged host user (default true;
   * TENSOR_BOX_USER_NAMESPACES=off turns it off). See docs/userns.md.
   */
  userNamespaces?: boolean;
  /** Default team quotas (`TENSOR_BOX_QUOTA_*`); a team's own settings override them. */
  quotas?: Partial<Quotas>;
  /** Request rate per team API key (default 100/s, burst 200; the admin key is not limited). */
  keyRate?: RateLimit;
  /** Disk of templates that name none, in MiB (default DEFAULT_DISK_MB). */
  defaultDiskMB?: number;
  /** Host free space sandboxes never get, in MiB (default: the larger of 2 GiB and 5% of the filesystem). */
  diskReserveMB?: number;
  /**
   * Sandbox disks kept ready per disk size, made in the background so creates need not wait for one (default 4;
   * TENSOR_BOX_DISK_POOL, 0 turns it off). Released when the server stops.
   */
  diskPoolSize?: number;
  /**
   * CIDRs sandboxes with internet access may reach although they are blocked by default (cloud metadata and other
   * link-local addresses, loopback, multicast, reserved ranges, carrier-grade NAT and the host's own networks).
   */
  egressAllowCidrs?: string[];
  /** Resolver (`ip[:port]`) for sandboxes with host-name egress rules (default: the host's first nameserver). */
  dnsUpstream?: string;
  /**
   * The default isolation of new sandboxes: `container` (default) or `microvm` (QEMU microVMs; needs
   * qemu-system-x86_64 and the guest prepared by packages/runtime/setup.sh, else the server does not start). From
   * TENSOR_BOX_ISOLATION. A server runs both when it can: a template's `isolation`, and a create's above it, choose.
   */
  isolation?: 'container' | 'microvm';
  /**
   * Volume images (TENSOR_BOX_VOLUME_DIR). Default `<snapshotDir>/volumes` when a snapshot store is configured (with
   * several nodes it is shared, so a volume follows its sandboxes), else `<dataDir>/volumes`.
   */
  volumeDir?: string;
  /** Size of a volume whose request names none, MiB (TENSOR_BOX_VOLUME_SIZE_MB, default 1024). */
  defaultVolumeMB?: number;
  /** Several nodes as one cluster (docs/cluster.md); absent: this node alone, as without DATABASE_URL. */
  cluster?: ClusterConfig;
}

/** Cluster mode: on when `TENSOR_BOX_CLUSTER_SECRET` is set (needs DATABASE_URL). */
export interface ClusterConfig {
  /** Shared by every node; node-to-node requests carry it (TENSOR_BOX_CLUSTER_SECRET). */
  secret: string;
  /** The URL other nodes reach this one at (TENSOR_BOX_NODE_ADDRESS; default http://<host>:<port>). */
  nodeAddress?: string;
  /** A node whose last heartbeat is older than this is declared dead (TENSOR_BOX_NODE_LEASE_MS, default 15 s). */
  leaseMs: number;
  /** Heartbeat interval (TENSOR_BOX_HEARTBEAT_MS, default a third of the lease). */
  heartbeatMs: number;
  /** `spread` (default): starts go to the node with the most free capacity; `local`: where asked. */
  placement: 'spread' | 'local';
  /** Sandboxes this node runs at most, as placement counts (TENSOR_BOX_SANDBOX_SLOTS, default 1000). */
  sandboxSlots: number;
}

function clusterFromEnv(env: NodeJS.ProcessEnv): ClusterConfig | undefined {
  const secret = env.TENSOR_BOX_CLUSTER_SECRET;
  if (!secret) return undefined;
  if (!env.DATABASE_URL) throw new Error('TENSOR_BOX_CLUSTER_SECRET needs DATABASE_URL: a cluster shares PostgreSQL');
  if (secret.length < 16) throw new Error('TENSOR_BOX_CLUSTER_SECRET must be at least 16 characters');
  const placement = env.TENSOR_BOX_PLACEMENT || 'spread';
  if (placement !== 'spread' && placement !== 'local') {
    throw new Error(`TENSOR_BOX_PLACEMENT must be 'spread' or 'local', not '${placement}'`);
  }
  const leaseMs = Number(env.TENSOR_BOX_NODE_LEASE_MS || 15_000);
  return {
    secret,
    nodeAddress: env.TENSOR_BOX_NODE_ADDRESS || undefined,
    leaseMs,
    heartbeatMs: Number(env.TENSOR_BOX_HEARTBEAT_MS || Math.max(100, Math.floor(leaseMs / 3))),
    placement,
    sandboxSlots: Number(env.TENSOR_BOX_SANDBOX_SLOTS || 1000),
  };
}

/** `TENSOR_BOX_KEY_RATE_PER_SEC` and `TENSOR_BOX_KEY_RATE_BURST` (default: twice the rate). */
function keyRateFromEnv(env: NodeJS.ProcessEnv): RateLimit | undefined {
  const rate = Number(env.TENSOR_BOX_KEY_RATE_PER_SEC);
  return rate > 0 ? { ratePerSec: rate, burst: Number(env.TENSOR_BOX_KEY_RATE_BURST) || 2 * rate } : undefined;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const host = env.TENSOR_BOX_HOST || '127.0.0.1';
  const port = Number(env.TENSOR_BOX_PORT || 3000);
  const dataDir = path.resolve(env.TENSOR_BOX_DATA_DIR || './.tensor-box');
  return {
    host,
    port,
    dataDir,
    domain: env.TENSOR_BOX_PUBLIC_DOMAIN || `localhost:${port}`,
    apiKey: env.TENSOR_BOX_API_KEY || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    cacheDir: path.resolve(env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box'),
    defaultTimeoutMs: 15_000,
    sweepIntervalMs: Number(env.TENSOR_BOX_SWEEP_MS || 1000),
    metricsIntervalMs: Number(env.TENSOR_BOX_METRICS_INTERVAL_MS || 5000),
    snapshotDir: env.TENSOR_BOX_SNAPSHOT_DIR ? path.resolve(env.TENSOR_BOX_SNAPSHOT_DIR) : undefined,
    pausedRetentionMs: env.TENSOR_BOX_PAUSED_RETENTION_DAYS
      ? Number(env.TENSOR_BOX_PAUSED_RETENTION_DAYS) * 86400_000
      : undefined,
    nodeId: env.TENSOR_BOX_NODE_ID || undefined,
    templateDir: env.TENSOR_BOX_TEMPLATE_DIR ? path.resolve(env.TENSOR_BOX_TEMPLATE_DIR) : undefined,
    registry: env.TENSOR_BOX_REGISTRY_URL
      ? {
          url: env.TENSOR_BOX_REGISTRY_URL,
          username: env.TENSOR_BOX_REGISTRY_USERNAME || undefined,
          password: env.TENSOR_BOX_REGISTRY_PASSWORD || undefined,
        }
      : undefined,
    buildStepTimeoutMs: env.TENSOR_BOX_BUILD_STEP_TIMEOUT_MS ? Number(env.TENSOR_BOX_BUILD_STEP_TIMEOUT_MS) : undefined,
    readyTimeoutMs: env.TENSOR_BOX_READY_TIMEOUT_MS ? Number(env.TENSOR_BOX_READY_TIMEOUT_MS) : undefined,
    userNamespaces: !/^(0|false|off|no)$/i.test(env.TENSOR_BOX_USER_NAMESPACES ?? ''),
    quotas: quotasFromEnv(env),
    keyRate: keyRateFromEnv(env),
    defaultDiskMB: env.TENSOR_BOX_DEFAULT_DISK_MB ? Number(env.TENSOR_BOX_DEFAULT_DISK_MB) : undefined,
    diskReserveMB: env.TENSOR_BOX_DISK_RESERVE_MB ? Number(env.TENSOR_BOX_DISK_RESERVE_MB) : undefined,
    diskPoolSize: env.TENSOR_BOX_DISK_POOL ? Number(env.TENSOR_BOX_DISK_POOL) : undefined,
    egressAllowCidrs: env.TENSOR_BOX_EGRESS_ALLOW_CIDRS
      ? env.TENSOR_BOX_EGRESS_ALLOW_CIDRS.split(',')
          .map((c) => c.trim())
          .filter(Boolean)
      : undefined,
    dnsUpstream: env.TENSOR_BOX_DNS_UPSTREAM || undefined,
    isolation: isolationFrom(env.TENSOR_BOX_ISOLATION),
    volumeDir: env.TENSOR_BOX_VOLUME_DIR ? path.resolve(env.TENSOR_BOX_VOLUME_DIR) : undefined,
    defaultVolumeMB: env.TENSOR_BOX_VOLUME_SIZE_MB ? Number(env.TENSOR_BOX_VOLUME_SIZE_MB) : undefined,
    cluster: clusterFromEnv(env),
  };
}

function isolationFrom(v: string | undefined): ServerConfig['isolation'] {
  if (!v || v === 'container' || v === 'microvm') return (v || undefined) as ServerConfig['isolation'];
  throw new Error(`TENSOR_BOX_ISOLATION must be 'container' or 'microvm', not '${v}'`);
}
