/**
 * Running commands in a sandbox the control plane owns (a template's build sandbox, a template's start command) through
 * the sandbox's agent: a foreground run that streams output line by line and ends with the exit code, and a background
 * start that returns once the process runs. Commands run under `/bin/sh -c` (as Docker's RUN does), so images without
 * bash work too.
 */
import { createClient } from '@connectrpc/connect';
import { sandboxConnections } from '../envd/connections.js';
import { Process } from '@tensor-box/generated/envd/process';
import { fromEnvdError } from '../services/envd-rpc.js';

export interface ExecTarget {
  envdUrl: string;
  accessToken?: string;
}

export interface ExecOptions {
  cmd: string;
  user: string;
  cwd?: string;
  envs?: Record<string, string>;
  /** The process's lifetime; it is killed when this passes (0 = none). */
  timeoutMs?: number;
  /** Each complete output line (without the newline), as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const MAX_LINE = 4000;

/** Over the pool of the runtime at that address (build sandboxes come and go: the driver's calls end their pools). */
function client(t: ExecTarget) {
  return createClient(Process, sandboxConnections.transportForUrl(t.envdUrl));
}

function headers(t: ExecTarget, user: string): Record<string, string> {
  return {
    Authorization: `Basic ${Buffer.from(`${user}:`).toString('base64')}`,
    ...(t.accessToken ? { 'X-Access-Token': t.accessToken } : {}),
  };
}

/** Splits a byte stream into lines; long lines are cut into pieces of MAX_LINE characters. */
class LineSplitter {
  private buf = '';
  private decoder = new TextDecoder();
  constructor(private emit: (line: string) => void) {}
  push(bytes: Uint8Array) {
    this.buf += this.decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      this.emit(this.buf.slice(0, nl).replace(/\r$/, ''));
      this.buf = this.buf.slice(nl + 1);
    }
    while (this.buf.length > MAX_LINE) {
      this.emit(this.buf.slice(0, MAX_LINE));
      this.buf = this.buf.slice(MAX_LINE);
    }
  }
  end() {
    this.buf += this.decoder.decode();
    if (this.buf) this.emit(this.buf);
    this.buf = '';
  }
}

/** Runs a command to its end; resolves with its exit code (a timeout is exit code 124, as coreutils' timeout). */
export async function execInSandbox(t: ExecTarget, o: ExecOptions): Promise<{ exitCode: number; timedOut: boolean }> {
  const out = new LineSplitter((l) => o.onLine?.(l, 'stdout'));
  const err = new LineSplitter((l) => o.onLine?.(l, 'stderr'));
  let exitCode = -1;
  try {
    const stream = client(t).start(
      { process: { cmd: '/bin/sh', args: ['-c', o.cmd], envs: o.envs ?? {}, cwd: o.cwd || undefined } },
      { headers: headers(t, o.user), timeoutMs: o.timeoutMs || undefined },
    );
    for await (const r of stream) {
      const ev = r.event?.event;
      if (ev?.case === 'data') {
        if (ev.value.output.case === 'stdout') out.push(ev.value.output.value);
        else if (ev.value.output.case === 'stderr') err.push(ev.value.output.value);
      } else if (ev?.case === 'end') {
        exitCode = ev.value.exitCode;
      }
    }
  } catch (e) {
    out.end();
    err.end();
    const api = fromEnvdError(e);
    if (api.kind === 'timeout') return { exitCode: 124, timedOut: true };
    throw api;
  }
  out.end();
  err.end();
  return { exitCode, timedOut: false };
}

/** Starts a command in the background (it outlives this call); resolves with its pid once it runs. */
export async function startInSandbox(t: ExecTarget, o: Omit<ExecOptions, 'onLine' | 'timeoutMs'>): Promise<number> {
  const controller = new AbortController();
  try {
    const stream = client(t).start(
      { process: { cmd: '/bin/sh', args: ['-c', o.cmd], envs: o.envs ?? {}, cwd: o.cwd || undefined } },
      { headers: headers(t, o.user), signal: controller.signal },
    );
    for await (const r of stream) {
      const ev = r.event?.event;
      if (ev?.case === 'start') return ev.value.pid;
    }
  } catch (e) {
    throw fromEnvdError(e);
  } finally {
    // Leaving the stream does not end the process (only a deadline would).
    controller.abort();
  }
  throw new Error('the agent ended the start stream without starting the process');
}

/** Whether a process the agent started still runs. */
export async function processRunning(t: ExecTarget, pid: number): Promise<boolean> {
  try {
    const r = await client(t).list({}, { headers: headers(t, 'root'), timeoutMs: 5000 });
    return r.processes.some((p) => p.pid === pid);
  } catch {
    return false;
  }
}
