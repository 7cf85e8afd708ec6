/** `tensor-box sandbox pause <id>...` and `sandbox resume <id> [--timeout-ms N]`: keep memory, processes and files. */
import { Sandbox } from 'tensor-box';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const pause = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (!args.length) throw new UsageError('usage: tensor-box sandbox pause <sandboxId>...');
    for (const id of args) {
      await Sandbox.pause(id, ctx.conn);
      ctx.err(`paused ${id}`);
    }
    return 0;
  },
};

export const resume = {
  options: { 'timeout-ms': { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box sandbox resume <sandboxId> [--timeout-ms N]');
    const t = flags['timeout-ms'];
    if (t !== undefined && !/^\d+$/.test(t)) throw new UsageError('--timeout-ms must be a number of milliseconds');
    await Sandbox.resume(args[0], { ...ctx.conn, timeoutMs: t === undefined ? undefined : Number(t) });
    ctx.err(`resumed ${args[0]}`);
    return 0;
  },
};
