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

/** Stops the VM behind `qmpSocket`, writes its device state to `stateFile`, and ends QEMU. */
export async function saveVm(qmpSocket: string, stateFile: string, timeoutMs = 60_000): Promise<void> {
  const qmp = await Qmp.connect(qmpSocket);
  try {
    await qmp.execute('stop');
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(stateFile)}` });
    await qmp.waitMigration(timeoutMs);
    await qmp.execute('quit').catch(() => {});
  } finally {
    qmp.close();
  }
}

/** Loads `stateFile` into a QEMU started with `-incoming defer` and lets the VM run. */
export async function loadVm(qmpSocket: string, stateFile: string, timeoutMs = 60_000): Promise<void> {
  const qmp = await Qmp.connect(qmpSocket);
  try {
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(stateFile)}` });
    await qmp.waitMigration(timeoutMs);
    const st = await qmp.execute<{ status: string }>('query-status');
    if (st.status !== 'running') await qmp.execute('cont');
  } finally {
    qmp.close();
  }
}
