/**
 * What a microVM boots from, derived once and cached under `<stateDir>/.microvm/`:
 * - `layers/<key>.ext4`: each read-only template layer directory as an ext4 image (attached read-only; overlayfs
 *   whiteouts and opaque dirs are ordinary device nodes and xattrs, which `mkfs.ext4 -d` copies). Layers never change
 *   once made, so the key is the directory's identity (device, inode, mtime).
 * - `initrd-<key>.img`: the guest's base initramfs (packages/runtime/microvm/build-guest.sh) with the agent (envd) and
 *   tb-init appended as a second cpio archive, which the kernel unpacks over the first.
 * Concurrent callers of one key share one build; files appear by rename, so a crash leaves no half-made image.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const hash = (s: string | Buffer) => createHash('sha256').update(s).digest('hex').slice(0, 20);

export class GuestImages {
  private readonly building = new Map<string, Promise<string>>();
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, '.microvm');
    mkdirSync(path.join(this.dir, 'layers'), { recursive: true });
  }

  private once(key: string, make: () => Promise<string>): Promise<string> {
    let p = this.building.get(key);
    if (!p) {
      p = make().finally(() => this.building.delete(key));
      this.building.set(key, p);
    }
    return p;
  }

  /** The ext4 image of one layer directory. */
  layerImage(layerDir: string): Promise<string> {
    const st = statSync(layerDir);
    const identity = `${path.resolve(layerDir)}:${st.dev}:${st.ino}:${st.mtimeMs}`;
    const file = path.join(this.dir, 'layers', `${hash(identity)}.ext4`);
    if (existsSync(file)) return Promise.resolve(file);
    return this.once(file, async () => {
      const { stdout } = await execFileP('du', ['-sxb', layerDir], { maxBuffer: 1 << 20 });
      const bytes = Number(stdout.split('\t')[0]) || 0;
      const sizeMB = Math.ceil((bytes * 1.25) / 2 ** 20) + 64;
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await execFileP('truncate', ['-s', `${sizeMB}M`, tmp]);
        await execFileP('mkfs.ext4', ['-q', '-F', '-m', '0', '-i', '8192', '-O', '^has_journal', '-d', layerDir, tmp], {
          maxBuffer: 16 << 20,
        });
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return file;
    });
  }

  /** The guest initramfs with this agent and tb-init in it. */
  initrd(baseCpio: string, agentPath: string, initPath: string): Promise<string> {
    const key = hash(Buffer.concat([readFileSync(baseCpio), readFileSync(agentPath), readFileSync(initPath)]));
    const file = path.join(this.dir, `initrd-${key}.img`);
    if (existsSync(file)) return Promise.resolve(file);
    return this.once(file, async () => {
      const work = mkdtempSync(path.join(this.dir, 'agent-'));
      try {
        mkdirSync(path.join(work, 'agent'));
        await copyFile(agentPath, path.join(work, 'agent', 'envd'));
        await copyFile(initPath, path.join(work, 'agent', 'tb-init'));
        const agentCpio = path.join(work, 'agent.cpio.gz');
        const pack = 'cd "$0" && find agent | cpio -o -H newc --quiet | gzip -1 > "$1"';
        await execFileP('bash', ['-c', pack, work, agentCpio]);
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, Buffer.concat([readFileSync(baseCpio), readFileSync(agentCpio)]));
        await rename(tmp, file);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return file;
    });
  }
}
