/**
 * `sandbox.commands`: run shell commands in the sandbox through envd's process service. Foreground runs return their
 * result (or throw CommandExitError on a non-zero exit); background runs return a CommandHandle.
 */
import type { Client } from '@connectrpc/connect';
import { Process, Signal } from '@tensor-box/generated/envd/process';
import { envdClient, userHeader, type EnvdTarget } from './envd/transport.js';
import { fromConnect } from './errors.js';
import { CommandHandle, type CommandResult } from './command-handle.js';

export type { CommandResult } from './command-handle.js';
export { CommandHandle } from './command-handle.js';

export interface CommandStartOpts {
  /** Run in the background and return a handle instead of waiting. */
  background?: boolean;
  envs?: Record<string, string>;
  cwd?: string;
  /** User to run as (default `user`; `root` allowed). */
  user?: string;
  /** Kill the command after this many ms (default 60 000 in the foreground, none in the background; 0 = none). */
  timeoutMs?: number;
  onStdout?: (data: string) => void | Promise<void>;
  onStderr?: (data: string) => void | Promise<void>;
  /** Keep stdin open so that sendStdin works (default: true for background commands). */
  stdin?: boolean;
  /** Timeout of the start call itself in ms. */
  requestTimeoutMs?: number;
}

export interface ProcessInfo {
  pid: number;
  tag?: string;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

export class Commands {
  private rpc: Client<typeof Process>;

  constructor(target: EnvdTarget) {
    this.rpc = envdClient(Process, target);
  }

  /**
   * Runs `cmd` with `/bin/bash -l -c`.
   * @example
   * const r = await sandbox.commands.run('echo hello')   // { exitCode: 0, stdout: 'hello\n', stderr: '' }
   * const h = await sandbox.commands.run('sleep 100', { background: true }); await h.kill()
   */
  run(cmd: string, opts: CommandStartOpts & { background: true }): Promise<CommandHandle>;
  run(cmd: string, opts?: CommandStartOpts & { background?: false }): Promise<CommandResult>;
  run(cmd: string, opts?: CommandStartOpts): Promise<CommandResult | CommandHandle>;
  async run(cmd: string, opts: CommandStartOpts = {}): Promise<CommandResult | CommandHandle> {
    const handle = await this.start(cmd, opts);
    return opts.background ? handle : handle.wait();
  }

  private async start(cmd: string, opts: CommandStartOpts): Promise<CommandHandle> {
    const timeoutMs = opts.timeoutMs ?? (opts.background ? 0 : 60_000);
    const controller = new AbortController();
    const stream = this.rpc.start(
      {
        process: { cmd: '/bin/bash', args: ['-l', '-c', cmd], envs: opts.envs ?? {}, cwd: opts.cwd },
        stdin: opts.stdin ?? !!opts.background,
      },
      {
        headers: { ...userHeader(opts.user), 'Keepalive-Ping-Interval': '50' },
        signal: controller.signal,
        timeoutMs: timeoutMs || undefined,
      },
    );
    const iterator = stream[Symbol.asyncIterator]();
    let pid: number;
    try {
      const first = await iterator.next();
      const ev = first.value?.event?.event;
      if (first.done || ev?.case !== 'start') throw new Error('the agent did not report the process start');
      pid = ev.value.pid;
    } catch (err) {
      controller.abort();
      throw fromConnect(err);
    }
    return new CommandHandle(pid, iterator, controller, this, opts);
  }

  /** Re-attaches to a running command by pid. */
  async connect(
    pid: number,
    opts: Pick<CommandStartOpts, 'onStdout' | 'onStderr' | 'timeoutMs'> = {},
  ): Promise<CommandHandle> {
    const controller = new AbortController();
    const stream = this.rpc.connect(
      { process: { selector: { case: 'pid', value: pid } } },
      { signal: controller.signal, timeoutMs: opts.timeoutMs || undefined },
    );
    const iterator = stream[Symbol.asyncIterator]();
    try {
      const first = await iterator.next();
      if (first.done || first.value?.event?.event?.case !== 'start')
        throw new Error('the agent did not confirm the connection');
    } catch (err) {
      controller.abort();
      throw fromConnect(err);
    }
    return new CommandHandle(pid, iterator, controller, this, opts);
  }

  /** Running processes started through the agent. */
  async list(): Promise<ProcessInfo[]> {
    try {
      const r = await this.rpc.list({});
      return r.processes.map((p) => ({
        pid: p.pid,
        tag: p.tag,
        cmd: p.config?.cmd ?? '',
        args: p.config?.args ?? [],
        envs: p.config?.envs ?? {},
        cwd: p.config?.cwd,
      }));
    } catch (err) {
      throw fromConnect(err);
    }
  }

  /** Kills a process (SIGKILL to its process group). Returns false when it was not running. */
  async kill(pid: number): Promise<boolean> {
    try {
      await this.rpc.sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: Signal.SIGKILL });
      return true;
    } catch (err) {
      const e = fromConnect(err);
      if (e.name === 'NotFoundError') return false;
      throw e;
    }
  }

  async sendStdin(pid: number, data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    try {
      await this.rpc.sendInput({
        process: { selector: { case: 'pid', value: pid } },
        input: { input: { case: 'stdin', value: bytes } },
      });
    } catch (err) {
      throw fromConnect(err);
    }
  }

  async closeStdin(pid: number): Promise<void> {
    try {
      await this.rpc.closeStdin({ process: { selector: { case: 'pid', value: pid } } });
    } catch (err) {
      throw fromConnect(err);
    }
  }
}
