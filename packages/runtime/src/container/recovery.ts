/**
 * Finishes what a control-plane crash interrupted, from the markers in a sandbox's state dir (state-dir.ts), when a
 * driver lists its sandboxes. Mid-pause (`pausing.json`): a filesystem-only one is completed; otherwise waits for a
 * CRIU dump still running; if the dump is complete, completes the checkpoint (the sandbox is gone); if it failed and
 * the sandbox lives, thaws it. Mid-resume or mid-boot (`restoring.json`, no meta.json yet): adopts the restored or
 * booted sandbox if it runs, else gives the writable layer back to the checkpoint and removes the rest.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { criuRunningFor, dumpComplete } from '../checkpoint-files.js';
import { finishPause } from './checkpoint.js';
import { giveLayerBack } from './restore.js';
import type { SandboxHost } from './sandbox-host.js';
import type { SandboxMeta } from './state-dir.js';

/** The record to continue with: the sandbox's (possibly adopted) meta, undefined when it has none, null when gone. */
export async function recover(host: SandboxHost, id: string, m: SandboxMeta | undefined) {
  const pausing = m && host.state.readPausing(id);
  if (m && pausing?.memory === false) {
    // A filesystem-only pause has no dump to wait for: it completes (the processes were to end anyway).
    host.opts.log?.(`container: completing the interrupted filesystem-only pause of ${id}`);
    await host
      .cgroup(id)
      .freeze()
      .catch(() => {});
    await finishPause(host, m, pausing.imageDir, undefined, false);
    return null;
  }
  if (m && pausing) {
    const { imageDir, layerOut } = pausing;
    for (let i = 0; i < 600 && criuRunningFor(m.pid); i++) await new Promise((r) => setTimeout(r, 100));
    // A complete dump wins: the processes may still be there, frozen, waiting for the teardown that kills them.
    if (dumpComplete(path.join(imageDir, 'criu'))) {
      host.opts.log?.(`container: completing the interrupted pause of ${id}`);
      await finishPause(host, m, imageDir, layerOut);
      return null;
    }
    if (host.alive(m)) {
      await rm(imageDir, { recursive: true, force: true }); // the dump failed and CRIU resumed the sandbox
      await host.state.clear(id, 'pausing');
      await host
        .cgroup(id)
        .thaw()
        .catch(() => {}); // we froze it before the dump
    }
    return m; // dead without a complete dump: nothing to save but what destroy clears
  }
  const restoring = !m && host.state.readRestoring(id);
  if (restoring) {
    const meta = { ...restoring.meta, pid: host.state.restoredPid(id) };
    if (meta.pid > 1 && host.alive(meta)) {
      host.opts.log?.(`container: adopting ${id}, restored while the control plane was down`);
      host.state.writeMeta(meta);
      await host.state.clear(id, 'restoring');
      return meta;
    }
    if (restoring.move) await giveLayerBack(host, host.layerOf(meta), id, restoring.imageDir);
    await host.teardown(id, meta.hostIf);
    return null;
  }
  return m;
}
