/**
 * The `microvm` driver: each sandbox is a QEMU `-M microvm` guest running Debian's cloud kernel, whose PID 1 is tb-init
 * and whose agent is envd — the same two programs as in a container, behind a VM boundary (under TCG, an emulated
 * one): own kernel, own memory, nothing of the host's processes or mounts. Template layers reach the guest as
 * read-only ext4 disks, the writable layer is a disk of `diskMB` (DEFAULT_DISK_MB when 0) in the sandbox's state
 * dir; the guest stacks them with overlayfs. The network is the sandbox's own netns (vm-network.ts), so the control
 * plane reaches envd at `<address>:49983` exactly as with containers. QEMU runs in the sandbox's cgroup (vCPUs, and
 * guest RAM plus VMM_OVERHEAD_MB).
 *
 * create restores from a template snapshot (template-snapshots.ts) and gives the guest its hostname and the current
 * time through the agent; the control plane's /init follows as usual. A direct boot is the fallback when no snapshot
 * can be made. checkpoint/restore are QEMU migrations to and from a directory (snapshot.ts).
 *
 * On disk: `<stateDir>/<id>/{meta.json, disk.img, qmp.sock, qemu.log}`; derived images and template snapshots under
 * `<stateDir>/.microvm/`. A sandbox's serial console goes nowhere (root inside could fill the host's disk through it);
 * only template VMs, which run nothing but our init before they are saved, log theirs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SandboxCgroup, detectLayout } from '../cgroups.js';
import { Slots } from '../link-slots.js';
import type { SandboxRecord } from '../sandbox-record.js';
import { ENVD_PORT } from '../container/sandbox-host.js';
import { ensureFirewall } from '../firewall.js';
import {
  DriverError,
  type Checkpointer,
  type Driver,
  type SandboxRuntimeInfo,
  type SandboxSpec,
  type SandboxStats,
} from '../driver.js';
import { SandboxDisks } from '../sandbox-disk.js';
import { guestExec } from './guest-exec.js';
import { GuestImages } from './guest-images.js';
import { detectAccel, qemuArgs, type Accel, type VmConfig } from './qemu.js';
import { loadVm, resumeOrQuit, snapshotFiles } from './snapshot.js';
import { TemplateSnapshots, type VmShape } from './template-snapshots.js';
import { createVmNetworkOnFreeSlot, removeVmNetwork } from './vm-network.js';
import { readVmCheckpoint, sparseCopy, writeVmCheckpoint, type VmRecord } from './vm-checkpoint.js';
import { logTail, startQemu, waitForAgent } from './vm-process.js';

export const DEFAULT_DISK_MB = 4096;
const VMM_OVERHEAD_MB = 192;

export interface MicroVmDriverOptions {
  stateDir: string;
  /** vmlinuz and base.cpio.gz, from packages/runtime/microvm/build-guest.sh (`<cache>/microvm/guest`). */
  guestDir: string;
  /** The agent (build/envd), copied into every guest. */
  agentPath: string;
  /** The launcher (build/tb-launch), the guest's PID 1 as tb-init. */
  initPath: string;
  qemuPath?: string;
  cgroupParent?: string;
  /** First two octets of the sandbox address space (default `10.14`, beside the container driver's 10.13). */
  subnetPrefix?: string;
  /** Restore creates from template snapshots (default true); false: every create boots. */
  snapshots?: boolean;
  bootTimeoutMs?: number;
  log?: (msg: string) => void;
}

interface VmMeta extends SandboxRecord {
  vm: VmRecord;
}

/** Where a VM's memory and disk come from. */
type Source = { kind: 'boot' } | { kind: 'template'; dir: string } | { kind: 'checkpoint'; dir: string; move: boolean };

export class MicroVmDriver implements Driver, Checkpointer {
  readonly name = 'microvm';
  private readonly slots: Slots;
  private readonly images: GuestImages;
  private readonly disks: SandboxDisks;
  private readonly templates: TemplateSnapshots;
  private firewallReady = false;

  constructor(private readonly opts: MicroVmDriverOptions) {
    mkdirSync(opts.stateDir, { recursive: true });
    this.images = new GuestImages(opts.stateDir);
    this.disks = new SandboxDisks(opts.stateDir);
    this.slots = new Slots(opts.subnetPrefix ?? '10.14', 'tbm');
    this.templates = new TemplateSnapshots({
      dir: path.join(this.images.dir, 'snapshots'),
      qemu: this.qemu,
      slots: this.slots,
      blankDisk: async (diskMB, dest) => void (await sparseCopy(await this.disks.blank(diskMB), dest)),
      bootTimeoutMs: this.bootTimeoutMs,
      log: opts.log,
    });
    for (const m of this.readAllMeta()) this.slots.hold(m.slot, m.sandboxId);
  }

  private get qemu(): string {
    return this.opts.qemuPath ?? 'qemu-system-x86_64';
  }

  private get bootTimeoutMs(): number {
    return this.opts.bootTimeoutMs ?? 120_000;
  }

  private dir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,48}$/.test(id)) throw new DriverError('not_found', `invalid sandbox id '${id}'`);
    return path.join(this.opts.stateDir, id);
  }

  private cgroup(id: string): SandboxCgroup {
    return new SandboxCgroup(detectLayout(), this.opts.cgroupParent ?? 'tensor-box', id);
  }

  private guest() {
    const kernel = path.join(this.opts.guestDir, 'vmlinuz');
    const baseCpio = path.join(this.opts.guestDir, 'base.cpio.gz');
    if (!existsSync(kernel) || !existsSync(baseCpio)) {
      const why = `no microVM guest in ${this.opts.guestDir} (run packages/runtime/setup.sh)`;
      throw new DriverError('failed_precondition', why);
    }
    return { kernel, baseCpio };
  }

  /** The accelerator this driver's VMs use: `kvm` when it runs a stock guest here, else `tcg`. */
  async accel(): Promise<Accel> {
    const g = this.guest();
    const initrd = await this.images.initrd(g.baseCpio, this.opts.agentPath, this.opts.initPath);
    return detectAccel(this.qemu, g.kernel, initrd);
  }

  private readMeta(id: string): VmMeta | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(id), 'meta.json'), 'utf8')) as VmMeta;
    } catch {
      return undefined;
    }
  }

  private readAllMeta(): VmMeta[] {
    return readdirSync(this.opts.stateDir)
      .filter((n) => !n.startsWith('.'))
      .map((id) => this.readMeta(id))
      .filter((m): m is VmMeta => !!m);
  }

  private info(m: VmMeta): SandboxRuntimeInfo {
    const envdUrl = `http://${m.address}:${ENVD_PORT}`;
    return { sandboxId: m.sandboxId, pid: m.pid, address: m.address, envdUrl, startedAt: new Date(m.startedAt) };
  }

  /** QEMU is in the sandbox's cgroup and not on its way out (a killed QEMU takes a while to release its memory). */
  private alive(m: VmMeta): boolean {
    if (!this.cgroup(m.sandboxId).pids().includes(m.pid)) return false;
    try {
      const stat = readFileSync(`/proc/${m.pid}/stat`, 'utf8');
      const [state, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const PF_EXITING = 0x4;
      return state !== 'Z' && state !== 'X' && (Number(flags) & PF_EXITING) === 0;
    } catch {
      return false;
    }
  }

  private running(sandboxId: string): VmMeta {
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    return m;
  }

  private async checkNew(spec: SandboxSpec): Promise<void> {
    // The name goes onto the guest kernel's command line and into a shell command: a plain host name only.
    if (spec.hostname !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(spec.hostname)) {
      throw new DriverError('invalid_argument', `invalid hostname '${spec.hostname}'`);
    }
    if (spec.mounts?.length) {
      // Not yet: a VM would need the volume over virtio-fs (an ext4 image cannot be shared by two guests).
      throw new DriverError('invalid_argument', 'volumeMounts are not supported by the microvm runtime yet');
    }
    if (existsSync(this.dir(spec.sandboxId))) {
      throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    }
    for (const l of spec.layers) {
      if (!existsSync(l)) throw new DriverError('failed_precondition', `rootfs layer ${l} does not exist`);
    }
    if (!this.firewallReady) {
      await ensureFirewall({ prefix: this.opts.subnetPrefix ?? '10.14' }).catch((err: Error) => {
        throw new DriverError('internal', `cannot install the sandbox firewall rules (iptables): ${err.message}`);
      });
      this.firewallReady = true;
    }
  }

  async create(spec: SandboxSpec): Promise<SandboxRuntimeInfo> {
    if (spec.layers.length === 0) {
      throw new DriverError('failed_precondition', 'a sandbox needs at least one rootfs layer');
    }
    await this.checkNew(spec);
    const g = this.guest();
    const initrd = await this.images.initrd(g.baseCpio, this.opts.agentPath, this.opts.initPath);
    const layers = await Promise.all(spec.layers.map((l) => this.images.layerImage(l)));
    const accel = await detectAccel(this.qemu, g.kernel, initrd);
    const { cpuCount, memoryMB } = spec;
    const shape: VmShape = { accel, kernel: g.kernel, initrd, layers, cpuCount, memoryMB };
    const diskMB = spec.diskMB > 0 ? spec.diskMB : DEFAULT_DISK_MB;
    if (this.opts.snapshots !== false) {
      const dir = await this.templates.get(shape, diskMB).catch((err: Error) => {
        // A guest that stops by itself (its agent cannot start) would do the same when booted for this sandbox.
        if (/VM exited/.test(err.message)) {
          throw new DriverError('internal', `the microVM guest does not start: ${err.message}`);
        }
        this.opts.log?.(`microvm: no template snapshot, booting instead: ${err.message}`);
        return undefined;
      });
      if (dir) return this.start(spec, { ...shape, diskMB, memoryBackend: true }, { kind: 'template', dir });
    }
    return this.start(spec, { ...shape, diskMB, memoryBackend: false }, { kind: 'boot' });
  }

  /** Starts the sandbox's VM from `source`; on failure nothing is left (a moved checkpoint gets its disk back). */
  private async start(spec: SandboxSpec, vmr: VmRecord, source: Source): Promise<SandboxRuntimeInfo> {
    const dir = this.dir(spec.sandboxId);
    const link = { ...this.slots.allocate(spec.sandboxId), own: true };
    const cg = this.cgroup(spec.sandboxId);
    const disk = path.join(dir, 'disk.img');
    const from = source.kind === 'boot' ? undefined : snapshotFiles(source.dir);
    let movedDisk = false;
    let network: Promise<void> | undefined;
    try {
      mkdirSync(dir);
      network = createVmNetworkOnFreeSlot(this.slots, spec.sandboxId, link, spec.internetAccess);
      network.catch(() => {}); // awaited below (and before a teardown, which removes a half-made one)
      if (!from) await sparseCopy(await this.disks.blank(vmr.diskMB), disk);
      else if (source.kind === 'checkpoint' && source.move) {
        await rename(from.disk, disk);
        movedDisk = true;
      } else await sparseCopy(from.disk, disk);
      await network;
      const envdUrl = `http://${link.sandboxIp}:${ENVD_PORT}`;
      cg.create({ cpuCount: vmr.cpuCount, memoryMB: vmr.memoryMB + VMM_OVERHEAD_MB, pidsMax: spec.pidsMax || 4096 });
      const memory: VmConfig['memory'] =
        source.kind === 'template' ? { file: from!.mem, share: false } : vmr.memoryBackend ? { ram: true } : undefined;
      const cfg: VmConfig = {
        ...vmr,
        disk,
        hostname: spec.hostname ?? spec.sandboxId,
        qmpSocket: path.join(dir, 'qmp.sock'),
        memory,
        incoming: !!from,
      };
      const logFile = path.join(dir, 'qemu.log');
      const vm = startQemu(this.qemu, qemuArgs(cfg), { sandboxId: spec.sandboxId, cgroupDirs: cg.dirs(), logFile });
      if (from) await loadVm(cfg.qmpSocket, from.state, { ignoreShared: source.kind === 'template' });
      await waitForAgent(envdUrl, vm, from ? 30_000 : this.bootTimeoutMs);
      if (source.kind === 'template') {
        // The template's guest still has the template VM's name and clock.
        const now = (Date.now() / 1000).toFixed(3);
        const fix = `echo '${cfg.hostname}' > /proc/sys/kernel/hostname && date -s @${now} >/dev/null`;
        const r = await guestExec(envdUrl, fix);
        if (r.exitCode !== 0) throw new Error(`guest set-up failed: ${r.stderr.trim()}`);
      }
      const meta: VmMeta = {
        sandboxId: spec.sandboxId,
        slot: link.slot,
        pid: vm.pid,
        address: link.sandboxIp,
        hostIf: link.hostIf,
        startedAt: new Date().toISOString(),
        spec,
        vm: vmr,
      };
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
      if (source.kind === 'checkpoint' && source.move) await rm(source.dir, { recursive: true, force: true });
      return this.info(meta);
    } catch (err) {
      await network?.catch(() => {});
      const why = logTail(path.join(dir, 'qemu.log'), 3);
      const giveBack = movedDisk ? { disk, back: from!.disk } : undefined;
      await this.teardown(spec.sandboxId, link.own ? link.hostIf : undefined, giveBack).catch(() => {});
      this.slots.release(link.slot);
      if (err instanceof DriverError) throw err;
      const msg = `cannot start microVM ${spec.sandboxId}: ${(err as Error).message}${why ? ` (${why})` : ''}`;
      throw new DriverError('internal', msg);
    }
  }

  async checkpoint(
    sandboxId: string,
    imageDir: string,
    opts: { leaveRunning?: boolean; layerOut?: string } = {},
  ): Promise<void> {
    if (opts.layerOut) {
      const why = 'a microVM keeps its writable layer on its disk: it cannot become a layer directory';
      throw new DriverError('failed_precondition', why);
    }
    const m = this.running(sandboxId);
    if (existsSync(imageDir)) throw new DriverError('failed_precondition', `${imageDir} exists already`);
    const dir = this.dir(sandboxId);
    const tmp = `${imageDir}.tmp`;
    const files = snapshotFiles(tmp);
    const qmpSocket = path.join(dir, 'qmp.sock');
    const disk = path.join(dir, 'disk.img');
    const { leaveRunning } = opts;
    await writeVmCheckpoint({ sandboxId, qmpSocket, disk, dir: tmp, vm: m.vm, spec: m.spec, leaveRunning });
    if (opts.leaveRunning) {
      await resumeOrQuit(qmpSocket, 'cont');
    } else {
      await resumeOrQuit(qmpSocket, 'quit');
      for (let i = 0; i < 500 && this.alive(m); i++) await new Promise((r) => setTimeout(r, 10));
      await rename(path.join(dir, 'disk.img'), files.disk);
      await this.destroy(sandboxId);
    }
    await rename(tmp, imageDir);
  }

  async restore(spec: SandboxSpec, imageDir: string, opts: { move?: boolean } = {}): Promise<SandboxRuntimeInfo> {
    const { vm: vmr, spec: savedSpec } = readVmCheckpoint(imageDir);
    // The VM's devices are fixed by the checkpoint: its layers, CPUs, memory and disk size.
    const { cpuCount, memoryMB, diskMB } = vmr;
    const s: SandboxSpec = { ...spec, layers: savedSpec.layers, cpuCount, memoryMB, diskMB };
    await this.checkNew(s);
    return this.start(s, vmr, { kind: 'checkpoint', dir: imageDir, move: !!opts.move });
  }

  imageInUse(): boolean {
    return false; // a restore reads the whole state before it returns
  }

  async list(): Promise<SandboxRuntimeInfo[]> {
    const out: SandboxRuntimeInfo[] = [];
    for (const id of readdirSync(this.opts.stateDir).filter((n) => !n.startsWith('.'))) {
      const m = this.readMeta(id);
      if (m && this.alive(m)) {
        this.slots.hold(m.slot, m.sandboxId);
        out.push(this.info(m));
      } else {
        this.opts.log?.(`microvm: removing leftovers of dead sandbox ${id}`);
        await this.destroy(id).catch((e: Error) => this.opts.log?.(`microvm: cleanup of ${id} failed: ${e.message}`));
      }
    }
    await this.templates.clearAbandoned();
    return out;
  }

  async destroy(sandboxId: string): Promise<void> {
    const m = this.readMeta(sandboxId);
    await this.teardown(sandboxId, m?.hostIf);
    if (m) this.slots.release(m.slot);
  }

  /**
   * Kills QEMU and removes the cgroup, netns, host link and state dir; safe on half-made and unknown sandboxes.
   * `giveBack` moves a checkpoint's disk back first (a failed resume loses nothing).
   */
  private async teardown(sandboxId: string, hostIf?: string, giveBack?: { disk: string; back: string }): Promise<void> {
    const dir = this.dir(sandboxId);
    const cg = this.cgroup(sandboxId);
    if (cg.exists()) {
      await cg.killAll();
      await cg.remove();
    }
    if (giveBack) await rename(giveBack.disk, giveBack.back);
    await removeVmNetwork(sandboxId, hostIf);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * CPU, memory and pids are the VM's host cost (its QEMU process's cgroup: guest RAM in use plus the VMM); the
   * memory limit is the guest's RAM; disk is the writable disk's allocated bytes on the host and its size.
   */
  async stats(sandboxId: string): Promise<SandboxStats> {
    const m = this.running(sandboxId);
    const u = this.cgroup(sandboxId).usage();
    let diskUsedBytes = 0;
    try {
      diskUsedBytes = statSync(path.join(this.dir(sandboxId), 'disk.img')).blocks * 512;
    } catch {
      /* racing a destroy */
    }
    const memoryLimitBytes = m.vm.memoryMB * 1024 * 1024;
    const diskLimitBytes = m.vm.diskMB * 1024 * 1024;
    return { ...u, cpuCount: m.vm.cpuCount, memoryLimitBytes, diskUsedBytes, diskLimitBytes };
  }
}
