/**
 * The native launcher (native/, built into build/tb-launch) as seen from the driver: the options `create` and
 * `restore` share, spawning it and reading its answer (one line `{"pid":N}` on stdout once the agent is ready; the
 * launcher then stays as the sandbox's shim, detached from us), and cleanup (lazy unmounts of the overlay, the pinned
 * netns and the disk, and removal of the host link). Cleanup goes to a few long-lived `tb-launch cleanup-server`s per
 * driver (started as concurrent teardowns need them, up to CLEANUP_SERVERS; restarted when gone) rather than a process
 * per teardown: at hundreds of sandboxes, process starts were a sixth of the control plane's CPU. Several, because a
 * link deletion waits for the kernel (tens of ms) and many kills at once would queue behind one. A path a request
 * cannot carry (a tab or newline in it) or a helper that fails falls back to a `tb-launch cleanup` of its own.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { SandboxSpec } from '../driver.js';
import { launcherIdArgs, type IdMap } from '../user-namespace.js';
import type { Link } from './network.js';

const execFileP = promisify(execFile);
const CLEANUP_SERVERS = 4;

/** What `create` and `restore` are both told. */
export interface LaunchTarget {
  spec: SandboxSpec;
  link: Link;
  /** The sandbox's cgroup directories (one per hierarchy). */
  cgroupDirs: string[];
  /** The writable layer's options (WritableLayer.launcherArgs). */
  layerArgs: string[];
  /** `<dir>/rootfs`, `<dir>/netns`, `<dir>/exit`. */
  merged: string;
  netnsFile: string;
  exitFile: string;
  idMap?: IdMap;
}

/** What `tb-launch cleanup` undoes; each part that is given and exists. */
export interface CleanupTarget {
  merged?: string;
  netnsFile?: string;
  diskMount?: string;
  hostIf?: string;
}

/** The cleanup helper and the requests it has yet to answer, oldest first. */
interface CleanupServer {
  child: ChildProcessByStdio<Writable, Readable, null>;
  pending: { resolve: () => void; reject: (err: Error) => void }[];
}

export class Launcher {
  private readonly servers: CleanupServer[] = [];

  constructor(
    readonly path: string,
    private readonly agentPath: string,
  ) {}

  /** The options `create` and `restore` share: layers, state paths, agent, link, cgroups, writable layer, user ns. */
  args(command: 'create' | 'restore', t: LaunchTarget): string[] {
    return [
      command,
      '--id',
      t.spec.sandboxId,
      '--lower',
      t.spec.layers.join(':'),
      ...t.layerArgs,
      '--merged',
      t.merged,
      '--agent',
      this.agentPath,
      '--netns-file',
      t.netnsFile,
      '--host-if',
      t.link.hostIf,
      '--host-ip',
      t.link.hostIp,
      '--sandbox-ip',
      t.link.sandboxIp,
      '--exit-file',
      t.exitFile,
      ...t.cgroupDirs.flatMap((d) => ['--cgroup', d]),
      ...(t.spec.internetAccess ? ['--internet'] : []),
      ...(t.spec.mounts ?? []).flatMap((v) => ['--volume', v.hostPath, v.sandboxPath]),
      ...launcherIdArgs(t.idMap),
    ];
  }

  /** Runs the launcher and resolves with the sandbox's init PID once its agent is ready. The launcher lives on. */
  run(args: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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

  /** Detaches the given mounts lazily and deletes the host link when it still exists. */
  async cleanup(t: CleanupTarget): Promise<void> {
    const fields = [t.merged, t.netnsFile, t.diskMount, t.hostIf].map((f) => f ?? '');
    if (fields.some((f) => /[\t\n]/.test(f))) return this.cleanupAlone(t);
    try {
      await this.request(fields.join('\t'));
    } catch {
      await this.cleanupAlone(t);
    }
  }

  private request(line: string): Promise<void> {
    // The least busy helper; a new one when all are busy and there may be more.
    const least = this.servers.reduce<CleanupServer | undefined>(
      (best, s) => (!best || s.pending.length < best.pending.length ? s : best),
      undefined,
    );
    const reuse = least && (least.pending.length === 0 || this.servers.length >= CLEANUP_SERVERS);
    const server = reuse ? least : this.startServer();
    return new Promise<void>((resolve, reject) => {
      server.pending.push({ resolve, reject });
      if (server.pending.length === 1) this.hold(server, true);
      server.child.stdin.write(`${line}\n`);
    });
  }

  private startServer(): CleanupServer {
    const child = spawn(this.path, ['cleanup-server'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const server: CleanupServer = { child, pending: [] };
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        out = out.slice(nl + 1);
        server.pending.shift()?.resolve();
      }
      if (server.pending.length === 0) this.hold(server, false);
    });
    const gone = (err: Error) => {
      const i = this.servers.indexOf(server);
      if (i >= 0) this.servers.splice(i, 1);
      for (const p of server.pending.splice(0)) p.reject(err);
    };
    child.on('error', gone);
    child.on('exit', (code, signal) => gone(new Error(`cleanup helper exited (${signal ?? code})`)));
    child.stdin.on('error', () => {}); // a helper gone mid-write: 'exit' rejects what it had
    this.hold(server, false);
    this.servers.push(server);
    return server;
  }

  /** The helper keeps the process alive only while it has requests to answer. */
  private hold(server: CleanupServer, busy: boolean): void {
    for (const h of [server.child, server.child.stdin, server.child.stdout] as { ref(): void; unref(): void }[]) {
      if (busy) h.ref();
      else h.unref();
    }
  }

  /** `tb-launch cleanup`, a process of its own. */
  private async cleanupAlone(t: CleanupTarget): Promise<void> {
    await execFileP(this.path, [
      'cleanup',
      ...(t.merged ? ['--merged', t.merged] : []),
      ...(t.netnsFile ? ['--netns-file', t.netnsFile] : []),
      ...(t.diskMount ? ['--disk-mount', t.diskMount] : []),
      ...(t.hostIf ? ['--host-if', t.hostIf] : []),
    ]);
  }
}
