/**
 * The sandboxes repository: one record per sandbox the control plane knows (running or paused), with the conditional
 * update lifecycle transitions go through. Implemented by sqlite-sandboxes.ts and postgres-sandboxes.ts; records are
 * plain objects, times in epoch milliseconds.
 */
import type { VolumeMount } from './volume-repository.js';

/**
 * A sandbox's lifecycle state. `running` and `paused` are stable; the others are held while an operation is under way
 * (the allowed moves and what the API shows for each: lifecycle/states.ts). Every change is a conditional write
 * (`transitionSandbox`), so two operations on one sandbox cannot both start.
 */
export type SandboxState = 'running' | 'paused' | 'pausing' | 'resuming' | 'snapshotting' | 'killing' | 'lost';
export type OnTimeout = 'kill' | 'pause';
/** How a sandbox was paused: `memory` (CRIU: processes and memory too) or `filesystem` (only the writable layer). */
export type PauseMode = 'memory' | 'filesystem';
/** The boundary a sandbox runs in, i.e. which driver runs it (lifecycle/drivers.ts). */
export type Isolation = 'container' | 'microvm';

export interface SandboxRuntime {
  pid: number;
  address: string;
  envdUrl: string;
}

/** How traffic reaches a sandbox through the ingress (E2B's `network` settings that concern inbound traffic). */
export interface SandboxNetwork {
  /** false: user ports need the `e2b-traffic-access-token` header with `trafficAccessToken`. */
  allowPublicTraffic: boolean;
  trafficAccessToken?: string;
  /** The Host header the sandbox sees (`${PORT}` is replaced by the port). */
  maskRequestHost?: string;
  /** Outbound rules (addresses, CIDRs, host names); allow wins over deny. */
  allowOut?: string[];
  denyOut?: string[];
}

export interface SandboxRecord {
  sandboxId: string;
  templateId: string;
  alias?: string;
  state: SandboxState;
  startedAt: number;
  /** When the lifecycle sweep acts on the sandbox (kill or pause). */
  endAt: number;
  /** The inactivity timeout; activity pushes endAt to at least now + timeoutMs. */
  timeoutMs: number;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  onTimeout: OnTimeout;
  /** With onTimeout `pause`: false makes the timeout's pause filesystem-only (E2B's autoPauseMemory). Absent: true. */
  autoPauseMemory?: boolean;
  autoResume: boolean;
  envdAccessToken?: string;
  allowInternetAccess: boolean;
  runtime?: SandboxRuntime;
  /** While paused: the complete checkpoint directory in the snapshot store. */
  pausedImage?: string;
  /**
   * From the move into `pausing` until the next resume completes: how it is paused (a `filesystem` one boots afresh on
   * resume). Absent: `memory`.
   */
  pauseMode?: PauseMode;
  /** While running: the node (control plane) whose runtime runs it. A paused sandbox belongs to no node. */
  nodeId?: string;
  /** The owning team (absent: the admin team). */
  teamId?: string;
  network?: SandboxNetwork;
  /** Which driver runs it (absent: `container`, a record from before isolation was recorded). */
  isolation?: Isolation;
  /** Why the sandbox is in its state, when that needs saying (`lost`: which node died, and when). */
  stateReason?: string;
  /** The volumes it mounts (resume mounts them again). */
  volumeMounts?: VolumeMount[];
}

export interface SandboxFilter {
  states?: SandboxState[];
  metadata?: Record<string, string>;
  /** Only sandboxes of this template ID. */
  templateId?: string;
  /** Only sandboxes started at or after this time (unix ms). */
  startedAfterMs?: number;
  /** By (startedAt, sandboxId): `desc` (default) newest first, `asc` oldest first. */
  order?: 'asc' | 'desc';
  /** Cursor: return sandboxes strictly after this (startedAt, sandboxId) in the list's order. */
  after?: { startedAt: number; sandboxId: string };
  limit?: number;
  /** Only this team's sandboxes. */
  teamId?: string;
}

export interface SandboxRepository {
  /** Inserts the record; one with the same ID is replaced. */
  insertSandbox(s: SandboxRecord): Promise<void>;
  /** Sets only the fields in `patch` (`undefined` clears one); sandboxId and unknown keys are ignored. */
  updateSandbox(id: string, patch: Partial<SandboxRecord>): Promise<void>;
  /**
   * Conditional update: applies `patch` only while the sandbox is in one of the `from` states, atomically (one
   * `UPDATE ... WHERE state IN (...)`). False when the sandbox is gone or in another state: the caller lost a race.
   */
  transitionSandbox(id: string, from: SandboxState[], patch: Partial<SandboxRecord>): Promise<boolean>;
  getSandbox(id: string): Promise<SandboxRecord | undefined>;
  listSandboxes(filter?: SandboxFilter): Promise<SandboxRecord[]>;
  /** Sandboxes whose endAt has passed. */
  expiredSandboxes(now: number): Promise<SandboxRecord[]>;
  deleteSandbox(id: string): Promise<void>;
}
