/**
 * `sandbox.pty`: interactive terminals on a pseudo-terminal in the sandbox (envd's process service with a PTY), for
 * full-screen programs. Output arrives through `onData`; the handle sends keystrokes, resizes and kills.
 * @example
 * const pty = await sandbox.pty.create({ cols: 120, rows: 40, onData: (d) => process.stdout.write(d) })
 * await pty.sendInput('ls -la\n'); await pty.resize({ cols: 200, rows: 50 }); await pty.kill()
 */
import type { Client } from '@connectrpc/connect';
import { Process, Signal } from '@tensor-box/generated/envd/process';
import { envdClient, userHeader, type EnvdTarget } from './envd/transport.js';
import { fromConnect } from './errors.js';
import { drain } from './command-handle.js';

export interface PtyCreateOpts {
  cols: number;
  rows: number;
  onData: (data: Uint8Array) => void | Promise<void>;
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** The program to run (default: an interactive login bash). */
  cmd?: string;
  /** Kill the session after this many ms (default: never). */
  timeoutMs?: number;
}

export interface PtyConnectOpts {
  onData: (data: Uint8Array) => void | Promise<void>;
  user?: string;
  /** Stop listening after this many ms (the terminal keeps running; default: never). */
  timeoutMs?: number;
}

export class PtyHandle {
  private open = true;
  /** Resolves with the exit code when the terminal's program ends. */
  readonly exited: Promise<number>;

  constructor(
    readonly pid: number,
    private rpc: Client<typeof Process>,
    private headers: Record<string, string>,
    events: AsyncIterator<{ event?: { event: { case: string | undefined; value?: any } } }>,
    onData: PtyCreateOpts['onData'],
    private controller: AbortController,
  ) {
    this.exited = (async () => {
      try {
        for (;;) {
          const { value, done } = await events.next();
          if (done) return -1;
          const ev = value.event?.event;
          if (ev?.case === 'data' && ev.value.output.case === 'pty') await onData(ev.value.output.value);
          else if (ev?.case === 'end') return ev.value.exitCode as number;
        }
      } catch (err) {
        if (controller.signal.aborted) return -1; // disconnect(): the terminal keeps running
        throw fromConnect(err);
      } finally {
        this.open = false;
        drain(events);
      }
    })();
    this.exited.catch(() => {});
  }

  get isOpen(): boolean {
    return this.open;
  }

  private selector() {
    return { selector: { case: 'pid' as const, value: this.pid } };
  }

  /** Sends keystrokes (a string or raw bytes). */
  async sendInput(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    try {
      await this.rpc.sendInput(
        { process: this.selector(), input: { input: { case: 'pty', value: bytes } } },
        { headers: this.headers },
      );
    } catch (err) {
      throw fromConnect(err);
    }
  }

  async resize(size: { cols: number; rows: number }): Promise<void> {
    try {
      await this.rpc.update({ process: this.selector(), pty: { size } }, { headers: this.headers });
    } catch (err) {
      throw fromConnect(err);
    }
  }

  /**
   * Stops receiving output (`exited` resolves -1); the terminal keeps running and `pty.connect(pid)` attaches again.
   */
  disconnect(): void {
    this.controller.abort();
  }

  /** Ends the session (SIGKILL); false when it had already ended. */
  async kill(): Promise<boolean> {
    try {
      await this.rpc.sendSignal({ process: this.selector(), signal: Signal.SIGKILL }, { headers: this.headers });
      await this.exited.catch(() => {});
      return true;
    } catch (err) {
      const e = fromConnect(err);
      if (e.name === 'NotFoundError') return false;
      throw e;
    }
  }
}

export class Pty {
  private rpc: Client<typeof Process>;

  constructor(target: EnvdTarget) {
    this.rpc = envdClient(Process, target);
  }

  /**
   * Re-attaches to a running terminal by its pid (envd's process Connect): output from now on goes to `onData`; the
   * handle sends input, resizes and kills as `create`'s does. Throws `NotFoundError` when no such process runs.
   * @example const again = await sandbox.pty.connect(pty.pid, { onData: (d) => process.stdout.write(d) })
   */
  async connect(pid: number, opts: PtyConnectOpts): Promise<PtyHandle> {
    const headers = { ...userHeader(opts.user), 'Keepalive-Ping-Interval': '30' };
    const controller = new AbortController();
    const stream = this.rpc.connect(
      { process: { selector: { case: 'pid', value: pid } } },
      { headers, timeoutMs: opts.timeoutMs || undefined, signal: controller.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      const ev = first.value?.event?.event;
      if (first.done || ev?.case !== 'start') throw new Error(`the agent did not attach to terminal ${pid}`);
      return new PtyHandle(ev.value.pid, this.rpc, headers, it as any, opts.onData, controller);
    } catch (err) {
      controller.abort();
      throw fromConnect(err);
    }
  }

  async create(opts: PtyCreateOpts): Promise<PtyHandle> {
    const headers = { ...userHeader(opts.user), 'Keepalive-Ping-Interval': '30' };
    const controller = new AbortController();
    const stream = this.rpc.start(
      {
        process: {
          cmd: opts.cmd ?? '/bin/bash',
          args: opts.cmd ? [] : ['-i', '-l'],
          envs: { TERM: 'xterm-256color', ...(opts.envs ?? {}) },
          cwd: opts.cwd,
        },
        pty: { size: { cols: opts.cols, rows: opts.rows } },
      },
      { headers, timeoutMs: opts.timeoutMs || undefined, signal: controller.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      const ev = first.value?.event?.event;
      if (first.done || ev?.case !== 'start') throw new Error('the agent did not report the terminal start');
      return new PtyHandle(ev.value.pid, this.rpc, headers, it as any, opts.onData, controller);
    } catch (err) {
      controller.abort();
      throw fromConnect(err);
    }
  }
}
