/**
 * The sandbox's mounts attacked from inside as root: moving or removing the agent's mounts (/run/tensor-box) or
 * unmasking the host's boot ID must fail and pause must still work afterwards; /proc/self/mountinfo must name no host path; /proc/<pid>/root leads
 * nowhere outside; a write over a template file stays in the writer's own layer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from 'tensor-box';
import { startTestServer, type TestServer } from '../helpers/harness.js';
import { rootShell } from './helpers/attack.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

describe('mounts: attacks from inside fail', () => {
  it('the agent mounts cannot be moved, removed or written, and pause/resume still works after trying', async () => {
    let sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      for (const attack of [
        'mv /run/tensor-box /run/x',
        'mv /run/tensor-box/envd /run/envd2',
        'mv /run/tensor-box/tb-init /tmp/tb-init',
        'rm -rf /run/tensor-box',
        'rmdir /run/tensor-box',
        'touch /run/tensor-box/new',
        'touch /run/tensor-box/empty/new',
        'touch /sys/block/new',
        'cp /bin/sh /run/tensor-box/envd',
        'mv /run /run2',
        'umount -l /run/tensor-box',
        'umount -l /run/tensor-box/envd',
        'mount -t tmpfs x /run/tensor-box',
        // The sandbox's own boot ID hides the host's: it cannot be unmasked or rewritten.
        'umount -l /proc/sys/kernel/random/boot_id',
        'echo 0 > /proc/sys/kernel/random/boot_id',
        'echo 0 > /run/tensor-box/boot_id',
        'touch /tmp/b && mount --bind /tmp/b /proc/sys/kernel/random/boot_id',
      ]) {
        const r = await rootShell(sbx, attack);
        assert.notEqual(r.exitCode, 0, `'${attack}' must fail`);
      }
      const ls = await rootShell(sbx, 'ls /run/tensor-box && test -s /run/tensor-box/envd && echo intact');
      assert.equal(ls.stdout, 'boot_id\nempty\nenvd\ntb-init\nintact\n');
      const bootId = (await rootShell(sbx, 'cat /proc/sys/kernel/random/boot_id')).stdout.trim();
      assert.match(bootId, /^[0-9a-f-]{36}$/);
      assert.notEqual(bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), "not the host's");
      await sbx.pause();
      sbx = await Sandbox.connect(sbx.sandboxId, { ...s.conn, timeoutMs: 120_000 });
      assert.equal((await sbx.commands.run('echo resumed')).stdout, 'resumed\n');
      const again = await rootShell(sbx, 'mv /run/tensor-box /run/x');
      assert.notEqual(again.exitCode, 0, 'still immovable after a resume');
    } finally {
      await sbx.kill();
    }
  });

  it('/proc/self/mountinfo names no host path, disk or state directory', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    try {
      const info = (await rootShell(sbx, 'cat /proc/self/mountinfo /proc/1/mountinfo /proc/self/mounts')).stdout;
      for (const leak of [
        s.dataDir,
        repo.replace(/\/$/, ''),
        '/var/',
        '/tmp/tb-',
        '/dev/vd',
        '/dev/sd',
        '/dev/loop',
        '/dev/nvme',
        'ext4',
      ]) {
        assert.ok(!info.includes(leak), `mountinfo shows ${leak}:\n${info}`);
      }
      const root = info.split('\n').find((l) => l.split(' ')[4] === '/')!;
      assert.match(
        root,
        / - overlay overlay .*lowerdir=\/proc\/self\/fd\/\d+/,
        'the overlay names descriptors, not paths',
      );
      assert.match(root.split(' - ')[0]!, /\bnodev\b/, 'the root is nodev');
    } finally {
      await sbx.kill();
    }
  });

  it('/proc/<pid>/root of every visible process is the sandbox itself; no host process is visible', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    try {
      await sbx.files.write('/tmp/marker', 'inside', { user: 'root' });
      const r = await rootShell(
        sbx,
        'for p in /proc/[0-9]*; do cat $p/root/tmp/marker 2>/dev/null || echo "$p unreadable"; echo; done; ls -d ' +
          '/proc/[0-9]* | wc -l',
      );
      const lines = r.stdout.trim().split('\n').filter(Boolean);
      const count = Number(lines.pop());
      assert.ok(count < 30, `only the sandbox's own processes are visible (${count})`);
      assert.ok(
        lines.every((l) => l === 'inside' || /unreadable/.test(l)),
        r.stdout,
      );
      const envd = `$(cut -d' ' -f1 /proc/1/task/1/children)`;
      const host = await rootShell(
        sbx,
        `ls /proc/self/root${s.dataDir} /proc/${envd}/root${s.dataDir} 2>&1; cat /proc/1/cmdline | tr '\\0' ' '`,
      );
      assert.equal(
        host.stdout.match(/No such file/g)?.length,
        2,
        `the host's paths are not under any root: ${host.stdout}`,
      );
      assert.match(host.stdout, /tb-init/, 'PID 1 is the sandbox init');
    } finally {
      await sbx.kill();
    }
  });

  it("writes over template files stay in the writer's own layer", async () => {
    const a = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    const b = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
    try {
      await rootShell(
        a,
        'echo pwned > /usr/bin/pwned && chmod 755 /usr/bin/pwned && echo "x:x:0:0::/:/bin/sh" >> /etc/passwd && rm ' +
          '-f /bin/ls',
      );
      const seen = await rootShell(
        b,
        'ls /usr/bin/pwned 2>&1; grep -c "^x:" /etc/passwd; test -x /bin/ls && echo ls-ok',
      );
      assert.match(seen.stdout, /No such file/);
      assert.match(seen.stdout, /^0$/m);
      assert.match(seen.stdout, /ls-ok/);
    } finally {
      await a.kill();
      await b.kill();
    }
  });
});
