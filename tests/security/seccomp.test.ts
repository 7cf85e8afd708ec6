/**
 * The seccomp profile (packages/runtime/seccomp/x86_64.profile) attacked from inside a real sandbox as root: clone
 * with namespace flags, clone3, io_uring, userfaultfd, unshare/setns, the x32 ABI, and every syscall the old deny-list
 * refused (kept as regressions). And what must keep working under it: threads (glibc falls back from clone3),
 * fork/exec, sudo, envd (Go), pause/resume with the filter restored on the processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { startTestServer, type TestServer } from '../helpers/harness.js';
import { rootShell, runPython } from './helpers/attack.js';

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

const CLONE_NEW = {
  NS: 0x20000,
  CGROUP: 0x02000000,
  UTS: 0x04000000,
  IPC: 0x08000000,
  USER: 0x10000000,
  PID: 0x20000000,
  NET: 0x40000000,
};
const SIGCHLD = 17;

/** Syscalls (x86_64 numbers) that must answer EPERM, called with arguments a permissive kernel would act on. */
const DENIED: Record<string, [number, ...number[]]> = {
  mount: [165, 0, 0, 0, 0, 0],
  umount2: [166, 0, 0],
  pivot_root: [155, 0, 0],
  swapon: [167, 0, 0],
  swapoff: [168, 0],
  reboot: [169, 0xfee1dead, 672274793, 0x4321fedc, 0],
  sethostname: [170, 0, 0],
  init_module: [175, 0, 0, 0],
  finit_module: [313, -1, 0, 0],
  delete_module: [176, 0, 0],
  kexec_load: [246, 0, 0, 0, 0],
  kexec_file_load: [320, -1, -1, 0, 0, 0],
  bpf: [321, 0, 0, 0],
  perf_event_open: [298, 0, 0, -1, -1, 0],
  keyctl: [250, 0, 0],
  add_key: [248, 0, 0, 0, 0, 0],
  request_key: [249, 0, 0, 0, 0],
  acct: [163, 0],
  settimeofday: [164, 0, 0],
  clock_settime: [227, 0, 0],
  clock_adjtime: [305, 0, 0],
  adjtimex: [159, 0],
  iopl: [172, 3],
  ioperm: [173, 0, 1, 1],
  quotactl: [179, 0, 0, 0, 0],
  lookup_dcookie: [212, 0, 0, 0],
  uselib: [134, 0],
  vhangup: [153],
  syslog: [103, 3, 0, 0],
  open_by_handle_at: [304, 0, 0, 0],
  name_to_handle_at: [303, 0, 0, 0, 0, 0],
  fsopen: [430, 0, 0],
  fsconfig: [431, 0, 0, 0, 0, 0],
  fsmount: [432, 0, 0, 0],
  move_mount: [429, 0, 0, 0, 0, 0],
  open_tree: [428, 0, 0, 0],
  mount_setattr: [442, 0, 0, 0, 0, 0],
  unshare: [272, CLONE_NEW.USER],
  unshare_net: [272, CLONE_NEW.NET],
  setns: [308, 0, 0],
  io_uring_setup: [425, 8, 0],
  io_uring_enter: [426, 0, 0, 0, 0, 0, 0],
  io_uring_register: [427, 0, 0, 0, 0],
  userfaultfd: [323, 1 /* UFFD_USER_MODE_ONLY: allowed for anyone without the filter */],
  kcmp: [312, 1, 1, 0, 0, 0],
  pidfd_getfd: [438, 0, 0, 0],
  personality_other: [135, 0x0400000 /* ADDR_NO_RANDOMIZE */],
  socket_vsock: [41, 40, 1, 0],
};

describe('seccomp: attacks from inside fail', () => {
  it('clone with any namespace flag is refused (EPERM), alone and combined', async () => {
    const cases: Record<string, number> = { ...CLONE_NEW, USER_NS_NET: CLONE_NEW.USER | CLONE_NEW.NS | CLONE_NEW.NET };
    const got = await runPython<Record<string, [number, string | null]>>(
      sbx,
      `out = {}\nfor name, flags in ${JSON.stringify(cases)}.items():\n    out[name] = sc(56, flags | ${SIGCHLD}, ` +
        `0, 0, 0, 0)\nprint(json.dumps(out))\n`,
    );
    for (const name of Object.keys(cases)) assert.deepEqual(got[name], [-1, 'EPERM'], `clone(CLONE_NEW${name})`);
  });

  it('clone3 answers ENOSYS (so libc falls back to clone, whose flags the filter can see)', async () => {
    const got = await runPython<[number, string]>(sbx, `print(json.dumps(sc(435, 0, 88)))\n`);
    assert.deepEqual(got, [-1, 'ENOSYS']);
  });

  it('io_uring, userfaultfd, mount, modules, bpf, perf, keyctl, unshare, setns… answer EPERM', async () => {
    const got = await runPython<Record<string, [number, string | null]>>(
      sbx,
      `calls = ${JSON.stringify(DENIED)}\nprint(json.dumps({k: sc(*v) for k, v in calls.items()}))\n`,
    );
    const wrong = Object.entries(got).filter(([, [r, e]]) => r !== -1 || e !== 'EPERM');
    assert.deepEqual(wrong, [], 'every denied syscall fails with EPERM');
  });

  it('a syscall through the x32 ABI or the 32-bit entry (int 0x80) kills the process', async () => {
    const x32 = `python3 -c 'import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39)'; echo "status=$?"`;
    assert.match((await rootShell(sbx, x32)).stdout, /status=159/, 'x32: killed by SIGSYS (128 + 31)');
    // mov eax, 20 (getpid in the i386 table); int 0x80; ret — run from an executable page.
    await sbx.files.write(
      '/tmp/int80.py',
      `import ctypes, mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(bytes([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0xc3]))
print(ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))())
`,
    );
    assert.match(
      (await rootShell(sbx, 'python3 /tmp/int80.py; echo "status=$?"')).stdout,
      /status=159/,
      'i386: SIGSYS',
    );
  });
});

describe('seccomp: what must keep working', () => {
  it('threads, fork/exec, a Go-free pipeline, sudo and chroot work as before', async () => {
    const py = await runPython<{ threads: number; child: number; personality: [number, string | null] }>(
      sbx,
      `import threading, subprocess
hits = []
ts = [threading.Thread(target=lambda: hits.append(1)) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
child = subprocess.run(['sh', '-c', 'exit 7']).returncode
print(json.dumps({'threads': len(hits), 'child': child, 'personality': sc(135, 0xffffffff)}))
`,
    );
    assert.equal(py.threads, 8);
    assert.equal(py.child, 7);
    assert.notEqual(py.personality[0], -1, 'personality query allowed');
    const sudo = await sbx.commands.run('sudo -n id -u && echo hi | sudo tee /root/x >/dev/null && sudo cat /root/x');
    assert.equal(sudo.stdout, '0\nhi\n');
    const chroot = await rootShell(sbx, 'chroot / /bin/true && echo ok');
    assert.equal(chroot.stdout.trim(), 'ok');
  });

  it('after pause and resume the processes keep the filter (CRIU restores it) and the sandbox works', async () => {
    const bg = await sbx.commands.run('sleep 600', { background: true, user: 'root' });
    bg.disconnect();
    await sbx.pause();
    sbx = await Sandbox.connect(sbx.sandboxId, { ...s.conn, timeoutMs: 300_000 });
    const seccompOf = async (pid: string) =>
      (await rootShell(sbx, `grep -E '^(Seccomp|Seccomp_filters):' /proc/${pid}/status`)).stdout;
    const sleeper = (await rootShell(sbx, 'pgrep -x sleep')).stdout.trim().split('\n')[0]!;
    assert.match(await seccompOf(sleeper), /Seccomp:\s+2/, 'the restored process is filtered');
    assert.match(await seccompOf('1'), /Seccomp:\s+2/, 'tb-init is filtered');
    const got = await runPython<[number, string]>(
      sbx,
      `print(json.dumps(sc(56, ${CLONE_NEW.USER | SIGCHLD}, 0, 0, 0, 0)))\n`,
    );
    assert.deepEqual(got, [-1, 'EPERM'], 'a new process after resume is filtered too');
    assert.equal((await sbx.commands.run('echo alive')).stdout, 'alive\n');
  });
});
