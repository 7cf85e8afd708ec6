/**
 * Device access of a sandbox: no device node can be made inside, the root and the disk are nodev, and the cgroup
 * device policy (native/devices.c) really refuses every device outside the allow-list — checked with a process put
 * into a sandbox's v1 devices cgroup, and with the eBPF device program on a cgroup v2 group (the unified hierarchy of
 * this hybrid host), both opening the host's own device nodes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from 'tensor-box';
import { detectLayout } from '../../packages/runtime/src/cgroups.js';
import { startTestServer, type TestServer } from '../helpers/harness.js';
import { rootShell } from './helpers/attack.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const launcher = path.join(repo, 'build', 'tb-launch');
let s: TestServer;
let sbx: Sandbox;
before(async () => {
  s = await startTestServer();
  sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
});
after(async () => {
  await sbx?.kill().catch(() => {});
  await s?.close();
});

/** From the host: a process that joins `cgroupDir` and then opens each device; returns path → "ok" or the error. */
function openDevicesIn(cgroupDir: string, devices: string[]): Record<string, string> {
  const py = `
import json, os, sys
open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))
out = {}
for d in sys.argv[2:]:
    try:
        os.close(os.open(d, os.O_RDWR if d in ('/dev/null', '/dev/zero', '/dev/full') else os.O_RDONLY))
        out[d] = 'ok'
    except OSError as e:
        out[d] = e.strerror
try:
    os.mknod('/tmp/tb-dev-probe-%d' % os.getpid(), 0o600 | 0o060000, os.makedev(7, 0))
    out['mknod block'] = 'ok'
except OSError as e:
    out['mknod block'] = e.strerror
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', py, cgroupDir, ...devices], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

const HOST_DEVICES = [
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/urandom',
  '/dev/kmsg',
  '/dev/loop-control',
  '/dev/vda',
  '/dev/mem',
].filter(existsSync);
const ALLOWED = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/urandom']);

function assertPolicy(got: Record<string, string>) {
  for (const d of HOST_DEVICES) {
    if (ALLOWED.has(d)) assert.equal(got[d], 'ok', `${d} is allowed`);
    else assert.equal(got[d], 'Operation not permitted', `${d} is refused by the cgroup`);
  }
  assert.equal(got['mknod block'], 'Operation not permitted', 'no block device node can be made');
}

describe('devices', () => {
  it('inside: mknod fails, / and the writable layer are nodev', async () => {
    const r = await rootShell(
      sbx,
      'mknod /tmp/vda b 254 0; echo "b=$?"; mknod /tmp/mem c 1 1; echo "c=$?"; mknod /dev/mem2 c 1 1; echo "d=$?"',
    );
    assert.match(r.stdout, /b=1\nc=1\nd=1/, r.stdout + r.stderr);
    const root = (await rootShell(sbx, 'awk \'$5 == "/"\' /proc/self/mountinfo')).stdout;
    assert.match(root, /\bnodev\b/);
    // On the host: the sandbox's disk is mounted nodev,nosuid.
    const disk = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.includes(path.join(s.dataDir, 'sandboxes', sbx.sandboxId, 'disk')));
    assert.ok(disk, 'the sandbox has a disk mount');
    assert.match(disk!.split(' ')[5]!, /nodev/);
    assert.match(disk!.split(' ')[5]!, /nosuid/);
  });

  it("cgroup v1: a process in the sandbox's devices cgroup can open only the allowed devices", async (t) => {
    const layout = detectLayout();
    if (layout.version !== 1 || !layout.devices) return t.skip('no cgroup v1 devices controller on this host');
    const dir = path.join(layout.devices, 'tensor-box', sbx.sandboxId);
    assert.match(readFileSync(path.join(dir, 'devices.list'), 'utf8'), /^c 1:3 rwm$/m);
    assert.doesNotMatch(readFileSync(path.join(dir, 'devices.list'), 'utf8'), /^a /m, 'not allow-all');
    assertPolicy(openDevicesIn(dir, HOST_DEVICES));
  });

  it('cgroup v2: the eBPF device program refuses the same devices', async (t) => {
    const unified = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) =>
      existsSync(path.join(d, 'cgroup.controllers')),
    );
    if (!unified) return t.skip('no cgroup v2 hierarchy on this host');
    const dir = path.join(unified, `tb-devices-test-${process.pid}`);
    mkdirSync(dir);
    try {
      execFileSync(launcher, ['devices', '--cgroup', dir]);
      assertPolicy(openDevicesIn(dir, HOST_DEVICES));
    } finally {
      rmdirSync(dir);
    }
  });
});
