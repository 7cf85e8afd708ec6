/**
 * A terminal's connection to the sandbox's shell over the control plane's PTY WebSocket (`/sandboxes/{id}/pty`, see
 * packages/server/src/ws/pty.ts): a fresh token per connect, keystrokes as binary frames, resizes as JSON, output
 * into xterm. A dropped socket reconnects with backoff and re-attaches to the same shell (`?pid=`) — it survives a
 * network blip or a pause/resume of the sandbox; when that shell is gone, a new one starts.
 */
import type { Terminal } from '@xterm/xterm';
import { NotFoundError } from 'tensor-box';
import { errorMessage, wsToken } from './api';

export type TerminalStatus = 'connecting' | 'connected' | 'reconnecting' | 'waiting' | 'exited';

const MAX_BACKOFF_MS = 5000;

export class TerminalSession {
  private ws?: WebSocket;
  private pid?: number;
  private attempt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private disposed = false;
  private exited = false;
  private held = false;
  private readonly enc = new TextEncoder();

  constructor(
    private readonly sandboxId: string,
    private readonly term: Terminal,
    private readonly onStatus: (s: TerminalStatus, message?: string) => void,
  ) {
    term.onData((d) => this.sendRaw(this.enc.encode(d)));
    term.onResize(({ cols, rows }) => this.sendText({ type: 'resize', cols, rows }));
  }

  start(): void {
    void this.connect();
  }

  /** Stops reconnecting while the sandbox is paused; connects at once when it runs again. */
  hold(held: boolean): void {
    if (this.held === held) return;
    this.held = held;
    if (held) {
      clearTimeout(this.timer);
      if (!this.exited) this.onStatus('waiting', 'The sandbox is paused; the terminal reconnects when it resumes.');
    } else if (!this.exited && this.ws?.readyState !== WebSocket.OPEN) {
      clearTimeout(this.timer);
      this.attempt = 0;
      void this.connect();
    }
  }

  /** A new shell (after the last one exited). */
  restart(): void {
    this.pid = undefined;
    this.exited = false;
    this.ws?.close();
    this.term.reset();
    void this.connect();
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  private sendRaw(data: Uint8Array) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  private sendText(msg: unknown) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private retry(message?: string) {
    if (this.disposed || this.exited || this.held) return;
    const delay = Math.min(MAX_BACKOFF_MS, 400 * 2 ** this.attempt++);
    this.onStatus('reconnecting', message);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private async connect(): Promise<void> {
    if (this.disposed || this.held) return;
    this.onStatus(this.attempt || this.pid ? 'reconnecting' : 'connecting');
    let token: string;
    try {
      token = await wsToken(this.sandboxId);
    } catch (err) {
      if (err instanceof NotFoundError) return this.onStatus('exited', 'The sandbox is gone.');
      return this.retry(errorMessage(err));
    }
    if (this.disposed || this.held) return;
    const q = new URLSearchParams({ cols: String(this.term.cols), rows: String(this.term.rows), token });
    if (this.pid) q.set('pid', String(this.pid));
    const ws = new WebSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sandboxes/${this.sandboxId}/pty?${q}`,
    );
    ws.binaryType = 'arraybuffer';
    this.ws?.close();
    this.ws = ws;
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return this.term.write(new Uint8Array(e.data as ArrayBuffer));
      const msg = JSON.parse(e.data);
      if (msg.type === 'started') {
        this.pid = msg.pid;
        this.attempt = 0;
        this.onStatus('connected');
        // The window may have changed size while the socket was down.
        this.sendText({ type: 'resize', cols: this.term.cols, rows: this.term.rows });
      } else if (msg.type === 'exit') {
        this.exited = true;
        this.pid = undefined;
        this.term.write(`\r\n\x1b[2m[the shell exited with code ${msg.exitCode}]\x1b[0m\r\n`);
        this.onStatus('exited', `The shell exited with code ${msg.exitCode}.`);
      } else if (msg.type === 'error' && msg.code === 404 && this.pid) {
        // Re-attach to a shell that no longer exists: start a new one.
        this.pid = undefined;
        this.term.write('\r\n\x1b[2m[the previous shell is gone; starting a new one]\x1b[0m\r\n');
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.disposed || this.exited) return;
      this.retry('The connection dropped; reconnecting…');
    };
  }
}
