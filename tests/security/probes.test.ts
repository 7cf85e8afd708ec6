/**
 * What a sandbox can learn about the host, and whether one sandbox can starve another. From inside, as root: the
 * host's block devices (and the loop devices that are other sandboxes' disks), partitions, firmware and hardware tree
 * must be hidden; capabilities stay Docker's set; ptrace of PID 1 and of the agent fails. A fork bomb, a memory hog and
 * CPU burners stay inside their limits while a neighbour sandbox keeps answering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { startTestServer, type TestServer } from '../helpers/harness.js';
import { rootShell, runPython } from './attack.js';

let s: TestServer;
let sbx: Sandbox;
before(async () => {
  s = await startTestServer();
  sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
});
after(async () => {
  await sbx?.kill().catch(() => {});
  await s?.close();
});

describe('what a sandbox learns about the host', () => {
  it('block devices, partitions, loop backing files, firmware and the hardware tree are hidden', async () => {
    const r = await rootShell(
      sbx,
      [
        'ls -A /sys/block /sys/class/block /sys/dev/block /sys/devices/virtual/block /sys/firmware /proc/fs 2>/dev/null | grep -v ":$" | grep -v "^$"',
        'cat /proc/partitions /proc/diskstats /proc/swaps 2>/dev/null',
        'cat /sys/block/*/loop/backing_file /sys/devices/*/*/*/block/*/dev 2>/dev/null',
        'ls /sys/devices/*/ 2>/dev/null | grep -iE "pci|virtio|block|vd[a-z]|sd[a-z]|nvme|loop"',
      ].join('; '),
    );
    assert.equal(r.stdout, '', `the host's inventory leaks:\n${r.stdout}`);
    // What stays: the sandbox's own network devices and the CPU list (runtimes read them).
    const kept = await rootShell(sbx, 'ls /sys/class/net; cat /sys/devices/system/cpu/online; nproc');
    assert.match(kept.stdout, /eth0/);
    assert.match(kept.stdout, /^\d/m);
  });

  it('capabilities are Docker\'s default set minus CAP_MKNOD, for root and for PID 1', async () => {
    const r = await rootShell(sbx, "grep CapBnd /proc/self/status /proc/1/status | awk '{print $2}' | sort -u");
    // CHOWN DAC_OVERRIDE FSETID FOWNER KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT AUDIT_WRITE SETFCAP
    assert.equal(r.stdout.trim(), '00000000a00425fb');
  });

  it('ptrace of PID 1 (tb-init) and of envd fails', async () => {
    const got = await runPython<Record<string, [number, string | null]>>(
      sbx,
      `envd = int(open('/proc/1/task/1/children').read().split()[0])
out = {'init': sc(101, 16, 1, 0, 0), 'envd': sc(101, 16, envd, 0, 0)}
print(json.dumps(out))
`,
    );
    for (const who of ['init', 'envd']) assert.equal(got[who]![0], -1, `PTRACE_ATTACH to ${who} must fail: ${JSON.stringify(got)}`);
  });
});

describe('resource exhaustion stays inside the sandbox', () => {
  /** How long a trivial command takes in the neighbour. */
  async function answerMs(n: Sandbox): Promise<number> {
    const t0 = Date.now();
    assert.equal((await n.commands.run('echo up')).stdout, 'up\n');
    return Date.now() - t0;
  }

  it('a fork bomb, a memory hog and CPU burners: the neighbour keeps answering, the attacker stays capped', async () => {
    const neighbour = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      // Fork bomb as the unprivileged user, for a few seconds.
      (await sbx.commands.run(`timeout 8 bash -c 'b() { b | b & }; b' >/dev/null 2>&1`, { background: true })).disconnect();
      // Memory: allocate far past the sandbox's memory limit; the kernel kills it inside.
      (await sbx.commands.run(`python3 -c "b = [bytearray(64 << 20) for _ in range(256)]" > /tmp/hog.out 2>&1; echo $? > /tmp/hog.status`, { background: true, user: 'root' })).disconnect();
      // CPU: more busy loops than the sandbox has CPUs.
      (await sbx.commands.run(`for i in 1 2 3 4; do timeout 8 sh -c 'while :; do :; done' & done; wait`, { background: true })).disconnect();
      const slow: number[] = [];
      for (let i = 0; i < 5; i++) {
        slow.push(await answerMs(neighbour));
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(Math.max(...slow) < 5000, `the neighbour answered in ${slow.join(', ')} ms`);
      await new Promise((r) => setTimeout(r, 6000));
      // The attacker's sandbox survives its own attacks and its hog was killed at its limit.
      const status = await rootShell(sbx, 'cat /tmp/hog.status');
      assert.equal(status.stdout.trim(), '137', 'the memory hog was OOM-killed (SIGKILL)');
      assert.ok((await answerMs(sbx)) < 5000, 'the attacker sandbox itself recovers');
      const pids = Number((await rootShell(sbx, 'ls -d /proc/[0-9]* | wc -l')).stdout.trim());
      assert.ok(pids < 100, `the fork bomb is gone (${pids} processes)`);
    } finally {
      await neighbour.kill();
    }
  });
});
