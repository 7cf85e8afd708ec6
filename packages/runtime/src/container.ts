/**
 * The `container` driver: each sandbox is a tree of processes in its own mount, PID, UTS, IPC, network and cgroup namespaces,
 * on an overlayfs root (template layers below, a per-sandbox upper dir), limited by its cgroups, with a veth pair on a
 * private /30 to the host. The native launcher (native/tb-launch.c) does the namespace work and stays as the sandbox's shim;
 * this class owns the host-side bookkeeping: state dirs, address slots, cgroups, NAT, and tearing everything down.
 *
 * On disk, per sandbox: `<stateDir>/<id>/{meta.json, upper/, work/, rootfs/ (overlay mount), netns (pinned netns), exit}`.
 */
import { spawn, execFile } from 'node:child_process';
import { close, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, statfsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stageBinaries } from './agent-binaries.js';
import { SandboxCgroup, detectLayout } from './cgroups.js';
import { ensureFirewall } from './firewall.js';
import { SandboxEgress } from './sandbox-egress.js';
import { parseEgressRules } from './egress.js';
import { diskImage, SandboxDisks, upperOf } from './sandbox-disk.js';
import { LayerCache } from './layer-cache.js';
import {
  DriverError,
  type Checkpointer,
  type Driver,
  type EgressController,
  type Freezer,
  type LayerCapturer,
  type SandboxRuntimeInfo,
  type SandboxSpec,
  type SandboxStats,
} from './driver.js';
import {
  criuErrors,
  criuProcessFor,
  criuRunningFor,
  dumpComplete,
  moveDir,
  moveFile,
  readManifest,
  waitForAgent,
  writeManifest,
} from './checkpoint-files.js';
import { checkIdMap, DEFAULT_ID_MAP, dumpNamespaceArgs, launcherIdArgs, type IdMap } from './user-namespace.js';

const execFileP = promisify(execFile);

/** How a sandbox's disk reaches the launcher (see launcherArgs). */
type DiskArgs = { kind: 'none' } | { kind: 'mounted' } | { kind: 'mount'; blank?: string };

/** The launcher could not create the host interface because another sandbox (of another driver instance) has that name. */
const vethRace = (err: unknown) => /create veth/.test(String((err as Error)?.message ?? err));

export const ENVD_PORT = 49983;
const MAX_SLOTS = 16384; // /30 blocks in 10.13.0.0/16

/**
 * The host end of a sandbox's link: `tb<slot>` — one name per slot whatever the sandbox's internet access, so two driver
 * instances on a host can never both take a slot (the second `ip link add` fails). Offline links are marked by their
 * device group instead (the launcher's OFFLINE_LINK_GROUP; firewall.ts forwards nothing from it).
 */
const hostIfName = (slot: number, _internet: boolean) => `tb${slot}`;

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
   * default template's passwordless sudo would be dead; the seccomp filter and the reduced capability set apply either way.
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

interface SandboxMeta {
  sandboxId: string;
  slot: number;
  pid: number;
  address: string;
  hostIf: string;
  startedAt: string;
  spec: SandboxSpec;
  /** The sandbox's user namespace map (absent: none). */
  idMap?: IdMap;
}

export class ContainerDriver implements Driver, Freezer, Checkpointer, LayerCapturer, EgressController {
  readonly name = 'container';
  private readonly slots = new Map<number, string>();
  private readonly cgroupParent: string;
  private readonly prefix: string;
  private firewallReady = false;
  private forwarding = false;
  private readonly disks: SandboxDisks;
  private readonly layers: LayerCache;
  private readonly idMap?: IdMap;
  private readonly opts: ContainerDriverOptions;
  private readonly egress: SandboxEgress;

  constructor(opts: ContainerDriverOptions) {
    // Sandboxes bind the staged copies: their mount table then names no host path (agent-binaries.ts).
    this.opts = { ...opts, ...stageBinaries(opts.launcherPath, opts.agentPath, opts.log) };
    this.cgroupParent = opts.cgroupParent ?? 'tensor-box';
    this.prefix = opts.subnetPrefix ?? '10.13';
    mkdirSync(opts.stateDir, { recursive: true });
    this.disks = new SandboxDisks(opts.stateDir);
    this.layers = new LayerCache(path.join(opts.stateDir, '.layer-cache'));
    const ns = opts.userNamespaces ?? true;
    this.idMap = ns === false ? undefined : checkIdMap(ns === true ? DEFAULT_ID_MAP : ns);
    this.egress = new SandboxEgress({
      dnsUpstream: opts.dnsUpstream,
      log: opts.log,
      onDenied: (d) => {
        const slot = Number(/\d+$/.exec(d.ifname)?.[0]);
        const sandboxId = this.slots.get(slot);
        if (sandboxId) opts.onEgressDenied?.(sandboxId, { destination: d.destination, protocol: d.protocol, port: d.port });
      },
    });
    for (const m of this.readAllMeta()) this.slots.set(m.slot, m.sandboxId);
  }

  private dir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new DriverError('not_found', `invalid sandbox id '${id}'`);
    return path.join(this.opts.stateDir, id);
  }

  private cgroup(id: string): SandboxCgroup {
    return new SandboxCgroup(detectLayout(), this.cgroupParent, id);
  }

  private addresses(slot: number): { host: string; sandbox: string } {
    const base = slot * 4;
    const third = base >> 8;
    const fourth = base & 255;
    return { host: `${this.prefix}.${third}.${fourth + 1}`, sandbox: `${this.prefix}.${third}.${fourth + 2}` };
  }

  private allocateSlot(id: string, skip: Set<number>): number {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (this.slots.has(s) || skip.has(s)) continue;
      // Another driver instance on this host (other state dir) may hold it.
      if (existsSync(`/sys/class/net/tb${s}`)) continue;
      this.slots.set(s, id);
      return s;
    }
    throw new DriverError('resource_exhausted', 'no free sandbox network slot');
  }

  private readMeta(id: string): SandboxMeta | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(id), 'meta.json'), 'utf8')) as SandboxMeta;
    } catch {
      return undefined;
    }
  }

  private readAllMeta(): SandboxMeta[] {
    const out: SandboxMeta[] = [];
    for (const id of readdirSync(this.opts.stateDir).filter((n) => !n.startsWith('.'))) {
      const m = this.readMeta(id);
      if (m) out.push(m);
    }
    return out;
  }

  private info(m: SandboxMeta): SandboxRuntimeInfo {
    return {
      sandboxId: m.sandboxId,
      pid: m.pid,
      address: m.address,
      envdUrl: `http://${m.address}:${ENVD_PORT}`,
      startedAt: new Date(m.startedAt),
    };
  }

  async create(spec: SandboxSpec): Promise<SandboxRuntimeInfo> {
    const dir = this.dir(spec.sandboxId);
    if (existsSync(dir)) throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    if (spec.layers.length === 0) throw new DriverError('failed_precondition', 'a sandbox needs at least one rootfs layer');
    for (const l of spec.layers) {
      if (!existsSync(l)) throw new DriverError('failed_precondition', `rootfs layer ${l} does not exist`);
    }
    await this.ensureNetwork(spec.internetAccess);
    const tried = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      const slot = this.allocateSlot(spec.sandboxId, tried);
      tried.add(slot);
      try {
        return await this.launch(spec, dir, slot);
      } catch (err) {
        this.slots.delete(slot);
        // Lost a race for the interface name with another driver instance: take the next slot.
        if (attempt < 3 && vethRace(err)) continue;
        throw err;
      }
    }
  }

  private async launch(spec: SandboxSpec, dir: string, slot: number): Promise<SandboxRuntimeInfo> {
    const { sandbox } = this.addresses(slot);
    const hostIf = hostIfName(slot, spec.internetAccess);
    const cg = this.cgroup(spec.sandboxId);
    mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    writeFileSync(path.join(dir, 'netns'), '');
    try {
      // The launcher makes and mounts the disk (a sparse copy of the blank) itself: no extra processes.
      let disk: DiskArgs = { kind: 'none' };
      if (this.wantsDisk(spec)) {
        disk = { kind: 'mount', blank: await this.disks.blank(spec.diskMB) };
        mkdirSync(path.join(dir, 'disk'), { recursive: true });
      } else for (const sub of ['upper', 'work']) mkdirSync(path.join(dir, sub), { recursive: true });
      this.createCgroup(spec, cg);
      await this.egress.apply(hostIf, sandbox, spec.egress);
      const args = [
        ...this.launcherArgs('create', { ...spec, layers: await this.layers.resolve(spec.layers) }, dir, slot, cg, disk, this.idMap),
        '--hostname', spec.hostname ?? spec.sandboxId,
        ...(spec.internetAccess ? ['--resolv-conf', '/etc/resolv.conf'] : []),
        ...((spec.noNewPrivileges ?? this.opts.noNewPrivileges) ? ['--no-new-privs'] : []),
      ];
      const pid = await this.runLauncher(args);
      const meta: SandboxMeta = {
        sandboxId: spec.sandboxId,
        slot,
        pid,
        address: sandbox,
        hostIf,
        startedAt: new Date().toISOString(),
        spec,
        idMap: this.idMap,
      };
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
      return this.info(meta);
    } catch (err) {
      // A lost race for the interface name: that interface is another sandbox's, not ours to delete.
      await this.teardown(spec.sandboxId, vethRace(err) ? undefined : hostIf).catch(() => {});
      if (err instanceof DriverError) throw err;
      throw new DriverError('internal', `cannot start sandbox: ${(err as Error).message}`);
    }
  }

  private wantsDisk(spec: SandboxSpec): boolean {
    return this.opts.diskQuota !== false && spec.diskMB > 0;
  }

  private createCgroup(spec: SandboxSpec, cg: SandboxCgroup): void {
    cg.create({ cpuCount: spec.cpuCount, memoryMB: spec.memoryMB, pidsMax: spec.pidsMax || this.opts.defaultPidsMax || 4096 });
  }

  /**
   * The launcher options `create` and `restore` share: layers, state paths, agent, network slot, cgroups, and the disk
   * (`mount`: the launcher mounts `<dir>/disk.img`, made from `blank` first when given; `mounted`: it is mounted already).
   */
  private launcherArgs(command: 'create' | 'restore', spec: SandboxSpec, dir: string, slot: number, cg: SandboxCgroup, disk: DiskArgs, idMap?: IdMap): string[] {
    const { host, sandbox } = this.addresses(slot);
    const onDisk = disk.kind !== 'none';
    return [
      command,
      '--id', spec.sandboxId,
      '--lower', spec.layers.join(':'),
      '--upper', onDisk ? path.join(dir, 'disk', 'upper') : path.join(dir, 'upper'),
      '--work', onDisk ? path.join(dir, 'disk', 'work') : path.join(dir, 'work'),
      ...(disk.kind === 'mount' ? ['--disk-image', diskImage(dir), '--disk-mount', path.join(dir, 'disk'), ...(disk.blank ? ['--disk-blank', disk.blank] : [])] : []),
      '--merged', path.join(dir, 'rootfs'),
      '--agent', this.opts.agentPath,
      '--netns-file', path.join(dir, 'netns'),
      '--host-if', hostIfName(slot, spec.internetAccess),
      '--host-ip', host,
      '--sandbox-ip', sandbox,
      '--exit-file', path.join(dir, 'exit'),
      ...cg.dirs().flatMap((d) => ['--cgroup', d]),
      ...(spec.internetAccess ? ['--internet'] : []),
      ...launcherIdArgs(idMap),
    ];
  }

  /** Runs `tb-launch create` and resolves with the sandbox's init PID once its agent is ready. The launcher lives on. */
  private runLauncher(args: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.launcherPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        fn();
      };
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        try {
          const { pid } = JSON.parse(out.slice(0, nl)) as { pid: number };
          child.stdout.destroy();
          child.stderr.destroy();
          child.unref();
          finish(() => resolve(pid));
        } catch {
          finish(() => reject(new Error(`launcher printed ${out.trim()}`)));
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('error', (e) => finish(() => reject(e)));
      child.on('exit', (code) =>
        finish(() => reject(new Error(err.trim().replace(/^tb-launch: /gm, '') || `launcher exited with ${code}`))),
      );
    });
  }

  async list(): Promise<SandboxRuntimeInfo[]> {
    const out: SandboxRuntimeInfo[] = [];
    for (const id of readdirSync(this.opts.stateDir).filter((n) => !n.startsWith('.'))) {
      let m: SandboxMeta | undefined | null = this.readMeta(id);
      try {
        m = await this.recover(id, m);
      } catch (err) {
        this.opts.log?.(`container: recovery of ${id} failed: ${(err as Error).message}`);
      }
      if (m === null) continue; // handed back to its checkpoint
      if (m && this.alive(m)) {
        this.slots.set(m.slot, m.sandboxId);
        // Re-installed so DNS redirects point at this process's resolver.
        await this.egress.apply(m.hostIf, m.address, m.spec.egress).catch((e) => this.opts.log?.(`container: egress rules of ${id}: ${(e as Error).message}`));
        out.push(this.info(m));
      } else {
        this.opts.log?.(`container: removing leftovers of dead sandbox ${id}`);
        await this.destroy(id).catch((e) => this.opts.log?.(`container: cleanup of ${id} failed: ${(e as Error).message}`));
      }
    }
    return out;
  }

  /**
   * Finishes what a control-plane crash interrupted. Mid-pause (`pausing.json`): waits for a CRIU dump still running;
   * if the sandbox is gone and the dump is complete, completes the checkpoint (→ null: nothing runs). Mid-resume
   * (`restoring.json`): adopts the restored sandbox if it runs, else gives the writable layer back to the checkpoint
   * (→ null). Returns the meta to continue with.
   */
  private async recover(id: string, m: SandboxMeta | undefined): Promise<SandboxMeta | undefined | null> {
    const dir = this.dir(id);
    const pausing = path.join(dir, 'pausing.json');
    if (m && existsSync(pausing)) {
      const { imageDir, layerOut } = JSON.parse(readFileSync(pausing, 'utf8')) as { imageDir: string; layerOut?: string };
      for (let i = 0; i < 600 && criuRunningFor(m.pid); i++) await new Promise((r) => setTimeout(r, 100));
      // A complete dump wins: the processes may still be there, frozen, waiting for the teardown that kills them.
      if (dumpComplete(path.join(imageDir, 'criu'))) {
        this.opts.log?.(`container: completing the interrupted pause of ${id}`);
        await this.finishPause(m, imageDir, layerOut);
        return null;
      }
      if (this.alive(m)) {
        await rm(imageDir, { recursive: true, force: true }); // the dump failed and CRIU resumed the sandbox
        await rm(pausing, { force: true });
        await this.cgroup(id).thaw().catch(() => {}); // we froze it before the dump
        return m;
      }
      return m; // dead without a complete dump: nothing to save but what destroy clears
    }
    const restoring = path.join(dir, 'restoring.json');
    if (!m && existsSync(restoring)) {
      const r = JSON.parse(readFileSync(restoring, 'utf8')) as { imageDir: string; move: boolean; meta: SandboxMeta };
      let pid = 0;
      try {
        pid = Number(readFileSync(path.join(dir, 'restore.pid'), 'utf8').trim());
      } catch {
        /* criu never got that far */
      }
      const meta = { ...r.meta, pid };
      if (pid > 1 && this.alive(meta)) {
        this.opts.log?.(`container: adopting ${id}, restored while the control plane was down`);
        writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
        await rm(restoring, { force: true });
        return meta;
      }
      if (r.move) await this.giveLayerBack(dir, r.imageDir);
      await this.teardown(id, r.meta.hostIf);
      return null;
    }
    return m;
  }

  private alive(m: SandboxMeta): boolean {
    return this.cgroup(m.sandboxId).pids().includes(m.pid);
  }

  async destroy(sandboxId: string): Promise<void> {
    const m = this.readMeta(sandboxId);
    await this.teardown(sandboxId, m?.hostIf);
    if (m) this.slots.delete(m.slot);
  }

  /** Kills, unmounts and removes everything of a sandbox that exists; safe on half-made and unknown sandboxes. */
  private async teardown(sandboxId: string, hostIf?: string): Promise<void> {
    const dir = this.dir(sandboxId);
    if (hostIf) await this.egress.remove(hostIf);
    const cg = this.cgroup(sandboxId);
    if (cg.exists()) {
      await cg.killAll();
      await cg.remove();
    }
    if (existsSync(dir) || hostIf) {
      await execFileP(this.opts.launcherPath, [
        'cleanup',
        '--merged', path.join(dir, 'rootfs'),
        '--netns-file', path.join(dir, 'netns'),
        '--disk-mount', path.join(dir, 'disk'),
        ...(hostIf ? ['--host-if', hostIf] : []),
      ]);
      await rm(dir, { recursive: true, force: true });
    }
  }

  async stats(sandboxId: string): Promise<SandboxStats> {
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    const u = this.cgroup(sandboxId).usage();
    const disk = this.disks.usage(this.dir(sandboxId));
    if (disk) return { ...u, cpuCount: m.spec.cpuCount, diskUsedBytes: disk.used, diskLimitBytes: disk.total };
    const upper = upperOf(this.dir(sandboxId));
    let diskUsedBytes = 0;
    try {
      const { stdout } = await execFileP('du', ['-sxb', upper]);
      diskUsedBytes = Number(stdout.split('\t')[0]) || 0;
    } catch {
      /* racing a teardown */
    }
    let diskLimitBytes = m.spec.diskMB * 1024 * 1024;
    if (!diskLimitBytes) {
      const fs = statfsSync(upper);
      diskLimitBytes = fs.blocks * fs.bsize;
    }
    return { ...u, cpuCount: m.spec.cpuCount, diskUsedBytes, diskLimitBytes };
  }

  async freeze(sandboxId: string): Promise<void> {
    if (!this.readMeta(sandboxId)) throw new DriverError('not_found', `sandbox '${sandboxId}' not found`);
    await this.cgroup(sandboxId).freeze();
  }

  async thaw(sandboxId: string): Promise<void> {
    if (!this.readMeta(sandboxId)) throw new DriverError('not_found', `sandbox '${sandboxId}' not found`);
    await this.cgroup(sandboxId).thaw();
  }

  private criu(): string {
    const p = this.opts.criuPath;
    if (!p || !existsSync(p)) {
      throw new DriverError('failed_precondition', 'pause/resume needs CRIU 4.2+ (build/criu; npm run setup builds it as root)');
    }
    return p;
  }

  /**
   * Saves the sandbox into `imageDir` (which must not exist): CRIU images of its process tree under `criu/`, its
   * writable layer under `upper/`, then `checkpoint.json`. Without `leaveRunning` the sandbox is gone afterwards
   * (processes, memory, mounts, netns, cgroups). With it the sandbox is frozen for the dump and the layer copy, then thawed.
   * On failure the sandbox keeps running and the partial directory is removed.
   */
  async checkpoint(sandboxId: string, imageDir: string, opts: { leaveRunning?: boolean; layerOut?: string } = {}): Promise<void> {
    const criu = this.criu();
    if (opts.layerOut && opts.leaveRunning) throw new DriverError('failed_precondition', 'layerOut needs a checkpoint that stops the sandbox');
    if (opts.layerOut && existsSync(opts.layerOut)) throw new DriverError('failed_precondition', `layer directory ${opts.layerOut} already exists`);
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    if (existsSync(imageDir)) throw new DriverError('failed_precondition', `checkpoint directory ${imageDir} already exists`);
    const dir = this.dir(sandboxId);
    // Just resumed: CRIU cannot dump memory that is still arriving lazily; wait for the last page (seconds at most).
    for (let i = 0; i < 1200 && criuProcessFor((a) => a[1] === 'lazy-pages' && a[a.indexOf('-W') + 1] === dir); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const images = path.join(imageDir, 'criu');
    mkdirSync(images, { recursive: true });
    const cg = this.cgroup(sandboxId);
    const freezerDir = cg.freezerDir();
    const args = [
      'dump', '-t', String(m.pid), '-D', images, '-o', 'dump.log', '-v3', // v3: the log says when the dump finished
      // Established connections are closed on restore (--tcp-close), so the network need not be locked for the dump
      // (locking runs iptables in the netns: tens of ms).
      '--tcp-established', '--network-lock', 'skip', '--file-locks', '--manage-cgroups=ignore',
      ...dumpNamespaceArgs(m.pid, m.idMap),
      '--external', 'mnt[/run/tensor-box/envd]:envd',
      '--external', 'mnt[/run/tensor-box/tb-init]:tbinit',
      ...(freezerDir ? ['--freeze-cgroup', freezerDir] : []),
      ...(opts.leaveRunning ? ['--leave-running'] : []),
    ];
    let frozen = false;
    // A control-plane crash mid-pause must not lose the sandbox: list() finishes a complete dump from this marker.
    const marker = path.join(dir, 'pausing.json');
    if (!opts.leaveRunning) writeFileSync(marker, JSON.stringify({ imageDir, layerOut: opts.layerOut }));
    try {
      // Frozen by us first: our freeze polls every few ms, CRIU's --freeze-cgroup waits in 100 ms steps (a tenth of
      // a second off every pause). With leaveRunning the freeze also spans the layer copy (one consistent moment).
      await cg.freeze();
      frozen = true;
      try {
        await execFileP(criu, args, { maxBuffer: 1 << 20 });
      } catch (err) {
        const e = err as { code?: number; signal?: string; message: string };
        const how = e.signal ? `criu killed by ${e.signal}` : `criu exited ${e.code ?? '?'}`;
        throw new DriverError('internal', `checkpoint of ${sandboxId} failed (${how}): ${criuErrors(path.join(images, 'dump.log')) || e.message}`);
      }
      if (opts.leaveRunning) {
        await execFileP('cp', ['-a', '--reflink=auto', upperOf(dir), path.join(imageDir, 'upper')]);
      }
    } catch (err) {
      if (frozen) await cg.thaw().catch(() => {});
      await rm(marker, { force: true });
      await rm(imageDir, { recursive: true, force: true });
      throw err instanceof DriverError ? err : new DriverError('internal', `checkpoint of ${sandboxId} failed: ${(err as Error).message}`);
    }
    if (opts.leaveRunning) {
      await cg.thaw();
      await writeManifest(imageDir, sandboxId, m.spec.layers, m.idMap);
    } else {
      // Still frozen: nothing may run (and write files) after the moment the image holds. Destroy kills the processes
      // and only then thaws them, so they die without running again.
      await this.finishPause(m, imageDir, opts.layerOut);
    }
  }

  /** After a complete dump (the processes are gone): keep the writable layer with the images, release the rest. */
  private async finishPause(m: SandboxMeta, imageDir: string, layerOut?: string): Promise<void> {
    const dir = this.dir(m.sandboxId);
    // Unmounting the overlay syncs the whole underlying filesystem — the fresh images included — which can take longer
    // than the dump. So: keep a descriptor on the (now unused) overlay, rename its upper dir into the image (same
    // filesystem), detach the mount (instant while the descriptor holds it), tear the rest down, and let the last
    // close — and with it the sync — happen on a worker thread after the pause has returned.
    let hold: number | undefined;
    try {
      hold = openSync(path.join(dir, 'rootfs'), 'r');
    } catch {
      /* not mounted (recovery after a crash): nothing to hold */
    }
    const layerDest = layerOut ?? path.join(imageDir, 'upper');
    try {
      if (existsSync(diskImage(dir)) && layerOut) {
        // The writable layer is on the sandbox's own disk and becomes a template layer: copy it out, drop the disk.
        if (hold !== undefined) close(hold, () => {});
        hold = undefined;
        await execFileP(this.opts.launcherPath, ['cleanup', '--merged', path.join(dir, 'rootfs')]);
        mkdirSync(path.dirname(layerOut), { recursive: true });
        await execFileP('cp', ['-a', upperOf(dir), `${layerOut}.partial`]);
        await rename(`${layerOut}.partial`, layerOut);
        await this.disks.detach(dir);
      } else if (existsSync(diskImage(dir))) {
        // The writable layer is on the sandbox's own disk: the image file goes with the checkpoint. Renamed while
        // still mounted (the loop device keeps the same inode); destroy then detaches both mounts lazily, the held
        // descriptor keeps the filesystem alive, and its release — the flush — happens after we return. A restore
        // waits for it.
        try {
          await rename(diskImage(dir), path.join(imageDir, 'disk.img'));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          // Another filesystem: the copy must be of a released, consistent image.
          await execFileP(this.opts.launcherPath, ['cleanup', '--merged', path.join(dir, 'rootfs'), '--disk-mount', path.join(dir, 'disk')]);
          if (hold !== undefined) closeSync(hold);
          hold = undefined;
          await this.disks.waitReleased(diskImage(dir));
          await moveFile(diskImage(dir), path.join(imageDir, 'disk.img'));
        }
      } else if (existsSync(path.join(dir, 'upper'))) {
        if (layerOut) mkdirSync(path.dirname(layerOut), { recursive: true });
        try {
          await rename(path.join(dir, 'upper'), layerDest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await execFileP(this.opts.launcherPath, ['cleanup', '--merged', path.join(dir, 'rootfs')]);
          await moveDir(path.join(dir, 'upper'), layerDest);
        }
      }
      await writeManifest(imageDir, m.sandboxId, layerOut ? [layerOut, ...m.spec.layers] : m.spec.layers, m.idMap);
      await this.destroy(m.sandboxId);
    } finally {
      if (hold !== undefined) close(hold, () => {});
    }
  }

  /**
   * Starts a sandbox from a checkpoint: the same processes continue where they were, on a fresh network slot (listening
   * sockets accept again; established connections are closed). `move` consumes the checkpoint's writable layer (resume);
   * otherwise it is copied and the checkpoint stays reusable (snapshots, fork).
   */
  async restore(spec: SandboxSpec, imageDir: string, opts: { move?: boolean } = {}): Promise<SandboxRuntimeInfo> {
    const tried = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.restoreOnce(spec, imageDir, opts, tried);
      } catch (err) {
        // Another driver instance on this host took the same interface name: try the next slot.
        if (attempt < 3 && vethRace(err)) continue;
        throw err;
      }
    }
  }

  private async restoreOnce(spec: SandboxSpec, imageDir: string, opts: { move?: boolean }, tried: Set<number>): Promise<SandboxRuntimeInfo> {
    const criu = this.criu();
    const manifest = readManifest(imageDir);
    if (spec.layers.length === 0) spec = { ...spec, layers: manifest.layers };
    const dir = this.dir(spec.sandboxId);
    if (existsSync(dir)) throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    for (const l of spec.layers) {
      if (!existsSync(l)) throw new DriverError('failed_precondition', `rootfs layer ${l} does not exist`);
    }
    if (spec.layers.join(':') !== manifest.layers.join(':')) {
      this.opts.log?.(`container: restoring ${manifest.sandboxId} as ${spec.sandboxId} on layers ${spec.layers.join(':')}`);
    }
    await this.ensureNetwork(spec.internetAccess);
    const slot = this.allocateSlot(spec.sandboxId, tried);
    tried.add(slot);
    const { sandbox } = this.addresses(slot);
    const hostIf = hostIfName(slot, spec.internetAccess);
    const cg = this.cgroup(spec.sandboxId);
    try {
      for (const sub of ['work', 'rootfs']) mkdirSync(path.join(dir, sub), { recursive: true });
      writeFileSync(path.join(dir, 'netns'), '');
      // A control-plane crash mid-resume must not lose the sandbox: list() adopts it or gives the layer back.
      const pending: SandboxMeta = { sandboxId: spec.sandboxId, slot, pid: 0, address: sandbox, hostIf, startedAt: new Date().toISOString(), spec };
      writeFileSync(path.join(dir, 'restoring.json'), JSON.stringify({ imageDir, move: !!opts.move, meta: pending }));
      const disk = await this.restoreLayer(spec, dir, imageDir, !!opts.move);
      this.createCgroup(spec, cg);
      await this.egress.apply(hostIf, sandbox, spec.egress);
      const args = [
        ...this.launcherArgs('restore', { ...spec, layers: await this.layers.resolve(spec.layers) }, dir, slot, cg, disk, manifest.idMap),
        '--images', path.join(imageDir, 'criu'),
        '--criu', criu,
        '--criu-work', dir,
        ...(this.opts.lazyPages === false ? [] : ['--lazy-pages']),
      ];
      let pid: number;
      try {
        pid = await this.runLauncher(args);
      } catch (err) {
        const why = criuErrors(path.join(dir, 'restore.log'));
        throw new DriverError('internal', `restore of ${spec.sandboxId} failed: ${(err as Error).message}${why ? `: ${why}` : ''}`);
      }
      const meta: SandboxMeta = { sandboxId: spec.sandboxId, slot, pid, address: sandbox, hostIf, startedAt: new Date().toISOString(), spec, idMap: manifest.idMap };
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
      await rm(path.join(dir, 'restoring.json'), { force: true });
      await waitForAgent(`http://${sandbox}:${ENVD_PORT}/health`, 5000);
      return this.info(meta);
    } catch (err) {
      // Give a consumed layer back, so a failed resume loses nothing.
      if (opts.move) await this.giveLayerBack(dir, imageDir).catch(() => {});
      await this.teardown(spec.sandboxId, vethRace(err) ? undefined : hostIf).catch(() => {});
      this.slots.delete(slot);
      throw err instanceof DriverError ? err : new DriverError('internal', `restore of ${spec.sandboxId} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Puts a checkpoint's writable layer in place for a restore: its disk image (moved or sparse-copied), or its `upper/`
   * dir onto a fresh disk (or as the upper dir when the sandbox has no disk), or nothing (an empty layer: the image's
   * layer became a template layer).
   */
  private async restoreLayer(spec: SandboxSpec, dir: string, imageDir: string, move: boolean): Promise<DiskArgs> {
    const img = path.join(imageDir, 'disk.img');
    const up = path.join(imageDir, 'upper');
    if (existsSync(img)) {
      // Paused moments ago: the old mount of this image may still be flushing (see finishPause).
      await this.disks.waitReleased(img);
      if (move) await moveFile(img, diskImage(dir));
      else await execFileP('cp', ['--sparse=always', '--reflink=auto', img, diskImage(dir)]);
      mkdirSync(path.join(dir, 'disk'), { recursive: true });
      return { kind: 'mount' };
    }
    if (this.wantsDisk(spec)) {
      if (!existsSync(up)) {
        mkdirSync(path.join(dir, 'disk'), { recursive: true });
        return { kind: 'mount', blank: await this.disks.blank(spec.diskMB) };
      }
      // A layer to copy onto the new disk first: mount it here.
      await this.disks.create(dir, spec.diskMB);
      await execFileP('cp', ['-a', '--reflink=auto', `${up}/.`, upperOf(dir)]);
      if (move) await rm(up, { recursive: true, force: true });
      return { kind: 'mounted' };
    }
    if (!existsSync(up)) mkdirSync(path.join(dir, 'upper'));
    else if (move) await moveDir(up, path.join(dir, 'upper'));
    else await execFileP('cp', ['-a', '--reflink=auto', up, path.join(dir, 'upper')]);
    mkdirSync(path.join(dir, 'work'), { recursive: true });
    return { kind: 'none' };
  }

  /** After a failed or interrupted resume that consumed the checkpoint's layer: puts it back into the checkpoint. */
  private async giveLayerBack(dir: string, imageDir: string): Promise<void> {
    await execFileP(this.opts.launcherPath, ['cleanup', '--merged', path.join(dir, 'rootfs')]).catch(() => {});
    if (existsSync(diskImage(dir)) && !existsSync(path.join(imageDir, 'disk.img')) && !existsSync(path.join(imageDir, 'upper'))) {
      await this.disks.detach(dir, { clean: true });
      await moveFile(diskImage(dir), path.join(imageDir, 'disk.img'));
    } else if (existsSync(path.join(dir, 'upper')) && !existsSync(path.join(imageDir, 'upper'))) {
      await moveDir(path.join(dir, 'upper'), path.join(imageDir, 'upper'));
    }
  }

  /** See LayerCapturer: frozen copy of the writable layer (`leaveRunning`), or the sandbox's end with its layer moved. */
  async captureLayer(sandboxId: string, dest: string, opts: { leaveRunning?: boolean } = {}): Promise<void> {
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    if (existsSync(dest)) throw new DriverError('failed_precondition', `layer directory ${dest} already exists`);
    mkdirSync(path.dirname(dest), { recursive: true });
    const dir = this.dir(sandboxId);
    const upper = upperOf(dir);
    const cg = this.cgroup(sandboxId);
    const partial = `${dest}.partial`;
    await rm(partial, { recursive: true, force: true });
    await cg.freeze();
    if (opts.leaveRunning) {
      try {
        // cp -a keeps what an overlay layer needs: whiteout devices, opaque-dir xattrs, owners, hard links.
        await execFileP('cp', ['-a', '--reflink=auto', upper, partial]);
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
      hold = openSync(path.join(dir, 'rootfs'), 'r');
    } catch {
      /* not mounted */
    }
    try {
      try {
        await rename(upper, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await cg.killAll();
        await execFileP(this.opts.launcherPath, ['cleanup', '--merged', path.join(dir, 'rootfs')]);
        await moveDir(upper, partial);
        await rename(partial, dest);
      }
      await this.destroy(sandboxId);
    } catch (err) {
      await cg.thaw().catch(() => {});
      throw new DriverError('internal', `cannot capture the writable layer of ${sandboxId}: ${(err as Error).message}`);
    } finally {
      if (hold !== undefined) close(hold, () => {});
    }
  }

  /** See EgressController: the new rules replace the old ones at once; the sandbox's record keeps them. */
  async updateEgress(sandboxId: string, rules: { allowOut: string[]; denyOut: string[] }): Promise<void> {
    const m = this.readMeta(sandboxId);
    if (!m || !this.alive(m)) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    let parsed;
    try {
      parsed = parseEgressRules(rules);
    } catch (err) {
      throw new DriverError('invalid_argument', (err as Error).message);
    }
    await this.egress.apply(m.hostIf, m.address, parsed);
    writeFileSync(path.join(this.dir(sandboxId), 'meta.json'), JSON.stringify({ ...m, spec: { ...m.spec, egress: parsed } }));
  }

  imageInUse(imageDir: string): boolean {
    return criuProcessFor((argv) => argv[1] === 'lazy-pages' && argv[argv.indexOf('-D') + 1] === path.join(imageDir, 'criu'));
  }

  /**
   * Host firewall for sandbox links (always): sandboxes never reach each other, and the host only answers them on
   * connections the host opened. Internet access additionally turns on forwarding; masquerading is in the same rules.
   */
  private async ensureNetwork(internet: boolean): Promise<void> {
    if (!this.firewallReady) {
      try {
        await ensureFirewall({ prefix: this.prefix, egressAllowCidrs: this.opts.egressAllowCidrs });
        this.firewallReady = true;
      } catch (err) {
        throw new DriverError('internal', `cannot install the sandbox firewall rules (iptables): ${(err as Error).message}`);
      }
    }
    if (internet && !this.forwarding) {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
      this.forwarding = true;
    }
  }
}
