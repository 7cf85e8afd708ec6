/**
 * The Driver interface: the only place where the control plane meets an isolation backend.
 *
 * Vocabulary: a *sandbox* is one isolated Linux environment whose PID 1 is the agent (envd). Its root filesystem is an
 * overlay of read-only *layers* (a template's rootfs and the layers derived from it) under a per-sandbox writable
 * layer.
 *
 * Lifecycle and which call is allowed in which state:
 *
 *     (none) --create--> running --freeze--> frozen --thaw--> running
 *                        running --checkpoint--> (none, image on disk) --restore--> running
 *                        running|frozen --destroy--> (none)
 *
 * - `create` either returns a running sandbox whose agent already listens, or throws and leaves nothing behind.
 * - `destroy` is idempotent: destroying an unknown or half-made sandbox succeeds and removes whatever is left of it.
 * - `list` reports the sandboxes that are still alive on this host, e.g. after a control-plane restart (re-adoption),
 *   and removes the leftovers of dead ones.
 * - Optional capabilities (freeze/thaw, checkpoint/restore) are separate interfaces; check with the `has*` guards.
 *
 * Drivers receive all configuration through their constructor, never from globals or the environment.
 */

/** Resource limits and identity for one sandbox. */
export interface SandboxSpec {
  /** Unique sandbox id; also the name of every host object the driver makes for it. */
  sandboxId: string;
  /** Read-only rootfs layers, topmost first (overlayfs `lowerdir` order). Absolute host paths. */
  layers: string[];
  cpuCount: number;
  memoryMB: number;
  /** Upper limit on the writable layer, in MiB (0 = unlimited). */
  diskMB: number;
  /** Upper limit on the number of processes (0 = the driver's default). */
  pidsMax?: number;
  /** Route and NAT to the outside world; false = only the host end of the sandbox's link is reachable. */
  internetAccess: boolean;
  hostname?: string;
  /** Set no_new_privs (setuid programs such as sudo stop working); default: the driver's setting. */
  noNewPrivileges?: boolean;
  /**
   * Outbound rules (E2B's allowOut/denyOut: addresses, CIDRs, host names in allowOut); allow wins over deny. In force
   * before the sandbox's first packet, on create and on restore.
   */
  egress?: { allowOut: string[]; denyOut: string[] };
  /**
   * Host directories bound read-write into the sandbox (volumes), on create and on restore. On restore every mount
   * the checkpoint was taken with must be given again (by `sandboxPath`; its `hostPath` may differ). Drivers that
   * cannot mount host directories refuse a spec with mounts (invalid_argument) rather than ignore them.
   */
  mounts?: SandboxMount[];
}

/** One host directory bound into a sandbox. */
export interface SandboxMount {
  /** Absolute host path of a directory (the control plane keeps it mounted while the sandbox runs). */
  hostPath: string;
  /** Absolute path inside the sandbox; made when missing. */
  sandboxPath: string;
}

/** What the control plane needs to talk to a live sandbox. */
export interface SandboxRuntimeInfo {
  sandboxId: string;
  /** Host PID of the sandbox's init (the agent). */
  pid: number;
  /** Address of the sandbox as seen from the host (e.g. its veth IP); user ports are reached at `address:port`. */
  address: string;
  /** Base URL of the agent, e.g. `http://10.13.0.2:49983`. */
  envdUrl: string;
  startedAt: Date;
}

/** Point-in-time resource usage, read from the cgroup and the writable layer. */
export interface SandboxStats {
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNs: number;
  cpuCount: number;
  memoryUsedBytes: number;
  memoryCacheBytes: number;
  memoryLimitBytes: number;
  diskUsedBytes: number;
  diskLimitBytes: number;
  pids: number;
}

export interface Driver {
  readonly name: string;
  create(spec: SandboxSpec): Promise<SandboxRuntimeInfo>;
  list(): Promise<SandboxRuntimeInfo[]>;
  destroy(sandboxId: string): Promise<void>;
  stats(sandboxId: string): Promise<SandboxStats>;
}

/** Optional: suspend every process of a sandbox in place (memory stays resident). */
export interface Freezer {
  freeze(sandboxId: string): Promise<void>;
  thaw(sandboxId: string): Promise<void>;
}

/**
 * Optional: save a sandbox's processes and writable layer to a directory and bring them back later, maybe elsewhere.
 */
export interface Checkpointer {
  /**
   * Checkpoints the sandbox into `imageDir`; on success the sandbox no longer runs on this host (unless
   * `leaveRunning`): no process, mount, netns or cgroup of it is left. With `layerOut` (not with `leaveRunning`) the
   * writable layer is not kept in the image but becomes the read-only layer directory `layerOut` (a template's warm
   * start): the image then restores on top of `[layerOut, ...layers]` with an empty writable layer.
   */
  checkpoint(sandboxId: string, imageDir: string, opts?: { leaveRunning?: boolean; layerOut?: string }): Promise<void>;
  /**
   * Starts a sandbox from a checkpoint; `move` consumes the checkpoint (resume), otherwise it stays reusable. Empty
   * `spec.layers` means the layers the checkpointed sandbox ran on.
   */
  restore(spec: SandboxSpec, imageDir: string, opts?: { move?: boolean }): Promise<SandboxRuntimeInfo>;
  /**
   * Whether a restored sandbox still reads from this checkpoint (memory pages are fetched lazily after restore
   * returns). Delete a checkpoint only once this says false.
   */
  imageInUse(imageDir: string): boolean;
}

/**
 * Optional: turn a sandbox's writable layer (its changes over its layers) into a read-only layer directory that new
 * sandboxes can stack on (`[dest, ...its layers]`). With `leaveRunning` the sandbox is frozen for a consistent copy and
 * thawed (commit-as-template); without it the sandbox is destroyed and its layer moved, not copied (end of a build).
 * `dest` must not exist; on failure nothing is left at `dest` and a `leaveRunning` sandbox keeps running.
 */
export interface LayerCapturer {
  captureLayer(sandboxId: string, dest: string, opts?: { leaveRunning?: boolean }): Promise<void>;
}

/** Optional: replace a running sandbox's outbound rules at once (open connections to newly denied addresses stop). */
export interface EgressController {
  updateEgress(sandboxId: string, rules: { allowOut: string[]; denyOut: string[] }): Promise<void>;
}

export const hasEgressController = (d: Driver): d is Driver & EgressController =>
  typeof (d as Partial<EgressController>).updateEgress === 'function';

export const hasLayerCapturer = (d: Driver): d is Driver & LayerCapturer =>
  typeof (d as Partial<LayerCapturer>).captureLayer === 'function';

export const hasFreezer = (d: Driver): d is Driver & Freezer => typeof (d as Partial<Freezer>).freeze === 'function';
export const hasCheckpointer = (d: Driver): d is Driver & Checkpointer =>
  typeof (d as Partial<Checkpointer>).checkpoint === 'function';

/** Errors a driver throws, so the control plane can map them once. */
export class DriverError extends Error {
  constructor(
    readonly kind: 'not_found' | 'invalid_argument' | 'resource_exhausted' | 'failed_precondition' | 'internal',
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}
