/**
 * The microvm driver against the shared driver suite (real QEMU guests — under TCG on hosts without a usable KVM —
 * with the real agent and the default template's rootfs), plus the VM boundary: the guest runs its own kernel and sees
 * none of the host's processes or mounts. The suite's sandboxes share one template snapshot per VM shape.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SandboxCgroup, detectLayout } from '../cgroups.js';
import { driverSuite } from '../driver-suite.js';
import type { DriverError, SandboxRuntimeInfo } from '../driver.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from '../rootfs/debian.js';
import { CONNECT_HEADERS, connectRequest, parseConnectStream } from './guest-exec.js';
import { MicroVmDriver } from './microvm-driver.js';
import { netnsPath } from './vm-network.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const launcherPath = path.join(repo, 'build', 'tb-launch');
const agentPath = path.join(repo, 'build', 'envd');
const cacheDir = process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box';
const guestDir = path.join(cacheDir, 'microvm', 'guest');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'tb-microvm-'));
const rootfs = path.join(stateDir, '..', `tb-microvm-rootfs-${process.pid}`);

const hasQemu = (() => {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(launcherPath) || !existsSync(agentPath)
      ? 'build/tb-launch or build/envd missing (npm run setup builds them)'
      : !hasQemu || !existsSync(path.join(guestDir, 'vmlinuz'))
        ? 'QEMU or the microVM guest missing (packages/runtime/setup.sh installs them)'
        : false;

if (!skip) {
  await buildDebianRootfs({ dest: rootfs, ...DEFAULT_TEMPLATE_RECIPE, cacheDir });
  process.on('exit', () => {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });
}

const makeDriver = (agent = agentPath) =>
  new MicroVmDriver({ stateDir, guestDir, agentPath: agent, initPath: launcherPath, log: (m) => console.error(m) });

/** Runs `cmd` as root in the guest through its agent (synchronously, via curl); throws on a non-zero exit. */
function guestShell(info: SandboxRuntimeInfo, cmd: string): string {
  const headers = Object.entries(CONNECT_HEADERS).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const body = execFileSync(
    'curl',
    ['-sS', '--max-time', '60', '-X', 'POST', '--data-binary', '@-', ...headers, `${info.envdUrl}/${START}`],
    { input: connectRequest(cmd), maxBuffer: 64 << 20 },
  );
  const r = parseConnectStream(body);
  if (r.exitCode !== 0) throw new Error(`'${cmd}' exited with ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

const START = 'process.Process/Start';
const hostLinks = new Map<string, string>();
const cgroupDirs = (id: string) => new SandboxCgroup(detectLayout(), 'tensor-box', id).dirs();

driverSuite({
  name: 'microvm',
  skip,
  layers: [rootfs],
  makeDriver: () => makeDriver(),
  makeBrokenDriver: () => makeDriver('/bin/false'),
  inside: (info, cmd) => guestShell(info, cmd),
  checkpointFile: () => undefined,
  leftovers(id) {
    const found: string[] = [];
    try {
      hostLinks.set(id, JSON.parse(readFileSync(path.join(stateDir, id, 'meta.json'), 'utf8')).hostIf);
    } catch {
      /* not (or no longer) there */
    }
    const link = hostLinks.get(id);
    if (link && existsSync(`/sys/class/net/${link}`)) found.push(`link ${link}`);
    if (existsSync(netnsPath(id))) found.push(`netns ${netnsPath(id)}`);
    for (const d of cgroupDirs(id)) if (existsSync(d)) found.push(`cgroup ${d}`);
    if (existsSync(path.join(stateDir, id))) found.push(`state dir ${id}`);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmdline.startsWith('qemu') && cmdline.includes(path.join(stateDir, id) + '/')) found.push(`qemu ${pid}`);
      } catch {
        /* exited */
      }
    }
    return found;
  },
});

describe('microvm driver: the VM boundary', { skip }, () => {
  const driver = makeDriver();
  const made: string[] = [];
  after(async () => {
    for (const id of made) await driver.destroy(id);
  });

  it('runs its own kernel and sees none of the host processes or mounts', async () => {
    const id = `mb${process.pid.toString(36)}`;
    made.push(id);
    const spec = { sandboxId: id, layers: [rootfs], cpuCount: 1, memoryMB: 256, diskMB: 0, internetAccess: false };
    const info = await driver.create(spec);
    const guestKernel = path.basename(realpathSync(guestDir)).replace(/^guest-/, '');
    assert.equal(guestShell(info, 'uname -r').trim(), guestKernel);
    assert.notEqual(guestKernel, os.release());
    // No host process: not this test runner, not the VM's own QEMU.
    const procs = guestShell(info, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "; echo');
    assert.doesNotMatch(procs, /node|qemu/);
    // No host mount: not the state dir, not the host's root device.
    const mounts = guestShell(info, 'cat /proc/mounts');
    assert.doesNotMatch(mounts, new RegExp(stateDir));
    assert.match(mounts, /^overlay \/ overlay/m);
    // Root in the guest cannot reach QEMU's control socket or the host's files: they are not there.
    assert.equal(guestShell(info, `ls ${path.join(stateDir, id)} 2>&1 >/dev/null | wc -l`).trim(), '1');
    // Even with raw block access the guest sees only its own disks.
    const serials = guestShell(info, 'for s in /sys/block/vd*/serial; do cat $s; echo; done | sort | tr "\\n" " "');
    assert.equal(serials, 'tbdisk tblayer0 ');
    // Its memory is the VM's RAM, not the host's.
    const memTotalKB = Number(/MemTotal:\s+(\d+)/.exec(guestShell(info, 'cat /proc/meminfo'))?.[1]);
    assert.ok(memTotalKB > 128 * 1024 && memTotalKB <= 256 * 1024, `guest MemTotal ${memTotalKB} kB`);
    // Root inside writing to the serial console fills nothing on the host.
    guestShell(info, 'head -c 300000 /dev/zero > /dev/ttyS0');
    const dir = path.join(stateDir, id);
    const logs = readdirSync(dir).filter((f) => f !== 'disk.img');
    const hostBytes = logs.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    assert.ok(hostBytes < 100_000, `${hostBytes} bytes of logs on the host`);
    console.error(`microvm accelerator: ${await driver.accel()}`);
  });

  it('refuses a host name that would reach the guest kernel command line or a shell, leaving nothing', async () => {
    const id = `mh${process.pid.toString(36)}`;
    const spec = { sandboxId: id, layers: [rootfs], cpuCount: 1, memoryMB: 256, diskMB: 0, internetAccess: false };
    for (const hostname of ['x tb.layers=0 init=/bin/sh', "x'; reboot -f; '"]) {
      await assert.rejects(driver.create({ ...spec, hostname }), (e: DriverError) => e.kind === 'invalid_argument');
      assert.equal(existsSync(path.join(stateDir, id)), false);
      assert.equal(existsSync(netnsPath(id)), false);
    }
  });
});
