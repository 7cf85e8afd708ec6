/** Bytes a set of directory trees occupies on disk (allocated blocks: checkpoint files are often sparse). */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function diskBytes(dirs: string[]): Promise<number> {
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p).catch(() => undefined);
    if (!st) return;
    total += st.blocks * 512;
    if (!st.isDirectory()) return;
    for (const name of await readdir(p).catch(() => [] as string[])) await walk(path.join(p, name));
  };
  for (const d of new Set(dirs)) await walk(d);
  return total;
}
