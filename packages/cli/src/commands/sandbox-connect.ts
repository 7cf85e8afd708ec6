/** `tensor-box sandbox connect <id> [--json]`: connects (resuming a paused sandbox) and shows its info; `sandbox info` only shows it. */
import { Sandbox } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = { 'timeout-ms': { type: 'string' } } as const;

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length !== 1) throw new UsageError(`usage: tensor-box sandbox ${flags['no-resume'] ? 'info' : 'connect'} <sandboxId>`);
  const info = flags['no-resume']
    ? await Sandbox.getInfo(args[0], ctx.conn)
    : await (await Sandbox.connect(args[0], { ...ctx.conn, timeoutMs: flags['timeout-ms'] ? Number(flags['timeout-ms']) : undefined })).getInfo();
  if (ctx.json) return ctx.out(JSON.stringify(info, null, 2)), 0;
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
