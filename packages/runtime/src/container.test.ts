/**
 * The container driver against the shared driver suite, with the real launcher, the real agent and the default
 * template's rootfs (built into the shared cache on first use).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerDriver } from './container.js';
import { EgressFirewall } from './egress.js';
import { SandboxCgroup, detectLayout } from './cgroups.js';
import { driverSuite, nsenterShell } from './driver-suite.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from './rootfs/debian.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const launcherPath = path.join(repo, 'build', 'tb-launch');
const agentPath = path.join(repo, 'build', 'envd');
const criuPath = path.join(repo, 'build', 'criu');
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
/** The host's firewall rules (nftables: egress rules per link; iptables: the shared sandbox chains). */
const firewallRules = () =>
  ['nft list ruleset', 'iptables-save']
    .map((cmd) => {
      try {
        return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return '';
      }
    })
    .join('\n');

/** What of a sandbox is on the host: its link and its firewall entries, cgroups, state, mounts, loops, processes. */
function leftovers(id: string, rules = firewallRules()): string[] {
  const found: string[] = [];
  try {
    hostLinks.set(id, JSON.parse(readFileSync(path.join(stateDir, id, 'meta.json'), 'utf8')).hostIf);
  } catch {
    /* not (or no longer) there */
  }
  const link = hostLinks.get(id);
  if (link && existsSync(`/sys/class/net/${link}`)) found.push(`link ${link}`);
  if (link && new RegExp(`\\b${link}\\b`).test(rules)) found.push(`firewall entries of ${link}`);
  for (const d of cgroupDirs(id)) if (existsSync(d)) found.push(`cgroup ${d}`);
  if (existsSync(path.join(stateDir, id))) found.push(`state dir ${id}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(path.join(stateDir, id))) found.push(`mount ${line.split(' ')[4]}`);
  }
  for (const dev of readdirSync('/sys/block').filter((d) => d.startsWith('loop'))) {
    try {
      const backing = readFileSync(`/sys/block/${dev}/loop/backing_file`, 'utf8').trim();
      if (backing.includes(path.join(stateDir, id) + '/')) found.push(`loop device ${dev} (${backing})`);
    } catch {
      /* not attached */
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/tensor-box/${id}\n`)) found.push(`process ${pid}`);
    } catch {
      /* exited */
    }
  }
  return found;
}

driverSuite({
  name: 'container',
  skip,
  layers: [rootfs],
  // With a disk pool, as the server runs it (the suite closes the driver it made).
  makeDriver: () => new ContainerDriver({ stateDir, launcherPath, agentPath, criuPath, diskPoolSize: 2 }),
  makeBrokenDriver: () => new ContainerDriver({ stateDir, launcherPath, agentPath: '/bin/false' }),
  inside: (info, cmd, opts) => nsenterShell(info.pid, cmd, opts?.outside ? [] : cgroupDirs(info.sandboxId)),
  leftovers,
});

describe('container driver: confinement of the sandbox init', { skip }, () => {
  const driver = new ContainerDriver({ stateDir, launcherPath, agentPath });
  const status = (pid: number) =>
    Object.fromEntries(
      readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .map((l) => l.split(':\t'))
        .filter((kv) => kv.length === 2),
    );

  it('runs under seccomp with a reduced bounding set; no_new_privs only when asked (sudo needs it off)', async () => {
    const spec = { layers: [rootfs], cpuCount: 1, memoryMB: 256, diskMB: 0, internetAccess: false };
    const plain = await driver.create({ ...spec, sandboxId: `cf${process.pid.toString(36)}a` });
    const strict = await driver.create({ ...spec, sandboxId: `cf${process.pid.toString(36)}b`, noNewPrivileges: true });
    try {
      const p = status(plain.pid);
      assert.equal(p.Seccomp, '2', 'seccomp filter mode');
      assert.equal(p.NoNewPrivs, '0');
      const bnd = BigInt(`0x${p.CapBnd}`);
      assert.equal(bnd & (1n << 16n), 0n, 'CAP_SYS_MODULE dropped');
      assert.equal(bnd & (1n << 21n), 0n, 'CAP_SYS_ADMIN dropped');
      assert.notEqual(bnd & (1n << 6n), 0n, 'CAP_SETGID kept (sudo, su)');
      assert.equal(status(strict.pid).NoNewPrivs, '1');
      assert.equal(status(strict.pid).Seccomp, '2');
    } finally {
      await driver.destroy(plain.sandboxId);
      await driver.destroy(strict.sandboxId);
    }
  });
});

describe('container driver: killing many sandboxes at once', { skip }, () => {
  it('leaves nothing behind (links, firewall entries, cgroups, mounts, loop devices, files, processes)', async () => {
    const driver = new ContainerDriver({ stateDir, launcherPath, agentPath });
    const ids = Array.from({ length: 12 }, (_, i) => `km${process.pid.toString(36)}${i}`);
    const egress = { allowOut: ['192.0.2.1/32'], denyOut: ['0.0.0.0/0'] };
    const infos = [];
    try {
      // Every kind of sandbox a kill must undo: own disk or not, online or not, with egress rules or not.
      for (const [i, sandboxId] of ids.entries()) {
        infos.push(
          await driver.create({
            sandboxId,
            layers: [rootfs],
            cpuCount: 1,
            memoryMB: 128,
            diskMB: i % 2 ? 64 : 0,
            internetAccess: i % 3 === 0,
            ...(i % 4 === 1 ? { egress } : {}),
          }),
        );
      }
      // The check sees what a running sandbox has (so it can fail).
      const rules = firewallRules();
      for (const [i, id] of ids.entries()) {
        const found = leftovers(id, rules).map((l) => l.split(' ')[0]);
        for (const kind of ['link', 'cgroup', 'state', 'mount', 'process']) {
          assert.ok(found.includes(kind), `${id}: ${kind}`);
        }
        if (i % 2) assert.ok(found.includes('loop'), `${id}: its disk`);
        if (i % 4 === 1) assert.ok(found.includes('firewall'), `${id}: its egress rules`);
      }
    } finally {
      // Process starts of the control plane during the kills (what a CPU profile showed as ChildProcess.spawn).
      const started: string[] = [];
      const proto = ChildProcess.prototype as unknown as { spawn(this: ChildProcess, o: { file: string }): unknown };
      const spawnOne = proto.spawn;
      proto.spawn = function (o) {
        started.push(path.basename(o.file));
        return spawnOne.call(this, o);
      };
      try {
        await Promise.all(ids.map((id) => driver.destroy(id)));
      } finally {
        proto.spawn = spawnOne;
      }
      // At most the launcher's few cleanup helpers start (not one per kill); the 3 links with egress rules cost an
      // `nft` each.
      const helpers = started.filter((f) => f === 'tb-launch').length;
      assert.ok(helpers <= 4 && started.length <= helpers + 3, `started: ${started.join(' ')}`);
    }
    const rules = firewallRules();
    for (const id of ids) assert.deepEqual(leftovers(id, rules), [], `leftovers of ${id}`);
    assert.equal((await driver.list()).filter((s) => ids.includes(s.sandboxId)).length, 0);
    assert.equal(infos.length, ids.length);
  });
});

describe('container driver: a link name with rules a dead process left', { skip }, () => {
  it('gives the new sandbox on that link none of them', async () => {
    // The lowest free link name is the one the next create takes; rules on it as a crashed server leaves them.
    let slot = 0;
    while (existsSync(`/sys/class/net/tb${slot}`)) slot++;
    const hostIf = `tb${slot}`;
    await new EgressFirewall().apply(hostIf, { allowOut: [], denyOut: ['0.0.0.0/0'] });
    assert.match(
      firewallRules(),
      new RegExp(`"${hostIf}" : jump`),
      'the stale rules are in place (the check can fail)',
    );
    const driver = new ContainerDriver({ stateDir, launcherPath, agentPath });
    const sandboxId = `st${process.pid.toString(36)}`;
    try {
      const spec = { sandboxId, layers: [rootfs], cpuCount: 1, memoryMB: 128, diskMB: 0, internetAccess: false };
      const info = await driver.create(spec);
      assert.ok(existsSync(`/sys/class/net/${hostIf}`), `the sandbox took ${hostIf} (${info.address})`);
      assert.doesNotMatch(firewallRules(), new RegExp(`"${hostIf}" : jump`), 'no stale rules on its link');
    } finally {
      await driver.destroy(sandboxId);
      await new EgressFirewall().remove(hostIf);
    }
  });
});
