/**
 * QEMU snapshots through migration, with the guest's RAM in a file of its own (Firecracker's memory file idea):
 *
 *   <snapshot dir>/mem       guest RAM (the VM ran with it as a shared memory-backend-file)
 *   <snapshot dir>/state     the device state stream (`migrate` with x-ignore-shared: tens of KB, RAM left out)
 *   <snapshot dir>/disk.img  the writable disk as it was when the VM stopped
 *   <snapshot dir>/vm.json   what the VM was started with (layers, memoryMB, cpuCount, diskMB, accel, kernel, initrd)
 *
 * Saving: `stop`, `migrate exec:cat > state`, `quit`; QEMU flushes the disk before it exits. Loading: the same device
 * list with `-incoming defer`, RAM mapped privately from `mem` (copy-on-write: any number of VMs share one snapshot),
 * `migrate-incoming exec:cat state`; the VM runs on as soon as the stream is in.
 *
 * A sandbox's checkpoint (pause, snapshot) has the same layout without `mem`: its RAM is in `state` (a restored VM's
 * RAM is a private mapping, so the whole of it is streamed), `vm.json` also holds the sandbox's spec, and
 * `checkpoint.json` (checkpoint-files.ts, `driver: 'microvm'`) marks it complete for the control plane.
 */
import path from 'node:path';
import { Qmp } from './qmp.js';

export const snapshotFiles = (dir: string) => ({
  mem: path.join(dir, 'mem'),
  state: path.join(dir, 'state'),
  disk: path.join(dir, 'disk.img'),
  vm: path.join(dir, 'vm.json'),
});

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `ignoreShared`: leave RAM that is a shared file out of the stream (the file is the snapshot's memory). */
export interface MigrationOptions {
  ignoreShared: boolean;
  timeoutMs?: number;
}

const ignoreShared = (on: boolean) => ({ capabilities: [{ capability: 'x-ignore-shared', state: on }] });

/**
 * Stops the VM behind `qmpSocket` and writes its device state (and, without `ignoreShared`, all of its RAM) to
 * `stateFile`; the VM stays stopped (`resumeOrQuit` next). QEMU flushes and lets go of the disks when it completes.
 */
export async function saveVm(qmpSocket: string, stateFile: string, o: MigrationOptions): Promise<void> {
  const qmp = await Qmp.connect(qmpSocket);
  try {
    await qmp.execute('stop');
    await qmp.execute('migrate-set-capabilities', ignoreShared(o.ignoreShared));
    await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(stateFile)}` });
    await qmp.waitMigration(o.timeoutMs ?? 120_000);
  } finally {
    qmp.close();
  }
}

/** Lets a stopped VM run again (after a live snapshot), or ends its QEMU. */
export async function resumeOrQuit(qmpSocket: string, what: 'cont' | 'quit'): Promise<void> {
  const qmp = await Qmp.connect(qmpSocket);
  try {
    await qmp.execute(what).catch((err: Error) => {
      if (what === 'cont') throw err; // quit: the socket may close before the answer
    });
  } finally {
    qmp.close();
  }
}

/** Loads `stateFile` into a QEMU started with `-incoming defer` and lets the VM run. */
export async function loadVm(qmpSocket: string, stateFile: string, o: MigrationOptions): Promise<void> {
  const qmp = await Qmp.connect(qmpSocket);
  try {
    await qmp.execute('migrate-set-capabilities', ignoreShared(o.ignoreShared));
    await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(stateFile)}` });
    await qmp.waitMigration(o.timeoutMs ?? 120_000);
    const st = await qmp.execute<{ status: string }>('query-status');
    if (st.status !== 'running') await qmp.execute('cont');
  } finally {
    qmp.close();
  }
}
