/**
 * `tensor-box sandbox connect <id> [--json]` (alias `sandbox info`, as the seeds document): connects, resuming a paused
 * sandbox, and shows its info; `--no-resume` only shows it (a paused sandbox stays paused).
 */
import { Sandbox } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = { 'timeout-ms': { type: 'string' }, 'no-resume': { type: 'boolean' } } as const;

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length !== 1)
    throw new UsageError('usage: tensor-box sandbox connect|info <sandboxId> [--no-resume] [--timeout-ms N]');
  const info = flags['no-resume']
    ? await Sandbox.getInfo(args[0], ctx.conn)
    : await (
        await Sandbox.connect(args[0], {
          ...ctx.conn,
          timeoutMs: flags['timeout-ms'] ? Number(flags['timeout-ms']) : undefined,
        })
      ).getInfo();
  if (ctx.json) return (ctx.out(JSON.stringify(info, null, 2)), 0);
  ctx.out(
    table([
      ['sandboxId', info.sandboxId],
      ['template', `${info.name ?? ''} (${info.templateId})`],
      ['state', info.state],
      ['startedAt', info.startedAt.toISOString()],
      ['endAt', info.endAt.toISOString()],
      ['cpuCount', String(info.cpuCount)],
      ['memoryMB', String(info.memoryMB)],
      ['metadata', JSON.stringify(info.metadata)],
    ]),
  );
  return 0;
}
