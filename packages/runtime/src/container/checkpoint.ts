/**
 * Checkpoints of container sandboxes (the Checkpointer's `checkpoint`): a CRIU dump of the sandbox's process tree into
 * `<imageDir>/criu/`, its writable layer beside it (writable-layer.ts), then `checkpoint.json` (checkpoint-files.ts).
 * The sandbox is frozen by us for the dump; with `leaveRunning` it is thawed afterwards, else it is destroyed still
 * frozen (nothing may run after the moment the image holds). A pause marker (state-dir.ts `pausing.json`) lets a
 * restarted control plane complete a dump that finished while it was down (recovery.ts calls `finishPause`).
 */
import { execFile } from 'node:child_process';
import { close, existsSync, mkdirSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { criuErrors, criuProcessFor, writeManifest } from '../checkpoint-files.js';
import { DriverError } from '../driver.js';
import { dumpNamespaceArgs } from '../user-namespace.js';
import type { SandboxHost } from './sandbox-host.js';
import type { SandboxMeta } from './state-dir.js';

const execFileP = promisify(execFile);

export interface CheckpointOptions {
  leaveRunning?: boolean;
  /** Where the writable layer goes as a template layer (instead of into the checkpoint); needs a stopping dump. */
  layerOut?: string;
}

/** The CRIU binary, or failed_precondition when it is not built. */
export function criuPath(host: SandboxHost): string {
  const p = host.opts.criuPath;
  if (!p || !existsSync(p)) {
    const msg = 'pause/resume needs CRIU 4.2+ (build/criu; npm run setup builds it as root)';
    throw new DriverError('failed_precondition', msg);
  }
  return p;
}

/** Whether a lazy-pages server still reads that checkpoint's images (a sandbox resumed from it moments ago). */
export function imageInUse(imageDir: string): boolean {
  const images = path.join(imageDir, 'criu');
  return criuProcessFor((argv) => argv[1] === 'lazy-pages' && argv[argv.indexOf('-D') + 1] === images);
}

export async function checkpoint(host: SandboxHost, sandboxId: string, imageDir: string, opts: CheckpointOptions) {
  const criu = criuPath(host);
  if (opts.layerOut && opts.leaveRunning) {
    throw new DriverError('failed_precondition', 'layerOut needs a checkpoint that stops the sandbox');
  }
  if (opts.layerOut && existsSync(opts.layerOut)) {
    throw new DriverError('failed_precondition', `layer directory ${opts.layerOut} already exists`);
  }
  const m = host.running(sandboxId);
  if (existsSync(imageDir)) {
    throw new DriverError('failed_precondition', `checkpoint directory ${imageDir} already exists`);
  }
  const dir = host.state.dir(sandboxId);
  // Just resumed: CRIU cannot dump memory that is still arriving lazily; wait for the last page (seconds at most).
  for (let i = 0; i < 1200 && criuProcessFor((a) => a[1] === 'lazy-pages' && a[a.indexOf('-W') + 1] === dir); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const images = path.join(imageDir, 'criu');
  mkdirSync(images, { recursive: true });
  const cg = host.cgroup(sandboxId);
  const freezerDir = cg.freezerDir();
  const args = [
    'dump',
    '-t',
    String(m.pid),
    '-D',
    images,
    '-o',
    'dump.log',
    '-v3', // v3: the log says when the dump finished
    // Established connections are closed on restore (--tcp-close), so the network need not be locked for the dump
    // (locking runs iptables in the netns: tens of ms).
    '--tcp-established',
    '--network-lock',
    'skip',
    '--file-locks',
    '--manage-cgroups=ignore',
    ...dumpNamespaceArgs(m.pid, m.idMap),
    '--external',
    'mnt[/run/tensor-box/envd]:envd',
    '--external',
    'mnt[/run/tensor-box/tb-init]:tbinit',
    // Volumes are shared, never in the image: restore binds them back (container/restore.ts).
    ...(m.spec.mounts ?? []).flatMap((v, i) => ['--external', `mnt[${v.sandboxPath}]:vol-${i}`]),
    ...(freezerDir ? ['--freeze-cgroup', freezerDir] : []),
    ...(opts.leaveRunning ? ['--leave-running'] : []),
  ];
  let frozen = false;
  // A control-plane crash mid-pause must not lose the sandbox: list() finishes a complete dump from this marker.
  if (!opts.leaveRunning) host.state.writePausing(sandboxId, { imageDir, layerOut: opts.layerOut });
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
      const why = criuErrors(path.join(images, 'dump.log')) || e.message;
      throw new DriverError('internal', `checkpoint of ${sandboxId} failed (${how}): ${why}`);
    }
    if (opts.leaveRunning) await host.layerOf(m).copyTo(path.join(imageDir, 'upper'));
  } catch (err) {
    if (frozen) await cg.thaw().catch(() => {});
    await host.state.clear(sandboxId, 'pausing');
    await rm(imageDir, { recursive: true, force: true });
    if (err instanceof DriverError) throw err;
    throw new DriverError('internal', `checkpoint of ${sandboxId} failed: ${(err as Error).message}`);
  }
  if (opts.leaveRunning) {
    await cg.thaw();
    await writeManifest(imageDir, sandboxId, m.spec.layers, m.idMap, mountPaths(m));
  } else {
    // Still frozen: nothing may run (and write files) after the moment the image holds. Destroy kills the processes
    // and only then thaws them, so they die without running again.
    await finishPause(host, m, imageDir, opts.layerOut);
  }
}

/** After a complete dump (the processes are gone or frozen): keep the writable layer, release the rest. */
export async function finishPause(host: SandboxHost, m: SandboxMeta, imageDir: string, layerOut?: string) {
  const dir = host.state.dir(m.sandboxId);
  // Unmounting the overlay syncs the whole underlying filesystem — the fresh images included — which can take
  // longer than the dump. So: keep a descriptor on the (now unused) overlay, move its layer into the image (a rename on
  // the same filesystem), detach the mount (instant while the descriptor holds it), tear the rest down, and let the
  // last close — and with it the sync — happen on a worker thread after the pause has returned.
  let hold: number | undefined;
  try {
    hold = openSync(path.join(dir, 'rootfs'), 'r');
  } catch {
    /* not mounted (recovery after a crash): nothing to hold */
  }
  // When the layer must be copied: let go of the overlay first (and of the disk's mount: the layer unmounts it).
  const release = async () => {
    const fd = hold;
    hold = undefined;
    if (fd !== undefined) await new Promise<void>((r) => close(fd, () => r()));
    await host.unmountRoot(m.sandboxId);
  };
  try {
    const layer = host.layerOf(m);
    if (layerOut && layer.present()) await layer.moveUpperTo(layerOut, release);
    else if (!layerOut) await layer.saveTo(imageDir, release);
    const layers = layerOut ? [layerOut, ...m.spec.layers] : m.spec.layers;
    await writeManifest(imageDir, m.sandboxId, layers, m.idMap, mountPaths(m));
    await host.destroy(m.sandboxId);
  } finally {
    if (hold !== undefined) close(hold, () => {});
  }
}

const mountPaths = (m: SandboxMeta) => (m.spec.mounts ?? []).map((v) => v.sandboxPath);
