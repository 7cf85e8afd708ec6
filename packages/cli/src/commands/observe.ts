/** `sandbox logs <id> [--follow] [--level L]` and `sandbox metrics <id> [--follow]`: data on stdout, a line each. */
import { Sandbox, NotFoundError } from 'tensor-box';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const logs = {
  options: { follow: { type: 'boolean', short: 'f' }, level: { type: 'string' }, search: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1)
      throw new UsageError(
        'usage: tensor-box sandbox logs <sandboxId> [--follow] [--level debug|info|warn|error] [--search TEXT]',
      );
    if (flags.level !== undefined && !LEVELS.includes(flags.level))
      throw new UsageError('--level must be debug, info, warn or error');
    let start: Date | undefined;
    const print = async () => {
      const entries = await Sandbox.getLogs(args[0], {
        ...ctx.conn,
        start,
        level: flags.level as Level | undefined,
        search: flags.search,
      });
      for (const e of entries) {
        ctx.out(ctx.json ? JSON.stringify(e) : `${e.timestamp.toISOString()}  ${e.level.padEnd(5)}  ${e.message}`);
        start = e.timestamp;
      }
    };
    await print();
    if (!flags.follow) return 0;
    start ??= new Date(Date.now() - 1);
    for (;;) {
      await sleep(1000);
      // Logs outlive their sandbox: following ends (normally) once the sandbox is gone and its last entries are out.
      const gone = await Sandbox.getInfo(args[0], ctx.conn).then(
        () => false,
        (err) => {
          if (err instanceof NotFoundError) return true;
          throw err;
        },
      );
      await print();
      if (gone) return 0;
    }
  },
};

export const metrics = {
  options: { follow: { type: 'boolean', short: 'f' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box sandbox metrics <sandboxId> [--follow]');
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    let last = 0;
    if (!ctx.json) ctx.out('TIMESTAMP                 CPU%   CPUS  MEMORY                DISK');
    for (;;) {
      let samples;
      try {
        samples = await Sandbox.getMetrics(args[0], ctx.conn);
      } catch (err) {
        if (flags.follow && last && err instanceof NotFoundError) return 0;
        throw err;
      }
      for (const m of samples) {
        if (m.timestamp.getTime() <= last) continue;
        last = m.timestamp.getTime();
        ctx.out(
          ctx.json
            ? JSON.stringify(m)
            : `${m.timestamp.toISOString()}  ${m.cpuUsedPct.toFixed(1).padStart(5)}  ` +
                `${String(m.cpuCount).padStart(4)}  ${`${mb(m.memUsed)} / ${mb(m.memTotal)}`.padEnd(20)}  ` +
                `${mb(m.diskUsed)} / ${mb(m.diskTotal)}`,
        );
      }
      if (!flags.follow) return 0;
      await sleep(1000);
    }
  },
};
