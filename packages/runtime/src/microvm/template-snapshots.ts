/**
 * Template snapshots: one booted, idle VM per shape (kernel, initrd, layer images, cpuCount, memoryMB, diskMB, accel),
 * saved right after its agent answered, under `<dir>/<key>/` (layout in snapshot.ts). Made on first use and shared by
 * every create of that shape; a directory appears complete (by rename) or not at all. The template VM has no cgroup of
 * its own and no internet; its netns is gone once it is saved.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ENVD_PORT } from '../container.js';
import { qemuArgs, type VmConfig } from './qemu.js';
import { resumeOrQuit, saveVm, snapshotFiles } from './snapshot.js';
import type { Slots } from '../link-slots.js';
import { createVmNetwork, removeVmNetwork } from './vm-network.js';
import { logTail, startQemu, waitForAgent } from './vm-process.js';

/** A VM's shape: what a migration stream needs to match, beside the per-VM paths. */
export type VmShape = Omit<
  VmConfig,
  'disk' | 'hostname' | 'qmpSocket' | 'consoleLog' | 'memory' | 'incoming' | 'probe'
>;

export interface TemplateDeps {
  dir: string;
  qemu: string;
  slots: Slots;
  /** Copies a blank disk of `diskMB` to `dest`. */
  blankDisk(diskMB: number, dest: string): Promise<void>;
  bootTimeoutMs: number;
  log?: (msg: string) => void;
}

/** SIGKILLs every process whose command line names something under `dir`. */
function killUsersOf(dir: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone, or not ours to read */
    }
  }
}

export class TemplateSnapshots {
  private readonly making = new Map<string, Promise<string>>();

  constructor(private readonly d: TemplateDeps) {}

  /**
   * Removes what a template VM of a dead process left (its netns and half-made directory): a control plane that
   * crashed while making one. Names carry the maker's PID.
   */
  async clearAbandoned(): Promise<void> {
    const dead = (pid: string) => pid !== String(process.pid) && !existsSync(`/proc/${pid}`);
    for (const d of existsSync(this.d.dir) ? readdirSync(this.d.dir) : []) {
      const m = /^[0-9a-f]+\.(\d+)\.tmp$/.exec(d);
      if (!m || !dead(m[1])) continue;
      killUsersOf(path.join(this.d.dir, d) + '/'); // its QEMU, detached, outlived the maker
      await rm(path.join(this.d.dir, d), { recursive: true, force: true });
    }
    let names: string[] = [];
    try {
      names = readdirSync('/run/netns');
    } catch {
      /* no named netns at all */
    }
    for (const n of names) {
      const m = /^tbvm-(tpl-[0-9a-f]+-(\d+))$/.exec(n);
      if (m && dead(m[2])) await removeVmNetwork(m[1]);
    }
  }

  /** The snapshot directory for this shape, made now if there is none. */
  get(v: VmShape, diskMB: number): Promise<string> {
    const shape = { ...v, diskMB };
    const key = createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
    const final = path.join(this.d.dir, key);
    if (existsSync(final)) return Promise.resolve(final);
    let p = this.making.get(key);
    if (!p) {
      p = this.make(key, v, diskMB, final).finally(() => this.making.delete(key));
      this.making.set(key, p);
    }
    return p;
  }

  private async make(key: string, v: VmShape, diskMB: number, final: string): Promise<string> {
    const id = `tpl-${key}-${process.pid}`;
    const dir = path.join(this.d.dir, `${key}.${process.pid}.tmp`);
    await rm(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = snapshotFiles(dir);
    const link = this.d.slots.allocate(id);
    const t0 = Date.now();
    try {
      await this.d.blankDisk(diskMB, files.disk);
      await createVmNetwork(id, link, false);
      const consoleLog = path.join(dir, 'console.log');
      const cfg: VmConfig = {
        ...v,
        disk: files.disk,
        hostname: 'tensor-box',
        qmpSocket: path.join(dir, 'qmp.sock'),
        consoleLog,
        memory: { file: files.mem, share: true },
      };
      const logFile = path.join(dir, 'qemu.log');
      const vm = startQemu(this.d.qemu, qemuArgs(cfg), { sandboxId: id, cgroupDirs: [], logFile });
      try {
        await waitForAgent(`http://${link.sandboxIp}:${ENVD_PORT}`, vm, this.d.bootTimeoutMs);
        await saveVm(cfg.qmpSocket, files.state, { ignoreShared: true });
        await resumeOrQuit(cfg.qmpSocket, 'quit');
        if (!(await vm.waitExit(30_000))) throw new Error('QEMU did not end after saving the snapshot');
      } catch (err) {
        if (!vm.hasExited()) process.kill(vm.pid, 'SIGKILL');
        throw new Error(`${(err as Error).message} (${logTail(consoleLog, 3)})`);
      }
      writeFileSync(files.vm, JSON.stringify({ ...v, diskMB, memoryBackend: true }));
      for (const f of ['qmp.sock', 'console.log', 'qemu.log']) await rm(path.join(dir, f), { force: true });
      await rename(dir, final).catch(async (err: NodeJS.ErrnoException) => {
        if (!existsSync(final)) throw err; // else another process made it first
        await rm(dir, { recursive: true, force: true });
      });
      this.d.log?.(`microvm: template snapshot ${key} made in ${Date.now() - t0} ms (${v.accel})`);
      return final;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    } finally {
      await removeVmNetwork(id, link.hostIf);
      this.d.slots.release(link.slot);
    }
  }
}
