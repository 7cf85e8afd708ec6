/**
 * The container driver against the shared driver suite, with the real launcher, the real agent and the default template's
 * rootfs (built into the shared cache on first use).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerDriver } from './container.js';
import { SandboxCgroup, detectLayout } from './cgroups.js';
import { driverSuite, nsenterShell } from './driver-suite.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from './rootfs/debian.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const launcherPath = path.join(repo, 'build', 'tb-launch');
const agentPath = path.join(repo, 'build', 'envd');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'tb-driver-'));
const rootfs = path.join(stateDir, '..', `tb-driver-rootfs-${process.pid}`);

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(launcherPath) || !existsSync(agentPath)
      ? 'build/tb-launch or build/envd missing (npm run setup builds them)'
      : false;

if (!skip) {
  await buildDebianRootfs({
    dest: rootfs,
    ...DEFAULT_TEMPLATE_RECIPE,
    cacheDir: process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box',
  });
  process.on('exit', () => {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });
}

const hostLinks = new Map<string, string>();
const cgroupDirs = (id: string) => new SandboxCgroup(detectLayout(), 'tensor-box', id).dirs();

driverSuite({
  name: 'container',
  skip,
  layers: [rootfs],
  makeDriver: () => new ContainerDriver({ stateDir, launcherPath, agentPath }),
  makeBrokenDriver: () => new ContainerDriver({ stateDir, launcherPath, agentPath: '/bin/false' }),
  inside: (info, cmd, opts) => nsenterShell(info.pid, cmd, opts?.outside ? [] : cgroupDirs(info.sandboxId)),
  leftovers(id) {
    const found: string[] = [];
    try {
      hostLinks.set(id, JSON.parse(readFileSync(path.join(stateDir, id, 'meta.json'), 'utf8')).hostIf);
    } catch {
      /* not (or no longer) there */
    }
    const link = hostLinks.get(id);
    if (link && existsSync(`/sys/class/net/${link}`)) found.push(`link ${link}`);
    for (const d of cgroupDirs(id)) if (existsSync(d)) found.push(`cgroup ${d}`);
    if (existsSync(path.join(stateDir, id))) found.push(`state dir ${id}`);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      if (line.includes(path.join(stateDir, id))) found.push(`mount ${line.split(' ')[4]}`);
    }
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/tensor-box/${id}\n`)) found.push(`process ${pid}`);
      } catch {
        /* exited */
      }
    }
    return found;
  },
});
