/**
 * A running command: its output as it arrives, its exit, and the controls to feed or stop it. Detaching
 * (`disconnect`) leaves the process running in the sandbox; `Commands.connect(pid)` attaches again.
 */
import type { ProcessEvent } from '@tensor-box/generated/envd/process';
import { CommandExitError, fromConnect } from './errors.js';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Set when the process did not exit normally (e.g. killed by a signal). */
  error?: string;
}

interface Controls {
  kill(pid: number): Promise<boolean>;
  sendStdin(pid: number, data: string | Uint8Array): Promise<void>;
  closeStdin(pid: number): Promise<void>;
}

interface Callbacks {
  onStdout?: (data: string) => void | Promise<void>;
  onStderr?: (data: string) => void | Promise<void>;
}

export class CommandHandle {
  private stdoutParts: string[] = [];
  private stderrParts: string[] = [];
  private result?: CommandResult;
  private done: Promise<CommandResult>;

  constructor(
    readonly pid: number,
    events: AsyncIterator<{ event?: ProcessEvent }>,
    private controller: AbortController,
    private controls: Controls,
    callbacks: Callbacks,
  ) {
    this.done = this.consume(events, callbacks);
    this.done.catch(() => {});
  }

  get stdout(): string {
    return this.stdoutParts.join('');
  }
  get stderr(): string {
    return this.stderrParts.join('');
  }
  /** The exit code once the command has ended. */
  get exitCode(): number | undefined {
    return this.result?.exitCode;
  }

  private async consume(events: AsyncIterator<{ event?: ProcessEvent }>, cb: Callbacks): Promise<CommandResult> {
    const outDecoder = new TextDecoder();
    const errDecoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await events.next();
        if (done) break;
        const ev = value.event?.event;
        if (ev?.case === 'data') {
          const out = ev.value.output;
          if (out.case === 'stdout') {
            const s = outDecoder.decode(out.value, { stream: true });
            this.stdoutParts.push(s);
            await cb.onStdout?.(s);
          } else if (out.case === 'stderr') {
            const s = errDecoder.decode(out.value, { stream: true });
            this.stderrParts.push(s);
            await cb.onStderr?.(s);
          }
        } else if (ev?.case === 'end') {
          this.result = {
            exitCode: ev.value.exitCode,
            stdout: this.stdout,
            stderr: this.stderr,
            error: ev.value.error || undefined,
          };
          return this.result;
        }
      }
    } catch (err) {
      throw fromConnect(err);
    } finally {
      // connect-es clears a call's deadline timer only when its stream is read to the end (or fails): drain the rest.
      drain(events);
    }
    throw fromConnect(new Error('the command stream ended without an exit status'));
  }

  /** Waits for the end; throws CommandExitError on a non-zero exit code. */
  async wait(): Promise<CommandResult> {
    const r = await this.done;
    if (r.exitCode !== 0) throw new CommandExitError(r.exitCode, r.stdout, r.stderr, r.error);
    return r;
  }

  /** Kills the command (SIGKILL). Returns false when it had already ended. */
  async kill(): Promise<boolean> {
    return this.controls.kill(this.pid);
  }

  async sendStdin(data: string | Uint8Array): Promise<void> {
    return this.controls.sendStdin(this.pid, data);
  }

  async closeStdin(): Promise<void> {
    return this.controls.closeStdin(this.pid);
  }

  /** Stops receiving output; the command keeps running in the sandbox. */
  disconnect(): void {
    this.controller.abort();
  }
}

/** Reads a stream to its end in the background, so connect-es releases the call (deadline timer, connection). */
export function drain(events: AsyncIterator<unknown>): void {
  void (async () => {
    try {
      while (!(await events.next()).done);
    } catch {
      // aborted or failed: the call is released either way
    }
  })();
}
