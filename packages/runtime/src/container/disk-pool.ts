/**
 * A few fresh sandbox disks made ahead of time, so a create does not wait for one (copying the formatted blank,
 * attaching a loop device and mounting ext4 were the largest part of the launcher's work). A pooled disk is exactly
 * what the launcher would make during a create — `tb-launch disk`: a sparse copy of the blank, mounted nodev,nosuid
 * with empty `upper/` and `work/` — and it is only ever fresh: one is handed out once, by moving its directory,
 * and never comes back (a sandbox's disk dies with the sandbox).
 *
 * `<stateDir>/.disk-pool/<sizeMB>m-<owner>-<n>/` holds `disk.img` mounted at `disk/`, the layout of a sandbox's
 * directory (writable-layer.ts): `take` hands the entry over and the caller renames it to the sandbox's directory
 * (the mount moves with it). Refills run one at a time in the background, started after a create, for the (at most
 * MAX_SIZES) sizes asked for last, `size` disks each. `close` stops refilling and unmounts and removes what is
 * ready. `<owner>` is the making process's pid and start time: a driver starting on the state dir removes the entries
 * of owners that are gone (a crash), never those of a live process (another driver instance in it still uses them).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxDisks } from '../sandbox-disk.js';
import type { Launcher } from './launcher.js';

/** How many different disk sizes the pool keeps disks of (the most recently asked for). */
const MAX_SIZES = 2;

/** `<pid>.<start time>` of a process, or undefined when there is none of that pid. */
function processTag(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (start time, in clock ticks since boot); fields after the command name, which may hold spaces.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `${pid === 'self' ? process.pid : pid}.${start}`;
  } catch {
    return undefined;
  }
}

const OWNER = processTag('self') ?? `${process.pid}.0`;

/** Whether a file system is mounted at `dir` (it lies on another device than its parent). */
function mounted(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(path.dirname(dir)).dev;
  } catch {
    return false;
  }
}

export class DiskPool {
  private readonly ready = new Map<number, string[]>();
  /** Sizes asked for, most recent first. */
  private wanted: number[] = [];
  private refilling?: Promise<void>;
  private closed = false;
  private seq = 0;
  /** The sweep of a previous process's leftovers: refills wait for it. */
  readonly swept: Promise<void>;

  /** `size`: disks kept ready per size (0: no pool). */
  constructor(
    readonly root: string,
    private readonly size: number,
    private readonly launcher: Launcher,
    private readonly disks: SandboxDisks,
    private readonly log?: (msg: string) => void,
  ) {
    this.swept = this.sweep();
  }

  /**
   * A ready disk of `sizeMB`: the path of an entry the caller now owns and must rename away (or `discard`), or
   * undefined when none is ready. The caller calls `refill` once its create is done (not before: starting a process
   * and making a disk would slow the very create the pool is there to speed up).
   */
  take(sizeMB: number): string | undefined {
    if (this.size <= 0 || this.closed) return undefined;
    this.wanted = [sizeMB, ...this.wanted.filter((s) => s !== sizeMB)];
    for (const old of this.wanted.splice(MAX_SIZES)) {
      for (const entry of this.ready.get(old) ?? []) void this.discard(entry);
      this.ready.delete(old);
    }
    const ready = this.ready.get(sizeMB) ?? [];
    for (let entry = ready.shift(); entry; entry = ready.shift()) {
      if (mounted(path.join(entry, 'disk'))) return entry;
      void this.discard(entry); // unmounted behind our back: not a disk to hand out
    }
    return undefined;
  }

  /** How many disks are ready (tests). */
  readyCount(): number {
    return [...this.ready.values()].reduce((n, l) => n + l.length, 0);
  }

  /** Stops refilling, waits for a refill under way, and unmounts and removes every ready disk. */
  async close(): Promise<void> {
    this.closed = true;
    await this.refilling;
    const entries = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.all(entries.map((e) => this.discard(e)));
  }

  /** Unmounts (lazily) and removes an entry. */
  async discard(entry: string): Promise<void> {
    await this.launcher.cleanup({ diskMount: path.join(entry, 'disk') }).catch(() => {});
    await rm(entry, { recursive: true, force: true }).catch((e) => this.log?.(`disk pool: ${(e as Error).message}`));
  }

  /** Starts making disks for the sizes wanted, one at a time, until each has `size` (no-op when under way). */
  refill(): void {
    if (this.refilling || this.closed) return;
    const sizeMB = this.wanted.find((s) => (this.ready.get(s)?.length ?? 0) < this.size);
    if (sizeMB === undefined) return;
    this.refilling = this.makeOne(sizeMB).then(
      (entry) => {
        this.refilling = undefined;
        if (this.closed || !this.wanted.includes(sizeMB)) return void this.discard(entry);
        this.ready.set(sizeMB, [...(this.ready.get(sizeMB) ?? []), entry]);
        this.refill();
      },
      (err) => {
        // Not retried until the next take: a host without loop devices must not spin here.
        this.refilling = undefined;
        this.log?.(`disk pool: cannot make a ${sizeMB} MB disk: ${(err as Error).message}`);
      },
    );
  }

  private async makeOne(sizeMB: number): Promise<string> {
    await this.swept;
    const blank = await this.disks.blank(sizeMB);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const entry = path.join(this.root, `${sizeMB}m-${OWNER}-${++this.seq}`);
    const mount = path.join(entry, 'disk');
    mkdirSync(mount, { recursive: true });
    try {
      await this.launcher.makeDisk(path.join(entry, 'disk.img'), mount, blank);
    } catch (err) {
      await this.discard(entry);
      throw err;
    }
    return entry;
  }

  /** Removes the entries whose owner is gone (and any not named by this module). */
  private async sweep(): Promise<void> {
    if (!existsSync(this.root)) return;
    const orphans = readdirSync(this.root).filter((name) => {
      const owner = /^\d+m-(\d+)\.\d+-\d+$/.exec(name);
      return !owner || processTag(Number(owner[1])) !== name.split('-')[1];
    });
    await Promise.all(orphans.map((n) => this.discard(path.join(this.root, n))));
  }
}
