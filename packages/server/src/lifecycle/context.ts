/**
 * What every lifecycle operation works with: the service's dependencies (store, drivers, snapshot store, quotas, …)
 * and the few steps they all share — looking a sandbox up for the caller, the node rule (a running sandbox is acted
 * on by the node that runs it), lifecycle log entries, a team's running slot around a start, quiescing the agent
 * before a checkpoint, and deleting an image once no restored sandbox reads from it. No state of its own.
 */
import type { Drivers } from './drivers.js';
import { hasCheckpointer, type Driver, type SandboxMount } from '@tensor-box/runtime';
import { rm } from 'node:fs/promises';
import { ApiError } from '../errors.js';
import type { Metrics } from '../http/prometheus.js';
import type { HostDisk } from '../services/host-disk.js';
import type { MetricsSampler } from '../services/metrics-sampler.js';
import type { SandboxLogs } from '../services/sandbox-logs.js';
import type { SnapshotStore } from '../services/snapshot-store.js';
import type { TemplateService } from '../services/template-service.js';
import type { VolumeService } from '../services/volume-service.js';
import { envdQuiesce } from '../services/envd-client.js';
import type { LogLevel, SandboxRecord, Store, VolumeMount } from '../store/store.js';
import { actorFields, requireVisible } from '../teams/caller.js';
import type { QuotaGuard } from '../teams/quota-guard.js';

export interface SandboxServiceOptions {
  store: Store;
  /** The drivers by isolation: each record names the one that runs it (drivers.ts). */
  drivers: Drivers;
  templates: TemplateService;
  /** Public domain for sandbox host names (a function: it may only be known once the server listens). */
  domain: () => string;
  log?: (msg: string) => void;
  logs: SandboxLogs;
  metrics: MetricsSampler;
  prom: Metrics;
  /** Where pause images, snapshots and fork images live. */
  snapshots: SnapshotStore;
  /** How long a paused sandbox is kept, in ms. */
  pausedRetentionMs: number;
  /** This node's name: running sandboxes belong to the node that runs them (several nodes can share one store). */
  nodeId: string;
  /** Team quotas (teams/quota-guard.ts); none: unlimited. */
  quota?: QuotaGuard;
  /** The host disk sandboxes write to: starts that could fill it are refused. */
  hostDisk?: HostDisk;
  /** Volumes: `volumeMounts` checked on create, mounted on this node while a sandbox runs here. */
  volumes?: VolumeService;
}

export class LifecycleContext {
  constructor(readonly opts: SandboxServiceOptions) {}

  get store(): Store {
    return this.opts.store;
  }

  get drivers(): Drivers {
    return this.opts.drivers;
  }

  /** The driver that runs (or saved) a sandbox or snapshot record. */
  driverOf(r: { isolation?: SandboxRecord['isolation'] }): Driver {
    return this.opts.drivers.of(r);
  }

  log(msg: string): void {
    this.opts.log?.(msg);
  }

  /** A lifecycle log entry; it names the API key that acted (none: the server itself, e.g. a timeout). */
  event(sandboxId: string, level: LogLevel, message: string, fields: Record<string, string> = {}): void {
    this.opts.logs.write(sandboxId, level, message, { source: 'lifecycle', ...actorFields(), ...fields });
    this.log(`sandbox ${sandboxId}: ${message}`);
  }

  /** The record of a sandbox the caller may see (in any state), or NotFound. */
  async get(sandboxId: string): Promise<SandboxRecord> {
    // Another team's sandbox is as absent as a missing one (every surface looks sandboxes up here).
    return requireVisible(await this.store.getSandbox(sandboxId), `sandbox '${sandboxId}'`);
  }

  /**
   * Whether this node acts on the sandbox: paused and lost ones (and kills of them) belong to every node, the others
   * to the node that runs (or resumes) them.
   */
  isMine(s: SandboxRecord): boolean {
    return s.state === 'paused' || s.state === 'lost' || !s.nodeId || s.nodeId === this.opts.nodeId;
  }

  /** Refuses operations on a sandbox another node runs (its runtime is only reachable there). */
  here(s: SandboxRecord): void {
    if (!this.isMine(s)) {
      const msg = `sandbox '${s.sandboxId}' runs on node '${s.nodeId}'; send this request to that node`;
      throw new ApiError('failed_precondition', msg);
    }
  }

  /** Runs a start holding a running slot of the team's quota (429 when none is free); the slot is released after. */
  async withRunSlot<T>(teamId: string, need: { cpuCount: number; memoryMB: number }, fn: () => Promise<T>): Promise<T> {
    const release = await this.opts.quota?.claimRun(teamId, need);
    try {
      return await fn();
    } finally {
      await release?.();
    }
  }

  /** Before a checkpoint: the agent ends its watches (their clients get Unavailable and may watch again later). */
  async quiesce(s: SandboxRecord): Promise<void> {
    if (!s.runtime) return;
    await envdQuiesce(s.runtime.envdUrl, s.envdAccessToken).catch((err) =>
      this.log(`quiesce of ${s.sandboxId}: ${(err as Error).message}`),
    );
  }

  /** Deletes a checkpoint once no restored sandbox reads pages from it any more (lazy restore). */
  async removeImageWhenFree(imageDir: string): Promise<void> {
    const inUse = () => this.drivers.all().some(([, d]) => hasCheckpointer(d) && d.imageInUse(imageDir));
    for (let i = 0; i < 6000 && inUse(); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Only this generation: the sandbox's directory may be getting its next one right now (kill and start clean up).
    await rm(imageDir, { recursive: true, force: true }).catch(() => {});
  }

  /** Forgets per-process bookkeeping of a sandbox that stopped running here (metrics sampling, its volumes' mounts). */
  async stoppedHere(sandboxId: string, volumeMounts?: VolumeMount[]): Promise<void> {
    this.opts.metrics.forget(sandboxId);
    await this.opts.volumes?.detach(sandboxId, volumeMounts);
  }

  /** Mounts a sandbox's volumes on this node for a start or resume here (none: no volumes). */
  attachVolumes(sandboxId: string, volumeMounts?: VolumeMount[]): Promise<SandboxMount[] | undefined> {
    if (!volumeMounts?.length) return Promise.resolve(undefined);
    if (!this.opts.volumes) throw new ApiError('failed_precondition', 'this server has no volumes');
    return this.opts.volumes.attach(sandboxId, volumeMounts);
  }
}
