/**
 * The binaries every sandbox gets — envd, and the launcher itself as tb-init — staged on a host-wide tmpfs
 * (`/run/tensor-box-bin`) under a directory named by their content. A sandbox sees its bind mounts of them in
 * /proc/self/mountinfo, whose fields name the source file system and the file's path on it: staged, that is
 * `tmpfs` and `/<digest>/envd` instead of the host's disk (`/dev/vda`) and the checkout's path. The driver then runs
 * the staged launcher, so the launcher's own path (what it binds as tb-init) is staged too.
 *
 * Staged copies are never removed while the host runs: a sandbox (or a paused one, resumed later) may still hold a
 * bind of them, and unlinking a file that is a mount point elsewhere would detach it there. A new build adds one
 * directory (about 11 MB of memory for envd and the launcher).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';

export const STAGE_DIR = '/run/tensor-box-bin';

function isMountPoint(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir);
}

function stageOne(src: string, name: string, into: string): string {
  const dest = path.join(into, name);
  if (existsSync(dest)) return dest;
  const tmp = `${dest}.${process.pid}.tmp`;
  copyFileSync(src, tmp);
  execFileSync('chmod', ['0755', tmp]);
  renameSync(tmp, dest); // atomic: another driver staging the same content at the same time is harmless
  return dest;
}

/**
 * Copies the launcher and the agent to the staging tmpfs (mounting it first when needed) and returns their staged
 * paths. Falls back to the given paths (and says why through `log`) when the tmpfs cannot be made.
 */
export function stageBinaries(
  launcherPath: string,
  agentPath: string,
  log?: (m: string) => void,
): { launcherPath: string; agentPath: string } {
  try {
    if (!isMountPoint(STAGE_DIR)) {
      mkdirSync(STAGE_DIR, { recursive: true, mode: 0o755 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755,nodev,nosuid,size=512m', 'tensor-box-bin', STAGE_DIR]);
    }
    const hash = createHash('sha256');
    for (const f of [launcherPath, agentPath]) hash.update(readFileSync(f));
    const dir = path.join(STAGE_DIR, hash.digest('hex').slice(0, 16));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return { launcherPath: stageOne(launcherPath, 'tb-launch', dir), agentPath: stageOne(agentPath, 'envd', dir) };
  } catch (err) {
    const why = (err as Error).message;
    log?.(`container: cannot stage the sandbox binaries on ${STAGE_DIR} (${why}); sandboxes see their host paths`);
    return { launcherPath, agentPath };
  }
}
