/**
 * Restores of container sandboxes (the Checkpointer's `restore`): the same processes continue where they were, on a
 * fresh network slot (listening sockets accept again; established connections are closed). `move` consumes the
 * checkpoint's writable layer (resume); otherwise it is copied and the checkpoint stays reusable (snapshots, fork).
 * A restore marker (state-dir.ts `restoring.json`, written before anything is consumed) lets a restarted control plane
 * adopt a sandbox restored while it was down or give the layer back (recovery.ts); a failed restore gives it back too.
 */
import path from 'node:path';
import { criuErrors, readManifest, waitForAgent } from '../checkpoint-files.js';
import { DriverError, type SandboxMount, type SandboxRuntimeInfo, type SandboxSpec } from '../driver.js';
import { criuPath } from './checkpoint.js';
import { vethRace, type Link } from './network.js';
import { ENVD_PORT, type SandboxHost } from './sandbox-host.js';
import { WritableLayer } from './writable-layer.js';

export async function restore(host: SandboxHost, spec: SandboxSpec, imageDir: string, move: boolean) {
  const criu = criuPath(host);
  const manifest = readManifest(imageDir);
  if (manifest.memory === false) {
    throw new DriverError('failed_precondition', `the checkpoint in ${imageDir} has no memory to restore; boot it`);
  }
  if (spec.layers.length === 0) spec = { ...spec, layers: manifest.layers };
  spec = { ...spec, mounts: mountsInCheckpointOrder(spec, manifest.mounts ?? []) };
  host.checkNew(spec);
  if (spec.layers.join(':') !== manifest.layers.join(':')) {
    const on = spec.layers.join(':');
    host.opts.log?.(`container: restoring ${manifest.sandboxId} as ${spec.sandboxId} on layers ${on}`);
  }
  const extra = [
    '--images',
    path.join(imageDir, 'criu'),
    '--criu',
    criu,
    '--criu-work',
    host.state.dir(spec.sandboxId),
    ...(host.opts.lazyPages === false ? [] : ['--lazy-pages']),
  ];
  const kind = WritableLayer.kindForRestore(imageDir, spec, host.diskQuota);
  return host.network.withLink(spec, async (link: Link): Promise<SandboxRuntimeInfo> => {
    const dir = host.state.prepare(spec.sandboxId);
    const layer = host.newLayer(spec.sandboxId, kind);
    try {
      // A control-plane crash mid-resume must not lose the sandbox: list() adopts it or gives the layer back.
      const pending = host.meta(spec, link, layer, 0, manifest.idMap);
      host.state.writeRestoring(spec.sandboxId, { imageDir, move, meta: pending });
      const disk = await layer.prepareFrom(imageDir, spec.diskMB, move);
      host.createCgroup(spec);
      // Before the launch, unlike create: restored processes run at once. Known gap: should another server on this
      // host take the same link name in between (the launch then fails with a name clash), these rules replaced its.
      await host.network.applyEgress(link.hostIf, link.sandboxIp, spec.egress);
      let pid: number;
      try {
        pid = await host.launch('restore', spec, link, layer, disk, manifest.idMap, extra);
      } catch (err) {
        const why = criuErrors(path.join(dir, 'restore.log'));
        const msg = `restore of ${spec.sandboxId} failed: ${(err as Error).message}${why ? `: ${why}` : ''}`;
        throw new DriverError('internal', msg);
      }
      const meta = host.meta(spec, link, layer, pid, manifest.idMap);
      host.state.writeMeta(meta);
      await host.state.clear(spec.sandboxId, 'restoring');
      await waitForAgent(`http://${link.sandboxIp}:${ENVD_PORT}/health`, 5000);
      return host.info(meta);
    } catch (err) {
      // Give a consumed layer back, so a failed resume loses nothing.
      if (move) await giveLayerBack(host, layer, spec.sandboxId, imageDir).catch(() => {});
      await host.teardown(spec.sandboxId, vethRace(err) ? undefined : link.hostIf).catch(() => {});
      if (err instanceof DriverError) throw err;
      throw new DriverError('internal', `restore of ${spec.sandboxId} failed: ${(err as Error).message}`);
    }
  });
}

/** After a failed or interrupted resume that consumed the checkpoint's layer: puts it back into the checkpoint. */
export async function giveLayerBack(host: SandboxHost, layer: WritableLayer, sandboxId: string, imageDir: string) {
  await host.unmountRoot(sandboxId).catch(() => {});
  await layer.giveBack(imageDir);
}

/**
 * The spec's mounts in the order the checkpoint names them (CRIU's `vol-<i>`): each mount it was taken with must be
 * given again, and no other (a mount CRIU does not know of could not be put into the restored mount namespace).
 */
function mountsInCheckpointOrder(spec: SandboxSpec, paths: string[]): SandboxMount[] {
  const given = new Map((spec.mounts ?? []).map((v) => [v.sandboxPath, v]));
  const out = paths.map((p) => {
    const v = given.get(p);
    if (!v) throw new DriverError('invalid_argument', `the checkpoint has a volume at ${p}: it must be mounted again`);
    return v;
  });
  if (given.size !== out.length) {
    const extra = [...given.keys()].filter((p) => !paths.includes(p));
    throw new DriverError('invalid_argument', `the checkpoint has no volume at ${extra.join(', ')}`);
  }
  return out;
}
