/**
 * The `microvm` driver: each sandbox is a QEMU `-M microvm` guest running Debian's cloud kernel, whose PID 1 is tb-init
 * and whose agent is envd — the same two programs as in a container, now behind a hardware (or, under TCG, emulated)
 * boundary: own kernel, own memory, nothing of the host's processes or mounts. Template layers reach the guest as
 * read-only ext4 disks, the writable layer is a disk of `diskMB` (DEFAULT_DISK_MB when 0) on the sandbox's state dir;
 * the guest stacks them with overlayfs. The network is the sandbox's own netns (vm-network.ts), so the control plane
 * reaches envd at `<address>:49983` exactly as with containers. QEMU runs in the sandbox's cgroup (vCPUs and guest
 * RAM plus VMM_OVERHEAD_MB).
 *
 * create restores from a template snapshot — one per (layers, cpuCount, memoryMB, diskMB), made on first use by booting
 * a VM to a ready agent and saving it (snapshot.ts) — then gives the guest its hostname and the current time through
 * the agent; the control plane's /init follows as usual. A direct boot is the fallback when no snapshot can be made.
 *
 * On disk: `<stateDir>/<id>/{meta.json, disk.img, qmp.sock, console.log, qemu.log}`; derived images and template
 * snapshots under `<stateDir>/.microvm/` (guest-images.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { SandboxCgroup, detectLayout } from '../cgroups.js';
import { ensureFirewall, ENVD_PORT } from '../container.js';
import { DriverError, type Driver, type SandboxRuntimeInfo, type SandboxSpec, type SandboxStats } from '../driver.js';
import { SandboxDisks } from '../sandbox-disk.js';
import { guestExec } from './guest-exec.js';
import { GuestImages } from './guest-images.js';
import { detectAccel, qemuArgs, type Accel, type VmConfig } from './qemu.js';
import { loadVm, saveVm, snapshotFiles } from './snapshot.js';
import { createVmNetwork, removeVmNetwork } from './vm-network.js';
import { logTail, startQemu, waitForAgent, type VmProcess } from './vm-process.js';

export const DEFAULT_DISK_MB = 4096;
const VMM_OVERHEAD_MB = 192;
const MAX_SLOTS = 16384;
const execFileP = promisify(execFile);
/** Copies a sparse disk image keeping its holes (a formatted blank is a few MB of data). */
const sparseCopy = (from: string, to: string) => execFileP('cp', ['--sparse=always', from, to]);

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

interface VmMeta {
  sandboxId: string;
  slot: number;
  pid: number;
  address: string;
  hostIf: string;
  startedAt: string;
  spec: SandboxSpec;
  diskMB: number;
  accel: Accel;
  /** Restored from this template snapshot (or booted). */
  snapshot?: string;
}

export class MicroVmDriver implements Driver {
  readonly name = 'microvm';
  private readonly slots = new Map<number, string>();
  private readonly images: GuestImages;
  private readonly disks: SandboxDisks;
  private readonly templates = new Map<string, Promise<string>>();
  private readonly prefix: string;
  private firewallReady = false;

  constructor(private readonly opts: MicroVmDriverOptions) {
    mkdirSync(opts.stateDir, { recursive: true });
    this.images = new GuestImages(opts.stateDir);
    this.disks = new SandboxDisks(opts.stateDir);
    this.prefix = opts.subnetPrefix ?? '10.14';
    for (const m of this.readAllMeta()) this.slots.set(m.slot, m.sandboxId);
  }

  private get qemu(): string {
    return this.opts.qemuPath ?? 'qemu-system-x86_64';
  }

  private dir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,48}$/.test(id)) throw new DriverError('not_found', `invalid sandbox id '${id}'`);
    return path.join(this.opts.stateDir, id);
  }

  private cgroup(id: string): SandboxCgroup {
    return new SandboxCgroup(detectLayout(), this.opts.cgroupParent ?? 'tensor-box', id);
  }

  /** The accelerator this driver's VMs use: `kvm` when it runs a stock guest here, else `tcg`. */
  async accel(): Promise<Accel> {
    const g = this.guest();
    return detectAccel(this.qemu, g.kernel, await this.images.initrd(g.baseCpio, this.opts.agentPath, this.opts.initPath));
  }

  private guest() {
    const kernel = path.join(this.opts.guestDir, 'vmlinuz');
    const baseCpio = path.join(this.opts.guestDir, 'base.cpio.gz');
    if (!existsSync(kernel) || !existsSync(baseCpio)) {
      throw new DriverError('failed_precondition', `no microVM guest in ${this.opts.guestDir} (run packages/runtime/setup.sh)`);
    }
    return { kernel, baseCpio };
  }

  private allocateSlot(id: string): { slot: number; hostIf: string; hostIp: string; sandboxIp: string } {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (this.slots.has(s) || existsSync(`/sys/class/net/tbm${s}`)) continue;
      this.slots.set(s, id);
      const base = s * 4;
      const net = `${this.prefix}.${base >> 8}`;
      return { slot: s, hostIf: `tbm${s}`, hostIp: `${net}.${(base & 255) + 1}`, sandboxIp: `${net}.${(base & 255) + 2}` };
    }
    throw new DriverError('resource_exhausted', 'no free sandbox network slot');
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
    return { sandboxId: m.sandboxId, pid: m.pid, address: m.address, envdUrl: `http://${m.address}:${ENVD_PORT}`, startedAt: new Date(m.startedAt) };
  }

  private alive(m: VmMeta): boolean {
    return this.cgroup(m.sandboxId).pids().includes(m.pid);
  }

  async create(spec: SandboxSpec): Promise<SandboxRuntimeInfo> {
    const dir = this.dir(spec.sandboxId);
    if (existsSync(dir)) throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    if (spec.layers.length === 0) throw new DriverError('failed_precondition', 'a sandbox needs at least one rootfs layer');
    for (const l of spec.layers) {
      if (!existsSync(l)) throw new DriverError('failed_precondition', `rootfs layer ${l} does not exist`);
    }
    const g = this.guest();
    if (!this.firewallReady) {
      await ensureFirewall(this.prefix).catch((err: Error) => {
        throw new DriverError('internal', `cannot install the sandbox firewall rules (iptables): ${err.message}`);
      });
      this.firewallReady = true;
    }
    const initrd = await this.images.initrd(g.baseCpio, this.opts.agentPath, this.opts.initPath);
    const layers = await Promise.all(spec.layers.map((l) => this.images.layerImage(l)));
    const accel = await detectAccel(this.qemu, g.kernel, initrd);
    const diskMB = spec.diskMB > 0 ? spec.diskMB : DEFAULT_DISK_MB;
    const base = { accel, kernel: g.kernel, initrd, layers, cpuCount: spec.cpuCount, memoryMB: spec.memoryMB };
    let snapshot: string | undefined;
    if (this.opts.snapshots !== false) {
      snapshot = await this.template(base, diskMB).catch((err: Error) => {
        // A guest that stops by itself (its agent cannot start) would do the same when booted for this sandbox.
        if (/VM exited/.test(err.message)) throw new DriverError('internal', `the microVM guest does not start: ${err.message}`);
        this.opts.log?.(`microvm: no template snapshot, booting instead: ${err.message}`);
        return undefined;
      });
    }
    return this.start(spec, dir, { ...base, diskMB, snapshot });
  }

  /** Starts the sandbox's VM: restored from `snapshot`, or booted. Leaves nothing behind when it fails. */
  private async start(
    spec: SandboxSpec,
    dir: string,
    v: Omit<VmConfig, 'disk' | 'hostname' | 'qmpSocket' | 'consoleLog'> & { diskMB: number; snapshot?: string },
  ): Promise<SandboxRuntimeInfo> {
    const link = this.allocateSlot(spec.sandboxId);
    const cg = this.cgroup(spec.sandboxId);
    const envdUrl = `http://${link.sandboxIp}:${ENVD_PORT}`;
    let vm: VmProcess | undefined;
    try {
      mkdirSync(dir);
      const disk = path.join(dir, 'disk.img');
      const snap = v.snapshot ? snapshotFiles(v.snapshot) : undefined;
      await sparseCopy(snap ? snap.disk : await this.disks.blank(v.diskMB), disk);
      await createVmNetwork(spec.sandboxId, link, spec.internetAccess);
      cg.create({ cpuCount: spec.cpuCount, memoryMB: spec.memoryMB + VMM_OVERHEAD_MB, pidsMax: spec.pidsMax || 4096 });
      const cfg: VmConfig = {
        ...v,
        disk,
        hostname: spec.hostname ?? spec.sandboxId,
        qmpSocket: path.join(dir, 'qmp.sock'),
        consoleLog: path.join(dir, 'console.log'),
        ...(snap ? { memory: { file: snap.mem, share: false }, incoming: true } : {}),
      };
      vm = startQemu(this.qemu, qemuArgs(cfg), { sandboxId: spec.sandboxId, cgroupDirs: cg.dirs(), logFile: path.join(dir, 'qemu.log') });
      if (snap) {
        await loadVm(cfg.qmpSocket, snap.state);
        await waitForAgent(envdUrl, vm, 30_000);
        // The snapshot's guest still has the template VM's name and clock.
        const now = (Date.now() / 1000).toFixed(3);
        const r = await guestExec(envdUrl, `echo '${cfg.hostname}' > /proc/sys/kernel/hostname && date -s @${now} >/dev/null`);
        if (r.exitCode !== 0) throw new Error(`guest set-up failed: ${r.stderr.trim()}`);
      } else {
        await waitForAgent(envdUrl, vm, this.opts.bootTimeoutMs ?? 120_000);
      }
      const meta: VmMeta = {
        sandboxId: spec.sandboxId, slot: link.slot, pid: vm.pid, address: link.sandboxIp, hostIf: link.hostIf,
        startedAt: new Date().toISOString(), spec, diskMB: v.diskMB, accel: v.accel, snapshot: v.snapshot,
      };
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
      return this.info(meta);
    } catch (err) {
      const why = [logTail(path.join(dir, 'qemu.log'), 3), logTail(path.join(dir, 'console.log'), 3)].filter(Boolean).join(' | ');
      await this.teardown(spec.sandboxId, link.hostIf).catch(() => {});
      this.slots.delete(link.slot);
      if (err instanceof DriverError) throw err;
      throw new DriverError('internal', `cannot start microVM ${spec.sandboxId}: ${(err as Error).message}${why ? ` (${why})` : ''}`);
    }
  }

  /**
   * The template snapshot for this VM shape: made once (a VM boots to a ready agent with its RAM in `mem`, then is
   * saved), shared by every create of the shape. Its directory appears complete or not at all.
   */
  private template(v: Omit<VmConfig, 'disk' | 'hostname' | 'qmpSocket' | 'consoleLog'>, diskMB: number): Promise<string> {
    const shape = { kernel: v.kernel, initrd: v.initrd, layers: v.layers, cpuCount: v.cpuCount, memoryMB: v.memoryMB, diskMB, accel: v.accel };
    const key = createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
    const final = path.join(this.images.dir, 'snapshots', key);
    if (existsSync(final)) return Promise.resolve(final);
    let p = this.templates.get(key);
    if (p) return p;
    p = (async () => {
      const id = `tpl-${key}-${process.pid}`;
      const dir = path.join(this.images.dir, 'snapshots', `${key}.${process.pid}.tmp`);
      await rm(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const files = snapshotFiles(dir);
      const link = this.allocateSlot(id);
      const t0 = Date.now();
      try {
        await sparseCopy(await this.disks.blank(diskMB), files.disk);
        await createVmNetwork(id, link, false);
        const cfg: VmConfig = {
          ...v, disk: files.disk, hostname: 'tensor-box', qmpSocket: path.join(dir, 'qmp.sock'),
          consoleLog: path.join(dir, 'console.log'), memory: { file: files.mem, share: true },
        };
        const vm = startQemu(this.qemu, qemuArgs(cfg), { sandboxId: id, cgroupDirs: [], logFile: path.join(dir, 'qemu.log') });
        try {
          await waitForAgent(`http://${link.sandboxIp}:${ENVD_PORT}`, vm, this.opts.bootTimeoutMs ?? 120_000);
          await saveVm(cfg.qmpSocket, files.state);
          if (!(await vm.waitExit(30_000))) throw new Error('QEMU did not end after saving the snapshot');
        } catch (err) {
          if (!vm.hasExited()) process.kill(vm.pid, 'SIGKILL');
          throw new Error(`${(err as Error).message} (${logTail(cfg.consoleLog, 3)})`);
        }
        writeFileSync(files.vm, JSON.stringify(shape));
        for (const f of ['qmp.sock', 'console.log', 'qemu.log']) await rm(path.join(dir, f), { force: true });
        await rename(dir, final).catch(async (err: NodeJS.ErrnoException) => {
          if (!existsSync(final)) throw err; // else another process made it first
          await rm(dir, { recursive: true, force: true });
        });
        this.opts.log?.(`microvm: template snapshot ${key} made in ${Date.now() - t0} ms (${v.accel})`);
        return final;
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      } finally {
        await removeVmNetwork(id, link.hostIf);
        this.slots.delete(link.slot);
      }
    })().finally(() => this.templates.delete(key));
    this.templates.set(key, p);
    return p;
  }

  async list(): Promise<SandboxRuntimeInfo[]> {
    const out: SandboxRuntimeInfo[] = [];
    for (const id of readdirSync(this.opts.stateDir).filter((n) => !n.startsWith('.'))) {
      const m = this.readMeta(id);
      if (m && this.alive(m)) {
        this.slots.set(m.slot, m.sandboxId);
        out.push(this.info(m));
      } else {
        this.opts.log?.(`microvm: removing leftovers of dead sandbox ${id}`);
        await this.destroy(id).catch((e: Error) => this.opts.log?.(`microvm: cleanup of ${id} failed: ${e.message}`));
      }
    }
    return out;
  }

  async destroy(sandboxId: string): Promise<void> {
    const m = this.readMeta(sandboxId);
    await this.teardown(sandboxId, m?.hostIf);
    if (m) this.slots.delete(m.slot);
  }

  /** Kills QEMU and removes the cgroup, netns, host link and state dir; safe on half-made and unknown sandboxes. */
  private async teardown(sandboxId: string, hostIf?: string): Promise<void> {
    const dir = this.dir(sandboxId);
    const cg = this.cgroup(sandboxId);
    if (cg.exists()) {
      await cg.killAll();
      await cg.remove();
    }
    await removeVmNetwork(sandboxId, hostIf);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * CPU, memory and pids are the VM's host cost (its QEMU process's cgroup: guest RAM in use plus the VMM); the
   * memory limit is the guest's RAM; disk is the writable disk's allocated bytes on the host and its size.
   */
  async stats(sandboxId: string): Promise<SandboxStats> {
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    const u = this.cgroup(sandboxId).usage();
    let diskUsedBytes = 0;
    try {
      diskUsedBytes = statSync(path.join(this.dir(sandboxId), 'disk.img')).blocks * 512;
    } catch {
      /* racing a destroy */
    }
    return {
      ...u,
      cpuCount: m.spec.cpuCount,
      memoryLimitBytes: m.spec.memoryMB * 1024 * 1024,
      diskUsedBytes,
      diskLimitBytes: m.diskMB * 1024 * 1024,
    };
  }
}
