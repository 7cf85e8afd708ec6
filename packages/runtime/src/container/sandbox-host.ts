/**
 * The host-side parts of the container driver composed once — state dir, network, launcher, disks, cgroups — and
 * the steps every lifecycle operation shares: reading a sandbox's record and writable layer, starting the launcher for
 * one (create or restore), telling whether it runs, and tearing down everything of one that exists (safe on half-made
 * and unknown sandboxes). The Driver methods (../container.ts), checkpoint.ts and restore.ts work through it.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { stageBinaries } from '../agent-binaries.js';
import { SandboxCgroup, detectLayout } from '../cgroups.js';
import { DriverError, type SandboxRuntimeInfo, type SandboxSpec } from '../driver.js';
import { LayerCache } from '../layer-cache.js';
import { SandboxDisks } from '../sandbox-disk.js';
import { checkIdMap, DEFAULT_ID_MAP, type IdMap } from '../user-namespace.js';
import { DiskPool } from './disk-pool.js';
import { Launcher } from './launcher.js';
import { SandboxNetwork, type Link } from './network.js';
import type { ContainerDriverOptions } from './options.js';
import { StateDir, type SandboxMeta } from './state-dir.js';
import { WritableLayer, type LaunchDisk } from './writable-layer.js';

export { ENVD_PORT } from '../envd-port.gen.js';
import { ENVD_PORT } from '../envd-port.gen.js';

export class SandboxHost {
  readonly opts: ContainerDriverOptions;
  readonly state: StateDir;
  readonly network: SandboxNetwork;
  readonly launcher: Launcher;
  readonly disks: SandboxDisks;
  /** Fresh disks made ahead of time for new sandboxes (none without disk quotas). */
  readonly diskPool: DiskPool;
  /** Local copies of template layers that live on a network or FUSE file system (a cluster's shared store). */
  readonly layers: LayerCache;
  /** The user namespace map of new sandboxes (undefined: none). */
  readonly idMap?: IdMap;
  private readonly cgroupParent: string;

  constructor(opts: ContainerDriverOptions) {
    // Sandboxes bind the staged copies: their mount table then names no host path (agent-binaries.ts).
    this.opts = { ...opts, ...stageBinaries(opts.launcherPath, opts.agentPath, opts.log) };
    this.cgroupParent = opts.cgroupParent ?? 'tensor-box';
    this.state = new StateDir(opts.stateDir);
    this.disks = new SandboxDisks(opts.stateDir);
    this.layers = new LayerCache(path.join(opts.stateDir, '.layer-cache'));
    this.launcher = new Launcher(this.opts.launcherPath, this.opts.agentPath);
    const poolSize = opts.diskQuota === false ? 0 : (opts.diskPoolSize ?? 0);
    this.diskPool = new DiskPool(path.join(opts.stateDir, '.disk-pool'), poolSize, this.launcher, this.disks, opts.log);
    const ns = opts.userNamespaces ?? true;
    this.idMap = ns === false ? undefined : checkIdMap(ns === true ? DEFAULT_ID_MAP : ns);
    this.network = new SandboxNetwork({
      prefix: opts.subnetPrefix ?? '10.13',
      egressAllowCidrs: opts.egressAllowCidrs,
      dnsUpstream: opts.dnsUpstream,
      log: opts.log,
      onDenied: opts.onEgressDenied,
    });
    for (const m of this.state.readAllMeta()) this.network.adopt(m.slot, m.sandboxId);
  }

  /** A new sandbox's preconditions: no sandbox of that id, and every layer there. */
  checkNew(spec: SandboxSpec): void {
    if (this.state.exists(spec.sandboxId)) {
      throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    }
    if (spec.layers.length === 0) {
      throw new DriverError('failed_precondition', 'a sandbox needs at least one rootfs layer');
    }
    for (const l of spec.layers) {
      if (!existsSync(l)) throw new DriverError('failed_precondition', `rootfs layer ${l} does not exist`);
    }
  }

  cgroup(id: string): SandboxCgroup {
    return new SandboxCgroup(detectLayout(), this.cgroupParent, id);
  }

  createCgroup(spec: SandboxSpec): SandboxCgroup {
    const cg = this.cgroup(spec.sandboxId);
    const pidsMax = spec.pidsMax || this.opts.defaultPidsMax || 4096;
    cg.create({ cpuCount: spec.cpuCount, memoryMB: spec.memoryMB, pidsMax });
    return cg;
  }

  /** The record of a running sandbox, or not_found. */
  running(sandboxId: string): SandboxMeta {
    const m = this.state.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    return m;
  }

  alive(m: SandboxMeta): boolean {
    return this.cgroup(m.sandboxId).pids().includes(m.pid);
  }

  /** The sandbox's writable layer, as its record says (older records: as its files say). */
  layerOf(m: SandboxMeta): WritableLayer {
    const dir = this.state.dir(m.sandboxId);
    return new WritableLayer(m.layer ?? WritableLayer.legacyKind(dir), dir, this.disks);
  }

  /**
   * Makes a new sandbox's directory; for a disk layer from the pool when a disk is ready. Whether it was: the layer's
   * disk is then mounted already.
   */
  prepareNew(sandboxId: string, kind: WritableLayer['kind'], diskMB: number): boolean {
    const entry = kind === 'disk' ? this.diskPool.take(diskMB) : undefined;
    if (entry) {
      try {
        this.state.prepare(sandboxId, entry);
        return true;
      } catch {
        void this.diskPool.discard(entry); // gone (swept by another driver on this state dir) or not movable
      }
    }
    this.state.prepare(sandboxId);
    return false;
  }

  newLayer(sandboxId: string, kind: WritableLayer['kind']): WritableLayer {
    return new WritableLayer(kind, this.state.dir(sandboxId), this.disks);
  }

  /** Whether new sandboxes with diskMB > 0 get a disk of their own. */
  get diskQuota(): boolean {
    return this.opts.diskQuota !== false;
  }

  info(m: SandboxMeta): SandboxRuntimeInfo {
    return {
      sandboxId: m.sandboxId,
      pid: m.pid,
      address: m.address,
      envdUrl: `http://${m.address}:${ENVD_PORT}`,
      startedAt: new Date(m.startedAt),
    };
  }

  /** The record of a sandbox that runs (or is being restored) with that link and layer. */
  meta(spec: SandboxSpec, link: Link, layer: WritableLayer, pid: number, idMap?: IdMap): SandboxMeta {
    const { sandboxId } = spec;
    const startedAt = new Date().toISOString();
    const m = { sandboxId, slot: link.slot, pid, address: link.sandboxIp, hostIf: link.hostIf, startedAt, spec };
    return { ...m, ...(idMap ? { idMap } : {}), layer: layer.kind };
  }

  /**
   * Runs `tb-launch create|restore` for the sandbox (cgroup made, layer prepared) and resolves with its init's pid
   * once its agent is ready. `extra`: the command's own options.
   */
  async launch(
    command: 'create' | 'restore',
    spec: SandboxSpec,
    link: Link,
    layer: WritableLayer,
    disk: LaunchDisk,
    idMap: IdMap | undefined,
    extra: string[],
  ): Promise<number> {
    const dir = this.state.dir(spec.sandboxId);
    const args = this.launcher.args(command, {
      // The record keeps the layers' shared paths (a checkpoint may resume on another node); the launcher mounts
      // this node's copies of remote ones.
      spec: { ...spec, layers: await this.layers.resolve(spec.layers) },
      link,
      cgroupDirs: this.cgroup(spec.sandboxId).dirs(),
      layerArgs: layer.launcherArgs(disk),
      merged: path.join(dir, 'rootfs'),
      netnsFile: path.join(dir, 'netns'),
      exitFile: path.join(dir, 'exit'),
      idMap,
    });
    return this.launcher.run([...args, ...extra]);
  }

  /** `tb-launch create`'s own options: a new boot's hostname, resolver and no_new_privs. */
  bootArgs(spec: SandboxSpec): string[] {
    return [
      '--hostname',
      spec.hostname ?? spec.sandboxId,
      ...(spec.internetAccess ? ['--resolv-conf', '/etc/resolv.conf'] : []),
      ...((spec.noNewPrivileges ?? this.opts.noNewPrivileges) ? ['--no-new-privs'] : []),
    ];
  }

  /** Lazily unmounts the sandbox's overlay (its processes must be gone or frozen for good). */
  unmountRoot(sandboxId: string): Promise<void> {
    return this.launcher.cleanup({ merged: path.join(this.state.dir(sandboxId), 'rootfs') });
  }

  async destroy(sandboxId: string): Promise<void> {
    const m = this.state.readMeta(sandboxId);
    await this.teardown(sandboxId, m?.hostIf);
    if (m) this.network.release(m.slot);
  }

  /**
   * Kills, unmounts and removes everything of a sandbox that exists; safe on half-made and unknown sandboxes.
   * `hostIf`: its link, when it is the sandbox's (not when the launch failed because another sandbox has that name).
   */
  async teardown(sandboxId: string, hostIf?: string): Promise<void> {
    const dir = this.state.dir(sandboxId);
    if (hostIf) await this.network.removeEgress(hostIf);
    const cg = this.cgroup(sandboxId);
    if (cg.exists()) {
      await cg.killAll();
      await cg.remove();
    }
    if (existsSync(dir) || hostIf) {
      await this.launcher.cleanup({
        merged: path.join(dir, 'rootfs'),
        netnsFile: path.join(dir, 'netns'),
        diskMount: WritableLayer.mountPointOf(dir),
        hostIf,
      });
      // The shim (outside the cgroup) writes `exit` once the init is reaped: it may land while the directory goes.
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
    }
  }
}
