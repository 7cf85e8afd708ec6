/**
 * What a sandbox can learn about the host, and whether one sandbox can starve another. From inside, as root: the
 * host's block devices (and the loop devices that are other sandboxes' disks), partitions, firmware and hardware tree
 * must be hidden; capabilities stay Docker's set; ptrace of PID 1 fails (and of the agent, for the user). A fork bomb,
 * a memory hog and CPU burners stay inside their limits while a neighbour sandbox keeps answering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { startTestServer, type TestServer } from '../helpers/harness.js';
import { PY_PRELUDE, rootShell, runPython } from './helpers/attack.js';

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
        'ls -A /sys/block /sys/class/block /sys/dev/block /sys/devices/virtual/block /sys/firmware /proc/fs ' +
          '2>/dev/null | grep -v ":$" | grep -v "^$"',
        'cat /proc/partitions /proc/diskstats /proc/swaps 2>/dev/null',
        'cat /sys/block/*/loop/backing_file /sys/devices/*/*/*/block/*/dev 2>/dev/null',
        // The hardware tree: nothing below its top-level entries but the CPUs/memory and the virtual devices.
        "find /sys/devices -mindepth 2 -maxdepth 4 -not -path '/sys/devices/system/*' -not -path " +
          "'/sys/devices/virtual/*' 2>/dev/null",
        "find /sys/devices/virtual /sys/class -maxdepth 3 -name 'loop[0-9]*' -o -name 'vd[a-z]' -o -name " +
          "'zram[0-9]*' 2>/dev/null",
      ].join('; '),
    );
    assert.equal(r.stdout, '', `the host's inventory leaks:\n${r.stdout}`);
    // What stays: the sandbox's own network devices and the CPU list (runtimes read them).
    const kept = await rootShell(sbx, 'ls /sys/class/net; cat /sys/devices/system/cpu/online; nproc');
    assert.match(kept.stdout, /eth0/);
    assert.match(kept.stdout, /^\d/m);
  });

  it("capabilities are Docker's default set minus CAP_MKNOD, for root and for PID 1", async () => {
    const r = await rootShell(sbx, "grep CapBnd /proc/self/status /proc/1/status | awk '{print $2}' | sort -u");
    // CHOWN DAC_OVERRIDE FSETID FOWNER KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT AUDIT_WRITE
    // SETFCAP
    assert.equal(r.stdout.trim(), '00000000a00425fb');
  });

  it('ptrace of PID 1 (tb-init) fails for root, of envd for the user, and /proc/1/mem stays closed', async () => {
    // A successful attach stops the tracee: detach at once so the sandbox keeps answering.
    const attach = `def attach(pid):
    r = sc(101, 16, pid, 0, 0)
    if r[0] == 0:
        os.waitpid(pid, 0x40000000)
        sc(101, 17, pid, 0, 0)
    return r
envd = int(open('/proc/1/task/1/children').read().split()[0])
`;
    const root = await runPython<Record<string, unknown>>(
      sbx,
      `${attach}
def mem():
    try:
        open('/proc/1/mem', 'rb').close()
        return 'opened'
    except OSError as e:
        return e.strerror
print(json.dumps({'init': attach(1), 'mem': mem()}))
`,
    );
    assert.deepEqual(root.init, [-1, 'EPERM'], 'root cannot attach to PID 1');
    assert.equal(root.mem, 'Permission denied', 'root cannot open /proc/1/mem');
    await sbx.files.write(
      '/tmp/ptrace-user.py',
      `${PY_PRELUDE}${attach}print(json.dumps({'envd': attach(envd), 'init': attach(1)}))\n`,
    );
    const user = await sbx.commands.run('python3 /tmp/ptrace-user.py');
    const got = JSON.parse(user.stdout.trim()) as Record<string, unknown>;
    assert.deepEqual(got.envd, [-1, 'EPERM'], 'the user cannot attach to envd');
    assert.deepEqual(got.init, [-1, 'EPERM'], 'the user cannot attach to PID 1');
  });
});

/** The slowest answer a neighbour may give while another sandbox attacks the host's resources. */
const ANSWER_MS = 15_000;

describe('resource exhaustion stays inside the sandbox', () => {
  /**
   * Runs `attack` in the attacker sandbox while a neighbour answers trivial commands; returns the slowest answer.
   * "Answers" is the claim, not "as fast as when idle": the attacker may use every CPU the host has (its cpuCount) and
   * the kernel work of thousands of forks, so on a small, busy host an answer can take seconds (measured here on 2
   * shared cores: 0.2–5.7 s).
   */
  async function neighbourDuring(neighbour: Sandbox, attack: Promise<unknown>): Promise<number> {
    let done = false;
    const finished = attack.finally(() => (done = true));
    let slowestMs = 0;
    while (!done) {
      const t0 = Date.now();
      assert.equal((await neighbour.commands.run('echo up')).stdout, 'up\n');
      slowestMs = Math.max(slowestMs, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 300));
    }
    await finished;
    return slowestMs;
  }

  it(
    'a fork bomb, a memory hog and CPU burners: the ' + 'neighbour keeps answering, the attacker stays capped',
    async () => {
      const neighbour = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
      try {
        // Fork bomb as the user: every process forks until the pids limit, for 6 s, then all of them exit.
        const bomb = `import os, time
end = time.time() + 6
while time.time() < end:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
os._exit(0)
`;
        await sbx.files.write('/tmp/bomb.py', bomb);
        const forkMs = await neighbourDuring(
          neighbour,
          sbx.commands.run('python3 /tmp/bomb.py; true', { timeoutMs: 60_000 }),
        );
        assert.ok(forkMs < ANSWER_MS, `the neighbour answered within ${forkMs} ms during the fork bomb`);
        // Memory far past the sandbox's limit: the kernel kills the hog inside (SIGKILL).
        let hog = '';
        const memMs = await neighbourDuring(
          neighbour,
          rootShell(sbx, `python3 -c "b = [bytearray(64 << 20) for _ in range(256)]"; echo "status=$?"`).then(
            (r) => (hog = r.stdout),
          ),
        );
        assert.match(hog, /status=137/, 'the memory hog was killed at the limit');
        assert.ok(memMs < ANSWER_MS, `the neighbour answered within ${memMs} ms during the memory hog`);
        // CPU: more busy loops than the sandbox has CPUs.
        const cpuMs = await neighbourDuring(
          neighbour,
          sbx.commands.run(`for i in 1 2 3 4; do timeout 6 sh -c 'while :; do :; done' & done; wait; true`, {
            timeoutMs: 60_000,
          }),
        );
        assert.ok(cpuMs < ANSWER_MS, `the neighbour answered within ${cpuMs} ms during the CPU burn`);
        console.log(
          `# neighbour's slowest answer: fork bomb ${forkMs} ms, memory hog ${memMs} ms, CPU burn ${cpuMs} ms`,
        );
        // The attacker's sandbox itself survives its attacks.
        assert.equal((await sbx.commands.run('echo alive')).stdout, 'alive\n');
        const pids = Number((await rootShell(sbx, 'ls -d /proc/[0-9]* | wc -l')).stdout.trim());
        assert.ok(pids < 100, `the fork bomb is gone (${pids} processes)`);
      } finally {
        await neighbour.kill();
      }
    },
  );
});
