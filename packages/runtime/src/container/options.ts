/**
 * The container driver's options (see ContainerDriver in ../container.ts): given to its constructor, never read from
 * the environment.
 */
import type { IdMap } from '../user-namespace.js';

export interface ContainerDriverOptions {
  /** Where per-sandbox state lives (upper dirs, overlay mounts, pinned netns). */
  stateDir: string;
  /** The native launcher (build/tb-launch). */
  launcherPath: string;
  /** The agent binary, bind-mounted read-only into every sandbox (build/envd). */
  agentPath: string;
  /** Name of the parent cgroup (default `tensor-box`). */
  cgroupParent?: string;
  /** Default pids limit when a spec gives none. */
  defaultPidsMax?: number;
  /**
   * Set no_new_privs on every sandbox (default false). With it, setuid programs such as `sudo` stop working, so the
   * default template's passwordless sudo would be dead; the seccomp filter and the reduced capability set apply either
   * way.
   */
  noNewPrivileges?: boolean;
  /**
   * CRIU 4.2+ (build/criu, built by packages/runtime/criu/build.sh). Without it checkpoint/restore answer
   * failed_precondition; everything else works.
   */
  criuPath?: string;
  /**
   * Restore memory lazily (default true): processes resume at once and pages arrive on first touch (userfaultfd), the
   * rest in the background; the checkpoint must stay until `imageInUse` says false.
   */
  lazyPages?: boolean;
  /** First two octets of the sandbox address space (default `10.13`; a /16 split into /30s). */
  subnetPrefix?: string;
  /**
   * Give each sandbox with `diskMB > 0` a disk of its own of that size (default true): writing past it fails with
   * ENOSPC inside. Off: writable layers share the state dir's filesystem and diskMB is only reported.
   */
  diskQuota?: boolean;
  /**
   * Fresh disks kept ready per disk size (default 0: none), made in the background so a create does not wait for
   * one (container/disk-pool.ts). Each is a sparse image of a few MB on the state dir's file system and a mounted
   * loop device: whoever turns the pool on calls `close()` when done, and a driver started on the same state dir
   * after a crash removes what was left.
   */
  diskPoolSize?: number;
  /**
   * CIDRs sandboxes with internet access may reach although they are blocked by default (link-local/cloud metadata,
   * loopback, multicast, reserved, carrier-grade NAT and the host's own networks; see firewall.ts).
   */
  egressAllowCidrs?: string[];
  /**
   * Run every sandbox in its own user namespace (default true, with DEFAULT_ID_MAP): root inside is an unprivileged
   * host user. An IdMap picks the host range; false turns it off. Checkpoints keep the choice they were made with.
   * See user-namespace.ts and docs/userns.md.
   */
  userNamespaces?: boolean | IdMap;
  /** Resolver (`ip[:port]`) that sandboxes with host-name egress rules resolve through (default: the host's). */
  dnsUpstream?: string;
  /** A connection a sandbox's egress rules denied (rate-limited by the kernel log rule). */
  onEgressDenied?: (sandboxId: string, d: { destination: string; protocol: string; port?: number }) => void;
  log?: (msg: string) => void;
}
