/**
 * Content-addressed blob cache: `<cacheDir>/blobs/sha256/<hex>`. A blob is downloaded into a temporary file beside its
 * final name while its sha256 is computed, synced, and renamed into place only when the digest (and the size the
 * manifest promised) match — so a file under its final name is always complete and verified, and a cache hit needs no
 * rehashing. Leftover temporary files of dead processes are removed when the same blob is fetched again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../driver.js';
import type { Descriptor } from './manifest.js';
import { bodyChunks, type RegistryClient, unreachable } from './registry-client.js';

/** A download that receives nothing for this long is abandoned (a stalled registry must not hang a build forever). */
const IDLE_TIMEOUT_MS = 60_000;

export const hexOf = (digest: string) => digest.slice('sha256:'.length);

/** Removes `<name>.tmp-<pid>-*` leftovers in `dir` whose process is gone. */
export async function removeStaleTemps(dir: string, name: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = new RegExp(`^${name}\\.tmp-(\\d+)-`).exec(e);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      await rm(path.join(dir, e), { recursive: true, force: true });
    }
  }
}

export const tempName = (name: string) => `${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

export class BlobCache {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'blobs', 'sha256');
  }

  path(digest: string): string {
    return path.join(this.dir, hexOf(digest));
  }

  /** Whether the blob is cached (and, when the descriptor knows its size, has that size). */
  async has(d: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    try {
      const st = await stat(this.path(d.digest));
      return d.size < 0 || st.size === d.size;
    } catch {
      return false;
    }
  }

  /**
   * Downloads a blob of `repository` into the cache (unless it is there) and returns its path. `onBytes` gets the
   * running byte count. A digest or size mismatch throws `failed_precondition` and caches nothing.
   */
  async fetch(
    client: RegistryClient,
    repository: string,
    d: Descriptor,
    onBytes?: (bytes: number) => void,
  ): Promise<string> {
    const final = this.path(d.digest);
    if (await this.has(d)) return final;
    await mkdir(this.dir, { recursive: true });
    await removeStaleTemps(this.dir, hexOf(d.digest));
    const what = `blob ${d.digest} of ${repository}`;
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), IDLE_TIMEOUT_MS);
    const tmp = path.join(this.dir, tempName(hexOf(d.digest)));
    const fh = await open(tmp, 'wx', 0o644);
    let ok = false;
    try {
      const res = await client.get(`/v2/${repository}/blobs/${d.digest}`, {
        scope: `repository:${repository}:pull`,
        signal: abort.signal,
      });
      if (!res.ok) throw await client.fail(res, what);
      const hash = createHash('sha256');
      let bytes = 0;
      try {
        for await (const buf of bodyChunks(res)) {
          clearTimeout(timer);
          timer = setTimeout(() => abort.abort(), IDLE_TIMEOUT_MS);
          bytes += buf.length;
          if (d.size >= 0 && bytes > d.size)
            throw new DriverError(
              'failed_precondition',
              `registry ${client.host} sent more than the ${d.size} bytes of ${what}`,
            );
          hash.update(buf);
          let off = 0;
          while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
          onBytes?.(bytes);
        }
      } catch (err) {
        if (err instanceof DriverError) throw err;
        throw unreachable(
          `registry ${client.host} (downloading ${what})`,
          abort.signal.aborted ? Object.assign(new Error('idle'), { name: 'TimeoutError' }) : err,
        );
      }
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== d.digest)
        throw new DriverError(
          'failed_precondition',
          `registry ${client.host} sent ${what} with digest ${got} (corrupt or tampered)`,
        );
      if (d.size >= 0 && bytes !== d.size)
        throw new DriverError(
          'failed_precondition',
          `registry ${client.host} sent ${bytes} of the ${d.size} bytes of ${what}`,
        );
      await fh.sync();
      ok = true;
    } finally {
      clearTimeout(timer);
      await fh.close();
      if (!ok) await rm(tmp, { force: true });
    }
    await rename(tmp, final);
    return final;
  }
}
