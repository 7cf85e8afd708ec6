/**
 * Puts a copy of a cached directory tree at `dest`: hard links when both are on one file system (instant, no space),
 * a real copy (`cp -a`, reflinks where the file system has them) when `dest` is on another one — e.g. a template
 * directory on a cluster's shared store while the cache is on the node's local disk.
 */
import { statSync } from 'node:fs';
import path from 'node:path';

/** `cp` arguments for copying `src` to `dest` (whose parent must exist). */
export function linkTreeArgs(src: string, dest: string): string[] {
  const sameFs = statSync(src).dev === statSync(path.dirname(dest)).dev;
  return sameFs ? ['-al', src, dest] : ['-a', '--reflink=auto', src, dest];
}
