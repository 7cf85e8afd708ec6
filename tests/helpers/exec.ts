/**
 * Runs a program asynchronously (the server under test lives in the test's process, so a synchronous child that talks
 * to it would deadlock) with a working directory, extra environment and a time limit. `execOk` rejects with the
 * program's output when it exits non-zero, so a failing step says why.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOpts {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export function exec(cmd: string, args: string[], opts: ExecOpts = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function execOk(cmd: string, args: string[], opts: ExecOpts = {}): Promise<ExecResult> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) {
    const where = opts.cwd ? ` (in ${opts.cwd})` : '';
    const output = `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    throw new Error(`${cmd} ${args.join(' ')}${where} exited ${r.code}\n${output}`);
  }
  return r;
}
