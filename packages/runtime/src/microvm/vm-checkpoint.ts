/**
 * A microVM sandbox's checkpoint directory (layout in snapshot.ts): writing one from a running VM — device state and
 * RAM streamed by QEMU, the disk copied when the VM runs on, `vm.json` with what the VM was started with and the
 * sandbox's spec, `checkpoint.json` last — and reading one back for a restore, with its checks.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CHECKPOINT_FORMAT, type CheckpointManifest } from '../checkpoint-files.js';
import { DriverError, type SandboxSpec } from '../driver.js';
import { resumeOrQuit, saveVm, snapshotFiles } from './snapshot.js';
import type { VmShape } from './template-snapshots.js';

const execFileP = promisify(execFile);

/** What a VM was started with: its shape, its disk size, and whether its RAM is the `mem` backend. */
export type VmRecord = VmShape & { diskMB: number; memoryBackend: boolean };

/** Copies a sparse disk image keeping its holes (a formatted blank is a few MB of data). */
export const sparseCopy = (from: string, to: string) => execFileP('cp', ['--sparse=always', from, to]);

/**
 * Stops the VM behind `qmpSocket` and writes its checkpoint into `dir` (made here; the disk is copied only with
 * `leaveRunning`, else the caller moves it in once QEMU has quit). The VM stays stopped for `resumeOrQuit`. On failure
 * the VM runs on and `dir` is removed.
 */
export async function writeVmCheckpoint(o: {
  sandboxId: string;
  qmpSocket: string;
  disk: string;
  dir: string;
  vm: VmRecord;
  spec: SandboxSpec;
  leaveRunning?: boolean;
}): Promise<void> {
  const files = snapshotFiles(o.dir);
  await rm(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true });
  try {
    await saveVm(o.qmpSocket, files.state, { ignoreShared: false });
    if (o.leaveRunning) await sparseCopy(o.disk, files.disk);
    writeFileSync(files.vm, JSON.stringify({ ...o.vm, spec: o.spec }));
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      driver: 'microvm',
      sandboxId: o.sandboxId,
      createdAt: new Date().toISOString(),
      layers: o.spec.layers,
      memoryBytes: statSync(files.state).size,
    };
    writeFileSync(path.join(o.dir, 'checkpoint.json'), JSON.stringify(manifest, null, 2));
  } catch (err) {
    await resumeOrQuit(o.qmpSocket, 'cont').catch(() => {});
    await rm(o.dir, { recursive: true, force: true });
    throw new DriverError('internal', `checkpoint of ${o.sandboxId} failed: ${(err as Error).message}`);
  }
}

/** Reads a microVM checkpoint: what its VM was started with and the spec it was saved with. */
export function readVmCheckpoint(imageDir: string): { vm: VmRecord; spec: SandboxSpec } {
  const files = snapshotFiles(imageDir);
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(imageDir, 'checkpoint.json'), 'utf8')) as CheckpointManifest;
  } catch {
    throw new DriverError('not_found', `no complete checkpoint in ${imageDir}`);
  }
  if (manifest.driver !== 'microvm' || !existsSync(files.vm) || !existsSync(files.state)) {
    const why = `the checkpoint in ${imageDir} is not a microVM's (${manifest.driver})`;
    throw new DriverError('failed_precondition', why);
  }
  const { spec, ...vm } = JSON.parse(readFileSync(files.vm, 'utf8')) as VmRecord & { spec: SandboxSpec };
  return { vm, spec };
}
