/**
 * Denied egress, as the kernel logged it: egress.ts's drop rule logs new connections to denied addresses (at most 10 a
 * second per sandbox) with the prefix `tensor-box egress <link>`; this reader polls /dev/kmsg (non-blocking, once a
 * second, only while some sandbox has rules) and hands each such record to `onDenied`. Records from before it started
 * are skipped (the kernel's buffer holds older ones, maybe of links that belonged to other sandboxes then).
 */
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';

export interface DeniedConnection {
  ifname: string;
  destination: string;
  protocol: string;
  port?: number;
}

/** Parses one /dev/kmsg record (`prio,seq,usec,flags;message`) when it is ours. */
export function parseDenied(record: string): { usec: number; denied: DeniedConnection } | undefined {
  const semi = record.indexOf(';');
  if (semi < 0) return undefined;
  const msg = record.slice(semi + 1);
  const m = /^tensor-box egress (\S+) .*?\bDST=(\S+).*?\bPROTO=(\S+)(?:.*?\bDPT=(\d+))?/.exec(msg);
  if (!m) return undefined;
  const usec = Number(record.slice(0, semi).split(',')[2]);
  return { usec, denied: { ifname: m[1], destination: m[2], protocol: m[3], ...(m[4] ? { port: Number(m[4]) } : {}) } };
}

export class EgressLogReader {
  private fd?: number;
  private timer?: NodeJS.Timeout;
  private sinceUsec = 0;
  private readonly buf = Buffer.alloc(8192);

  constructor(private readonly onDenied: (d: DeniedConnection) => void) {}

  start(): void {
    if (this.timer) return;
    try {
      this.fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return; // no kernel log here: denied connections are only dropped
    }
    this.sinceUsec = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e6;
    this.timer = setInterval(() => this.poll(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private poll(): void {
    for (let i = 0; i < 10_000 && this.fd !== undefined; i++) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records were overwritten before we read them: go on with the next
        return; // EAGAIN: nothing more for now
      }
      const rec = parseDenied(this.buf.toString('utf8', 0, n));
      if (rec && rec.usec >= this.sinceUsec) this.onDenied(rec.denied);
    }
  }
}
