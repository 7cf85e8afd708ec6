/**
 * Filesystem-only pause of container sandboxes (the FilesystemPauser, E2B's `keepMemory: false`). `pauseFilesystem`:
 * no CRIU dump — the sandbox is frozen, its writable layer moves into the image as a memory pause's does
 * (checkpoint.ts `finishPause`), and the teardown kills every process of its cgroup (a double-forked daemon too: the
 * cgroup and the PID namespace go), frees its memory and its network slot. The manifest says `memory: false`.
 * `boot`: the sandbox starts afresh on that layer — `tb-launch create` (a new init, agent and PID namespace, so a new
 * boot) on the checkpoint's layers and user namespace map — behind the same `restoring.json` marker a restore uses,
 * so a crash mid-boot is adopted or undone by recovery.ts, and a failed boot gives the layer back.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { readManifest } from '../checkpoint-files.js';
import { DriverError, type SandboxRuntimeInfo, type SandboxSpec } from '../driver.js';
import { finishPause } from './checkpoint.js';
import { vethRace, type Link } from './network.js';
import { giveLayerBack } from './restore.js';
import type { SandboxHost } from './sandbox-host.js';
import { WritableLayer } from './writable-layer.js';

export async function pauseFilesystem(host: SandboxHost, sandboxId: string, imageDir: string): Promise<void> {
  const m = host.running(sandboxId);
  if (existsSync(imageDir)) {
    throw new DriverError('failed_precondition', `checkpoint directory ${imageDir} already exists`);
  }
  mkdirSync(imageDir, { recursive: true });
  // From here on the pause completes even across a control-plane crash (recovery.ts): nothing of it runs again.
  host.state.writePausing(sandboxId, { imageDir, memory: false });
  // Frozen while the layer moves: nothing writes after the moment the image holds; the teardown kills them all.
  await host.cgroup(sandboxId).freeze();
  await finishPause(host, m, imageDir, undefined, false);
}

export async function boot(host: SandboxHost, spec: SandboxSpec, imageDir: string, move: boolean) {
  const manifest = readManifest(imageDir);
  if (spec.layers.length === 0) spec = { ...spec, layers: manifest.layers };
  host.checkNew(spec);
  const kind = WritableLayer.kindForRestore(imageDir, spec, host.diskQuota);
  return host.network.withLink(spec, async (link: Link): Promise<SandboxRuntimeInfo> => {
    host.state.prepare(spec.sandboxId);
    const layer = host.newLayer(spec.sandboxId, kind);
    try {
      const pending = host.meta(spec, link, layer, 0, manifest.idMap);
      host.state.writeRestoring(spec.sandboxId, { imageDir, move, meta: pending });
      const disk = await layer.prepareFrom(imageDir, spec.diskMB, move);
      host.createCgroup(spec);
      // The files keep their owners: the same user namespace map as the sandbox had.
      const pid = await host.launch('create', spec, link, layer, disk, manifest.idMap, host.bootArgs(spec));
      // Rules after the launch made the link ours, as in create (only our agent runs until the server's set-up).
      await host.network.applyEgress(link.hostIf, link.sandboxIp, spec.egress);
      const meta = host.meta(spec, link, layer, pid, manifest.idMap);
      host.state.writeMeta(meta);
      await host.state.clear(spec.sandboxId, 'restoring');
      return host.info(meta);
    } catch (err) {
      if (move) await giveLayerBack(host, layer, spec.sandboxId, imageDir).catch(() => {});
      await host.teardown(spec.sandboxId, vethRace(err) ? undefined : link.hostIf).catch(() => {});
      if (err instanceof DriverError) throw err;
      throw new DriverError('internal', `boot of ${spec.sandboxId} failed: ${(err as Error).message}`);
    }
  });
}
