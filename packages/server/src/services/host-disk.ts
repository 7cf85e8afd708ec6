/**
 * The host disk a node's sandboxes write to: each sandbox's writable layer is a sparse disk image, so what the images
 * promise can exceed what the host holds. Policy: a free-space reserve the sandboxes never get (default the larger of
 * 2 GiB and 5% of the filesystem), and a start is refused (507, nothing made) unless the new sandbox could fill its
 * whole disk and still leave the reserve free — so no single sandbox can fill the host. `TENSOR_BOX_DISK_RESERVE_MB`
 * changes the reserve.
 */
import { mkdirSync, statfsSync } from 'node:fs';
import { ApiError } from '../errors.js';

const MiB = 1024 * 1024;

export interface HostDiskStatus {
  totalMB: number;
  freeMB: number;
  reserveMB: number;
}

export class HostDisk {
  constructor(
    private readonly dir: string,
    private readonly reserveMB?: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  status(): HostDiskStatus {
    const st = statfsSync(this.dir);
    const totalMB = Math.floor((st.blocks * st.bsize) / MiB);
    const freeMB = Math.floor((st.bavail * st.bsize) / MiB);
    const reserveMB = this.reserveMB ?? Math.max(2048, Math.ceil(totalMB * 0.05));
    return { totalMB, freeMB, reserveMB };
  }

  /** Throws insufficient_storage (507) unless `diskMB` more can be written while the reserve stays free. */
  ensureRoom(diskMB: number, what: string): void {
    const { freeMB, reserveMB } = this.status();
    if (freeMB - reserveMB >= diskMB) return;
    throw new ApiError(
      'insufficient_storage',
      `cannot start ${what}: its disk of ${diskMB} MiB does not fit on this node (${freeMB} MiB free, ` +
        `${reserveMB} MiB kept in reserve); use a template with a smaller diskSizeMB or free space on the host`,
    );
  }
}
