/**
 * Template layers on a node's own disk. A cluster keeps templates on its shared store (NFS, GlusterFS, CephFS, ...),
 * but overlayfs cannot stack idmapped lower layers from such file systems (and should not page a sandbox's binaries
 * over the network). `resolve()` maps each layer that lives on a network or FUSE file system to a local copy, made
 * once per layer and node (layers never change once built: a rebuild writes a new directory), and leaves layers on
 * local file systems as they are. Copies are made in a temp dir and renamed into place, so a crash leaves no half copy.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** statfs f_type of file systems whose files are not on this machine's disks. */
const REMOTE_FS = new Set([
  0x65735546, // FUSE (GlusterFS, JuiceFS, sshfs, ...)
  0x6969, // NFS
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x00c36400, // CephFS
  0x01021997, // 9p
  0x47504653, // GPFS
  0x0bd00bd0, // Lustre
]);

export function isRemoteFs(dir: string): boolean {
  return REMOTE_FS.has(Number(statfsSync(dir).type));
}

export class LayerCache {
  private readonly pending = new Map<string, Promise<string>>();
  /** Whether each layer path seen is on a remote file system (asked once: layers never move). */
  private readonly remote = new Map<string, boolean>();

  constructor(private readonly dir: string) {}

  /** The layers as the launcher should mount them: local copies of remote ones, the others unchanged. */
  async resolve(layers: string[]): Promise<string[]> {
    return Promise.all(layers.map((l) => (this.isRemote(l) ? this.local(l) : l)));
  }

  private isRemote(layer: string): boolean {
    let r = this.remote.get(layer);
    if (r === undefined) this.remote.set(layer, (r = isRemoteFs(layer)));
    return r;
  }

  private local(layer: string): Promise<string> {
    const dest = path.join(this.dir, createHash('sha256').update(path.resolve(layer)).digest('hex').slice(0, 24));
    if (existsSync(dest)) return Promise.resolve(dest);
    let p = this.pending.get(dest);
    if (!p) {
      p = this.copy(layer, dest).finally(() => this.pending.delete(dest));
      this.pending.set(dest, p);
    }
    return p;
  }

  private async copy(layer: string, dest: string): Promise<string> {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${dest}.partial-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    try {
      // cp -a keeps what a layer needs: owners, modes, xattrs (opaque dirs), whiteouts, hard links.
      await execFileP('cp', ['-a', layer, tmp], { maxBuffer: 16 << 20 });
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (existsSync(dest)) return dest; // another process of this node made it meanwhile
      throw new Error(`cannot copy template layer ${layer} to this node: ${(err as Error).message}`);
    }
    return dest;
  }
}
