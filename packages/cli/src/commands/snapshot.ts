/** `sandbox snapshot <id> [--name N]`, `sandbox fork <id> [--count N]`, `snapshot list [--sandbox-id ID]`. */
import { Sandbox, Snapshot } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const snapshot = {
  options: { name: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box sandbox snapshot <sandboxId> [--name NAME]');
    const snap = await Snapshot.create(args[0], flags.name, ctx.conn);
    if (ctx.json) return (ctx.out(JSON.stringify(snap, null, 2)), 0);
    ctx.out(snap.snapshotId);
    return 0;
  },
};

export const fork = {
  options: { count: { type: 'string' }, 'timeout-ms': { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1)
      throw new UsageError('usage: tensor-box sandbox fork <sandboxId> [--count N] [--timeout-ms N]');
    for (const f of ['count', 'timeout-ms']) {
      if (flags[f] !== undefined && !/^\d+$/.test(flags[f])) throw new UsageError(`--${f} must be a whole number`);
    }
    const src = await Sandbox.connect(args[0], ctx.conn);
    const copies = await src.fork({
      count: flags.count === undefined ? undefined : Number(flags.count),
      timeoutMs: flags['timeout-ms'] === undefined ? undefined : Number(flags['timeout-ms']),
    });
    if (ctx.json)
      return (
        ctx.out(
          JSON.stringify(
            copies.map((c) => ({ sandboxId: c.sandboxId })),
            null,
            2,
          ),
        ),
        0
      );
    for (const c of copies) ctx.out(c.sandboxId);
    return 0;
  },
};

export const list = {
  options: { 'sandbox-id': { type: 'string' }, name: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box snapshot list [--sandbox-id ID] [--name NAME]');
    const snaps = await Snapshot.list({ ...ctx.conn, sandboxId: flags['sandbox-id'], name: flags.name });
    if (ctx.json) return (ctx.out(JSON.stringify(snaps, null, 2)), 0);
    ctx.out(
      table([
        ['SNAPSHOT ID', 'SANDBOX ID', 'NAME', 'CREATED'],
        ...snaps.map((x) => [x.snapshotId, x.sandboxId, x.name ?? '', x.createdAt?.toISOString() ?? '']),
      ]),
    );
    return 0;
  },
};
