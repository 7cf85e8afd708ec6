/**
 * `tensor-box sandbox pause <id>... [--filesystem-only]` and `sandbox resume <id> [--timeout-ms N] [--reboot]`: keep
 * memory, processes and files — or with `--filesystem-only` only the files (resume boots afresh); `--reboot` boots a
 * paused sandbox afresh on its files instead of restoring its memory.
 */
import { Sandbox } from 'tensor-box';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const pause = {
  options: { 'filesystem-only': { type: 'boolean' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (!args.length) throw new UsageError('usage: tensor-box sandbox pause <sandboxId>... [--filesystem-only]');
    const fsOnly = !!flags['filesystem-only'];
    for (const id of args) {
      await Sandbox.pause(id, { ...ctx.conn, keepMemory: fsOnly ? false : undefined });
      ctx.err(`paused ${id}${fsOnly ? ' (filesystem only)' : ''}`);
    }
    return 0;
  },
};

export const resume = {
  options: { 'timeout-ms': { type: 'string' }, reboot: { type: 'boolean' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1) {
      throw new UsageError('usage: tensor-box sandbox resume <sandboxId> [--timeout-ms N] [--reboot]');
    }
    const t = flags['timeout-ms'];
    if (t !== undefined && !/^\d+$/.test(t)) throw new UsageError('--timeout-ms must be a number of milliseconds');
    const onResume = flags.reboot ? ('reboot' as const) : undefined;
    await Sandbox.resume(args[0], { ...ctx.conn, timeoutMs: t === undefined ? undefined : Number(t), onResume });
    ctx.err(`resumed ${args[0]}`);
    return 0;
  },
};
