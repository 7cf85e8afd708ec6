/**
 * The `container` driver: each sandbox is a tree of processes in its own mount, PID, UTS, IPC, network and cgroup
 * namespaces (and, by default, a user namespace), on an overlayfs root (template layers below, a per-sandbox writable
 * layer on top), limited by its cgroups, with a veth pair on a private /30 to the host. The native launcher
 * (native/, build/tb-launch) does the namespace work and stays as the sandbox's shim.
 *
 * This file is the Driver and its capabilities, composed from one module per job under container/: the on-disk state
 * and its markers (state-dir.ts), address slots, links and firewall (network.ts), the launcher (launcher.ts), the
 * writable layer — a disk of its own or a directory, decided once (writable-layer.ts) — the shared host-side steps
 * (sandbox-host.ts), CRIU checkpoints (checkpoint.ts), restores (restore.ts), filesystem-only pauses and fresh boots
 * (fs-pause.ts) and crash recovery (recovery.ts).
 */
import { mkdirSync, close, openSync, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  DriverError,
  type Checkpointer,
  type Closer,
  type Driver,
  type EgressController,
  type FilesystemPauser,
  type Freezer,
  type LayerCapturer,
  type SandboxRuntimeInfo,
  type SandboxSpec,
  type SandboxStats,
} from './driver.js';
import { parseEgressRules } from './egress.js';
import { checkpoint, imageInUse, type CheckpointOptions } from './container/checkpoint.js';
import { boot, pauseFilesystem } from './container/fs-pause.js';
import { vethRace, type Link } from './container/network.js';
import type { ContainerDriverOptions } from './container/options.js';
import { recover } from './container/recovery.js';
import { restore } from './container/restore.js';
import { SandboxHost } from './container/sandbox-host.js';
import type { SandboxMeta } from './container/state-dir.js';
import { WritableLayer } from './container/writable-layer.js';

export { ENVD_PORT } from './container/sandbox-host.js';
export type { ContainerDriverOptions } from './container/options.js';

export class ContainerDriver
  implements Driver, Freezer, Checkpointer, FilesystemPauser, LayerCapturer, EgressController, Closer
{
  readonly name = 'container';
  private readonly host: SandboxHost;

  constructor(opts: ContainerDriverOptions) {
    this.host = new SandboxHost(opts);
  }

  async create(spec: SandboxSpec): Promise<SandboxRuntimeInfo> {
    const host = this.host;
    host.checkNew(spec);
    const kind = WritableLayer.kindFor(spec, host.diskQuota);
    return host.network.withLink(spec, async (link: Link) => {
      const pooled = host.prepareNew(spec.sandboxId, kind, spec.diskMB);
      const layer = host.newLayer(spec.sandboxId, kind);
      try {
        const disk = await layer.prepareEmpty(spec.diskMB, pooled);
        host.createCgroup(spec);
        const pid = await host.launch('create', spec, link, layer, disk, host.idMap, host.bootArgs(spec));
        // After the launch made the link ours (a launch that loses the name to another driver instance must not have
        // touched that instance's rules). Only our agent runs until create returns, so no sandbox code goes unruled.
        await host.network.applyEgress(link.hostIf, link.sandboxIp, spec.egress);
        const meta = host.meta(spec, link, layer, pid, host.idMap);
        host.state.writeMeta(meta);
        return host.info(meta);
      } catch (err) {
        // A lost race for the interface name: that interface is another sandbox's, not ours to delete.
        await host.teardown(spec.sandboxId, vethRace(err) ? undefined : link.hostIf).catch(() => {});
        if (err instanceof DriverError) throw err;
        // The image decides whether a volume's path can be a mount point (a file there cannot): the caller's input.
        const badMount = /(?:make volume mount point|mount volume at) (\S+): (.*)/.exec((err as Error).message);
        if (badMount) {
          const msg = `volumeMounts: cannot mount a volume at ${badMount[1]} in this sandbox: ${badMount[2]}`;
          throw new DriverError('invalid_argument', msg);
        }
        throw new DriverError('internal', `cannot start sandbox: ${(err as Error).message}`);
      } finally {
        if (kind === 'disk') host.diskPool.refill();
      }
    });
  }

  async list(): Promise<SandboxRuntimeInfo[]> {
    const { host } = this;
    await host.diskPool.swept; // a previous process's ready disks: unmounted and removed
    const log = (msg: string) => host.opts.log?.(`container: ${msg}`);
    const out: SandboxRuntimeInfo[] = [];
    for (const id of host.state.ids()) {
      let m: SandboxMeta | undefined | null = host.state.readMeta(id);
      try {
        m = await recover(host, id, m);
      } catch (err) {
        log(`recovery of ${id} failed: ${(err as Error).message}`);
      }
      if (m === null) continue; // handed back to its checkpoint
      if (m && host.alive(m)) {
        host.network.adopt(m.slot, m.sandboxId);
        // Re-installed so DNS redirects point at this process's resolver.
        await host.network
          .applyEgress(m.hostIf, m.address, m.spec.egress)
          .catch((e) => log(`egress rules of ${id}: ${(e as Error).message}`));
        out.push(host.info(m));
      } else {
        log(`removing leftovers of dead sandbox ${id}`);
        await host.destroy(id).catch((e) => log(`cleanup of ${id} failed: ${(e as Error).message}`));
      }
    }
    return out;
  }

  destroy(sandboxId: string): Promise<void> {
    return this.host.destroy(sandboxId);
  }

  /** See Closer: unmounts and removes the disks made ahead of time; sandboxes keep running. */
  close(): Promise<void> {
    return this.host.diskPool.close();
  }

  async stats(sandboxId: string): Promise<SandboxStats> {
    const m = this.host.running(sandboxId);
    const u = this.host.cgroup(sandboxId).usage();
    const disk = await this.host.layerOf(m).usage(m.spec.diskMB);
    return { ...u, cpuCount: m.spec.cpuCount, diskUsedBytes: disk.used, diskLimitBytes: disk.total };
  }

  async freeze(sandboxId: string): Promise<void> {
    if (!this.host.state.readMeta(sandboxId)) throw new DriverError('not_found', `sandbox '${sandboxId}' not found`);
    await this.host.cgroup(sandboxId).freeze();
  }

  async thaw(sandboxId: string): Promise<void> {
    if (!this.host.state.readMeta(sandboxId)) throw new DriverError('not_found', `sandbox '${sandboxId}' not found`);
    await this.host.cgroup(sandboxId).thaw();
  }

  /**
   * Saves the sandbox into `imageDir` (which must not exist): CRIU images of its process tree under `criu/`, its
   * writable layer (`upper/` or `disk.img`), then `checkpoint.json`. Without `leaveRunning` the sandbox is gone
   * afterwards (processes, memory, mounts, netns, cgroups). With it the sandbox is frozen for the dump and the layer
   * copy, then thawed. On failure the sandbox keeps running and the partial directory is removed.
   */
  checkpoint(sandboxId: string, imageDir: string, opts: CheckpointOptions = {}): Promise<void> {
    return checkpoint(this.host, sandboxId, imageDir, opts);
  }

  /** See container/restore.ts: the checkpoint's processes continue on a fresh slot; `move` consumes its layer. */
  restore(spec: SandboxSpec, imageDir: string, opts: { move?: boolean } = {}): Promise<SandboxRuntimeInfo> {
    return restore(this.host, spec, imageDir, !!opts.move);
  }

  /** See container/fs-pause.ts: the processes end, the writable layer is kept in `imageDir`. */
  pauseFilesystem(sandboxId: string, imageDir: string): Promise<void> {
    return pauseFilesystem(this.host, sandboxId, imageDir);
  }

  /** See container/fs-pause.ts: a fresh boot on the writable layer of the checkpoint in `imageDir`. */
  boot(spec: SandboxSpec, imageDir: string, opts: { move?: boolean } = {}): Promise<SandboxRuntimeInfo> {
    return boot(this.host, spec, imageDir, !!opts.move);
  }

  imageInUse(imageDir: string): boolean {
    return imageInUse(imageDir);
  }

  /** See LayerCapturer: a frozen copy of the writable layer (`leaveRunning`), or the sandbox's end, layer moved. */
  async captureLayer(sandboxId: string, dest: string, opts: { leaveRunning?: boolean } = {}): Promise<void> {
    const { host } = this;
    const m = host.running(sandboxId);
    if (existsSync(dest)) throw new DriverError('failed_precondition', `layer directory ${dest} already exists`);
    mkdirSync(path.dirname(dest), { recursive: true });
    const layer = host.layerOf(m);
    const cg = host.cgroup(sandboxId);
    const partial = `${dest}.partial`;
    await rm(partial, { recursive: true, force: true });
    await cg.freeze();
    if (opts.leaveRunning) {
      try {
        await layer.copyTo(partial);
        await rename(partial, dest);
      } catch (err) {
        await rm(partial, { recursive: true, force: true });
        throw new DriverError('internal', `cannot copy the writable layer of ${sandboxId}: ${(err as Error).message}`);
      } finally {
        await cg.thaw().catch(() => {});
      }
      return;
    }
    // The processes stay frozen while the layer moves away; destroy then kills them. Holding the overlay open lets
    // the unmount (and the filesystem sync it brings) finish after we return, as in finishPause.
    let hold: number | undefined;
    try {
      hold = openSync(path.join(host.state.dir(sandboxId), 'rootfs'), 'r');
    } catch {
      /* not mounted */
    }
    try {
      await layer.moveUpperTo(dest, async () => {
        await cg.killAll();
        await host.unmountRoot(sandboxId);
      });
      await host.destroy(sandboxId);
    } catch (err) {
      await cg.thaw().catch(() => {});
      throw new DriverError('internal', `cannot capture the writable layer of ${sandboxId}: ${(err as Error).message}`);
    } finally {
      if (hold !== undefined) close(hold, () => {});
    }
  }

  /** See EgressController: the new rules replace the old ones at once; the sandbox's record keeps them. */
  async updateEgress(sandboxId: string, rules: { allowOut: string[]; denyOut: string[] }): Promise<void> {
    const m = this.host.running(sandboxId);
    let parsed;
    try {
      parsed = parseEgressRules(rules);
    } catch (err) {
      throw new DriverError('invalid_argument', (err as Error).message);
    }
    await this.host.network.applyEgress(m.hostIf, m.address, parsed);
    this.host.state.writeMeta({ ...m, spec: { ...m.spec, egress: parsed } });
  }
}
