/**
 * User namespaces for the container driver (see docs/userns.md): which host IDs a sandbox's IDs map to, and the
 * launcher and CRIU options that follow from it. With a map, root inside a sandbox is host user `base` and user 1000
 * is `base + 1000` — unprivileged, owning nothing on the host, and not counted against any host user's limits.
 *
 * Every sandbox of a driver shares one range: a checkpoint's images carry the map, so a fork or a resume on another
 * network slot keeps it; per-sandbox ranges would need the images rewritten on every restore. Sandboxes are kept apart
 * from each other by their PID, mount, IPC and network namespaces (a shared ID cannot reach a process or file it
 * cannot see); the range keeps them apart from the host.
 */
import { readlinkSync, statSync } from 'node:fs';

/** Sandbox IDs 0..count-1 are host IDs base..base+count-1 (uids and gids alike). */
export interface IdMap {
  base: number;
  count: number;
}

/**
 * The default range: 65536 IDs (every ID a distribution uses, `nobody` 65534 included) from 2,000,000,000 — above the
 * ranges useradd hands out in /etc/subuid (from 100000) and systemd's dynamic and container ranges, below 2^31.
 */
export const DEFAULT_ID_MAP: IdMap = { base: 2_000_000_000, count: 65536 };

/**
 * Device nodes a sandbox in a user namespace gets as binds of the host's (it cannot make them); see native/mounts.c.
 */
const BOUND_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Validates a configured map: whole numbers, the range inside 32-bit IDs, not host root's. */
export function checkIdMap(map: IdMap): IdMap {
  const ok = (n: number) => Number.isInteger(n) && n > 0;
  if (!ok(map.base) || !ok(map.count) || map.count < 65536 || map.base + map.count > 2 ** 32 - 1) {
    const range = `base=${map.base} count=${map.count}`;
    throw new Error(`invalid user namespace range ${range} (count >= 65536, inside 32 bits)`);
  }
  return map;
}

/** The launcher's options for a sandbox with this map (none without one). */
export function launcherIdArgs(map?: IdMap): string[] {
  return map ? ['--uid-base', String(map.base), '--uid-count', String(map.count)] : [];
}

/**
 * CRIU dump options for the sandbox's network namespace and host-bound mounts. Without a map the netns is external
 * (the launcher makes a fresh one for the restore). With one, the netns belongs to the sandbox's user namespace, which
 * only CRIU can recreate: it is dumped empty and the launcher wires the new one during the restore; the bound device
 * nodes are external mounts.
 */
export function dumpNamespaceArgs(pid: number, map?: IdMap): string[] {
  if (!map) return ['--external', `net[${statSync(`/proc/${pid}/ns/net`).ino}]:extnet`];
  return ['--empty-ns', 'net', ...BOUND_DEVICES.flatMap((d) => ['--external', `mnt[/dev/${d}]:dev-${d}`])];
}

/** Whether a process runs in another user namespace than ours (then `nsenter` must enter it too). */
export function inOtherUserNamespace(pid: number): boolean {
  return readlinkSync(`/proc/${pid}/ns/user`) !== readlinkSync('/proc/self/ns/user');
}
