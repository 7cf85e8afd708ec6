/**
 * Per-sandbox cgroups, for both layouts: cgroup v1 (one hierarchy per controller, as on these machines, where v2 is
 * mounted only at /sys/fs/cgroup/unified) and pure cgroup v2. One `SandboxCgroup` is the set of directories a sandbox's
 * processes are put into, with its limits, usage, freeze and kill. Device access is restricted by the launcher on the
 * directories it is given (native/devices.c: the v1 devices controller's directory, or a BPF device program on the v2
 * group).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  cpuCount: number;
  memoryMB: number;
  pidsMax: number;
}

export interface CgroupUsage {
  cpuUsageNs: number;
  memoryUsedBytes: number;
  memoryCacheBytes: number;
  memoryLimitBytes: number;
  pids: number;
}

const ROOT = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];

/** v1 layouts: the required controllers' mount points, and the devices controller's when it is mounted. */
export type CgroupLayout =
  | { version: 2; root: string }
  | { version: 1; mounts: Record<V1Controller, string>; devices?: string };

let detected: CgroupLayout | undefined;

/** Which cgroup layout this host has (pure v2 when /sys/fs/cgroup/cgroup.controllers exists). */
export function detectLayout(): CgroupLayout {
  if (detected) return detected;
  if (existsSync(path.join(ROOT, 'cgroup.controllers'))) return (detected = { version: 2, root: ROOT });
  const mounts = {} as Record<V1Controller, string>;
  let devices: string | undefined;
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right?.startsWith('cgroup ')) continue;
    const mountPoint = left!.split(' ')[4]!;
    const superOpts = right.split(' ')[2]!.split(',');
    for (const c of V1_CONTROLLERS) if (superOpts.includes(c) && !mounts[c]) mounts[c] = mountPoint;
    if (superOpts.includes('devices') && !devices) devices = mountPoint;
  }
  const missing = V1_CONTROLLERS.filter((c) => !mounts[c]);
  if (missing.length) throw new Error(`cgroup v1 controllers not mounted: ${missing.join(', ')}`);
  return (detected = { version: 1, mounts, ...(devices ? { devices } : {}) });
}

function read(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

function readNumber(file: string): number {
  const v = read(file);
  return v === 'max' ? Number.POSITIVE_INFINITY : Number(v);
}

function statField(file: string, key: string): number {
  for (const line of read(file).split('\n')) {
    const [k, v] = line.split(' ');
    if (k === key) return Number(v);
  }
  return 0;
}

export class SandboxCgroup {
  constructor(
    readonly layout: CgroupLayout,
    readonly parent: string,
    readonly name: string,
  ) {}

  /** Every directory the sandbox's processes join (deduplicated: v1 controllers may share a mount). */
  dirs(): string[] {
    if (this.layout.version === 2) return [path.join(this.layout.root, this.parent, this.name)];
    const mounts = [...Object.values(this.layout.mounts), ...(this.layout.devices ? [this.layout.devices] : [])];
    return [...new Set(mounts)].map((m) => path.join(m, this.parent, this.name));
  }

  private dir(controller: V1Controller | 'v2'): string {
    if (this.layout.version === 2) return path.join(this.layout.root, this.parent, this.name);
    return path.join(this.layout.mounts[controller as V1Controller], this.parent, this.name);
  }

  /** The directory CRIU's --freeze-cgroup takes (v1 freezer, or the v2 group). */
  freezerDir(): string {
    return this.layout.version === 2 ? this.dir('v2') : this.dir('freezer');
  }

  exists(): boolean {
    return this.dirs().some((d) => existsSync(d));
  }

  /** Creates the directories and writes the limits. Throws (after removing what it made) when the kernel refuses. */
  create(limits: CgroupLimits): void {
    try {
      if (this.layout.version === 2) {
        const parentDir = path.join(this.layout.root, this.parent);
        mkdirSync(parentDir, { recursive: true });
        for (const dir of [this.layout.root, parentDir]) {
          const have = read(path.join(dir, 'cgroup.subtree_control')).split(' ');
          const want = ['cpu', 'memory', 'pids'].filter((c) => !have.includes(c));
          if (want.length) writeFileSync(path.join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
        }
        const d = this.dir('v2');
        mkdirSync(d);
        writeFileSync(path.join(d, 'cpu.max'), `${Math.round(limits.cpuCount * 100_000)} 100000`);
        writeFileSync(path.join(d, 'memory.max'), String(limits.memoryMB * 1024 * 1024));
        if (existsSync(path.join(d, 'memory.swap.max'))) writeFileSync(path.join(d, 'memory.swap.max'), '0');
        writeFileSync(path.join(d, 'pids.max'), String(limits.pidsMax));
        return;
      }
      for (const d of this.dirs()) mkdirSync(d, { recursive: true });
      writeFileSync(path.join(this.dir('cpu'), 'cpu.cfs_period_us'), '100000');
      writeFileSync(path.join(this.dir('cpu'), 'cpu.cfs_quota_us'), String(Math.round(limits.cpuCount * 100_000)));
      writeFileSync(path.join(this.dir('memory'), 'memory.limit_in_bytes'), String(limits.memoryMB * 1024 * 1024));
      writeFileSync(path.join(this.dir('pids'), 'pids.max'), String(limits.pidsMax));
    } catch (err) {
      this.removeSync();
      throw err;
    }
  }

  pids(): number[] {
    const file = path.join(this.layout.version === 2 ? this.dir('v2') : this.dir('pids'), 'cgroup.procs');
    try {
      return read(file).split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  usage(): CgroupUsage {
    if (this.layout.version === 2) {
      const d = this.dir('v2');
      const limit = readNumber(path.join(d, 'memory.max'));
      return {
        cpuUsageNs: statField(path.join(d, 'cpu.stat'), 'usage_usec') * 1000,
        memoryUsedBytes: readNumber(path.join(d, 'memory.current')),
        memoryCacheBytes: statField(path.join(d, 'memory.stat'), 'file'),
        memoryLimitBytes: Number.isFinite(limit) ? limit : 0,
        pids: readNumber(path.join(d, 'pids.current')),
      };
    }
    return {
      cpuUsageNs: readNumber(path.join(this.dir('cpuacct'), 'cpuacct.usage')),
      memoryUsedBytes: readNumber(path.join(this.dir('memory'), 'memory.usage_in_bytes')),
      memoryCacheBytes: statField(path.join(this.dir('memory'), 'memory.stat'), 'total_cache'),
      memoryLimitBytes: readNumber(path.join(this.dir('memory'), 'memory.limit_in_bytes')),
      pids: readNumber(path.join(this.dir('pids'), 'pids.current')),
    };
  }

  /** Suspends every process; resolves once the kernel reports the group frozen. */
  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  isFrozen(): boolean {
    try {
      if (this.layout.version === 2) return /^frozen 1$/m.test(read(path.join(this.dir('v2'), 'cgroup.events')));
      return read(path.join(this.dir('freezer'), 'freezer.state')) === 'FROZEN';
    } catch {
      return false;
    }
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    if (this.layout.version === 2) {
      writeFileSync(path.join(this.dir('v2'), 'cgroup.freeze'), frozen ? '1' : '0');
    } else {
      writeFileSync(path.join(this.dir('freezer'), 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
    }
    for (let i = 0; i < 2000; i++) {
      if (this.isFrozen() === frozen) return;
      await sleep(1);
    }
    throw new Error(`cgroup ${this.name} did not become ${frozen ? 'frozen' : 'thawed'}`);
  }

  /** Kills every process in the group (frozen ones too) and waits until the group is empty. */
  async killAll(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const v2kill = this.layout.version === 2 ? path.join(this.dir('v2'), 'cgroup.kill') : '';
    while (Date.now() < deadline) {
      const pids = this.pids();
      if (pids.length === 0) return;
      if (v2kill && existsSync(v2kill)) writeFileSync(v2kill, '1');
      else
        for (const pid of pids)
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
      // Frozen tasks only die once thawed.
      if (this.isFrozen()) await this.setFrozen(false).catch(() => {});
      await sleep(2);
    }
    throw new Error(`processes of ${this.name} survived SIGKILL: ${this.pids().join(', ')}`);
  }

  /** Removes the directories (the group must be empty). */
  async remove(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (this.removeSync()) return;
      await sleep(5);
    }
    throw new Error(`cannot remove cgroup ${this.name}: still busy`);
  }

  private removeSync(): boolean {
    let ok = true;
    for (const d of this.dirs()) {
      try {
        rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ok = false;
      }
    }
    return ok;
  }
}
