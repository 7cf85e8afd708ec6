/**
 * A minimal QMP (QEMU Machine Protocol) client over the VM's control socket: one command at a time, replies matched in
 * order, asynchronous events skipped. Used for snapshot save (stop + migrate) and restore (migrate-incoming), and to
 * read the run state. The socket is host-side only; the guest cannot reach it.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export class Qmp {
  private buf = '';
  private waiters: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  private closed?: Error;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    const fail = (e: Error) => {
      this.closed = e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('QMP socket closed')));
  }

  /** Connects (retrying while QEMU starts, up to `timeoutMs`), reads the greeting and enters command mode. */
  static async connect(socketPath: string, timeoutMs = 10_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(socketPath, () => resolve(s));
          s.once('error', reject);
        });
        const qmp = new Qmp(sock);
        await qmp.next(); // greeting
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`cannot reach QEMU's QMP socket: ${(err as Error).message}`);
        await sleep(10);
      }
    }
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('event' in msg) continue;
      const w = this.waiters.shift();
      if (!w) continue;
      if (msg.error) w.reject(new Error(`QMP: ${(msg.error as { desc?: string }).desc ?? JSON.stringify(msg.error)}`));
      else w.resolve(msg.return ?? msg.QMP);
    }
  }

  private next(): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const reply = this.next() as Promise<T>;
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    return reply;
  }

  /** Polls query-migrate until the migration completed (or failed). */
  async waitMigration(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (st.status === 'completed') return;
      if (st.status === 'failed' || st.status === 'cancelled') {
        throw new Error(`migration ${st.status}${st['error-desc'] ? `: ${st['error-desc']}` : ''}`);
      }
      if (Date.now() > deadline) throw new Error(`migration still ${st.status ?? 'not started'} after ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
