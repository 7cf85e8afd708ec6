/**
 * Live build output on stderr. The server starts step i of n with a log line `[i/n] TYPE summary`; on a terminal the
 * log scrolls above a one-line progress bar drawn from those lines (redrawn each second with the elapsed time); when
 * stderr is not a terminal the log lines are printed as they are.
 */
import type { BuildLogEntry } from 'tensor-box';

const STEP = /^\[(\d+)\/(\d+)\]\s*(.*)$/;

export class BuildProgress {
  private readonly tty: boolean;
  private step = 0;
  private total = 0;
  private title = 'starting';
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = !!stream.isTTY && process.env.TERM !== 'dumb';
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
      this.draw();
    }
  }

  /** One log entry: printed, and when it starts a step, the bar moves. */
  log(entry: BuildLogEntry): void {
    const m = STEP.exec(entry.message);
    if (m) {
      this.step = Number(m[1]);
      this.total = Number(m[2]);
      this.title = m[3];
    }
    if (!this.tty) {
      this.stream.write(entry.message.endsWith('\n') ? entry.message : `${entry.message}\n`);
      return;
    }
    this.clear();
    this.stream.write(`${m ? `\x1b[1m${entry.message}\x1b[0m` : entry.message.replace(/\n$/, '')}\n`);
    this.draw();
  }

  /** Removes the bar (the build ended, or failed). */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.clear();
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(): void {
    if (!this.timer) return;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const barWidth = 24;
    const fraction = this.total ? (this.step - 1) / this.total : 0;
    const filled = Math.round(fraction * barWidth);
    const secs = Math.floor((Date.now() - this.started) / 1000);
    const elapsed = secs >= 60 ? `${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s` : `${secs}s`;
    const count = this.total ? `${this.step}/${this.total}` : '';
    let line = (`[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ` + `${count} ${this.title}`).replace(
      /\s+/g,
      ' ',
    );
    const tail = ` ${elapsed}`;
    if (line.length + tail.length > width) line = `${line.slice(0, Math.max(0, width - tail.length - 1))}…`;
    this.clear();
    this.stream.write(line + tail);
    this.drawn = true;
  }
}
