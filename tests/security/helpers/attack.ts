/**
 * Shared by the security suites: a real server (tests/helpers/harness.ts) and a way to run a small Python attack
 * program inside a sandbox as root (the default template has python3; ctypes reaches any syscall) and read back the
 * JSON it prints. The programs are hostile on purpose: each suite asserts that the attack fails.
 */
import type { Sandbox } from 'tensor-box';

/** Python prelude: `sc(nr, *args)` → (return value, errno name or None), raw syscall through libc. */
export const PY_PRELUDE = `
import ctypes, errno, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == 0 and nr == 56:  # clone that succeeded: this is the child
        os._exit(0)
    e = ctypes.get_errno()
    return r, (errno.errorcode.get(e) if r < 0 else None)
`;

/** Runs a Python program (after PY_PRELUDE) as root in the sandbox and parses the JSON its last line prints. */
export async function runPython<T>(sbx: Sandbox, program: string, timeoutMs = 60_000): Promise<T> {
  const file = `/tmp/attack-${Math.random().toString(36).slice(2)}.py`;
  await sbx.files.write(file, PY_PRELUDE + program, { user: 'root' });
  const r = await sbx.commands.run(`python3 ${file}`, { user: 'root', timeoutMs });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`attack program printed no JSON: stdout=${r.stdout} stderr=${r.stderr}`);
  }
}

/** Runs a shell command as root; resolves with its exit code and output (non-zero exits do not throw). */
export async function rootShell(
  sbx: Sandbox,
  cmd: string,
  timeoutMs = 60_000,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    const r = await sbx.commands.run(cmd, { user: 'root', timeoutMs });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { exitCode?: number; stdout?: string; stderr?: string };
    if (typeof e.exitCode !== 'number') throw err;
    return { exitCode: e.exitCode, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
