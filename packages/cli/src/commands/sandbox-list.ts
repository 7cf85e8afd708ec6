/**
 * `tensor-box sandbox list [--state running --state paused] [--metadata K=V] [--template T] [--started-after TIME]
 * [--order asc|desc] [--json]` (alias ls)
 */
import { Sandbox, type SandboxState } from 'tensor-box';
import { keyValues, table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = {
  state: { type: 'string', multiple: true },
  metadata: { type: 'string', multiple: true },
  limit: { type: 'string' },
  template: { type: 'string' },
  'started-after': { type: 'string' },
  order: { type: 'string' },
} as const;

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length) throw new UsageError('sandbox list takes no arguments');
  const states = ((flags.state as string[] | undefined) ?? []).flatMap((s) => s.split(','));
  for (const s of states)
    if (s !== 'running' && s !== 'paused') throw new UsageError(`--state must be running or paused, got '${s}'`);
  const order = flags.order as string | undefined;
  if (order !== undefined && order !== 'asc' && order !== 'desc') {
    throw new UsageError(`--order must be asc or desc, got '${order}'`);
  }
  let startedAfter: Date | undefined;
  if (flags['started-after'] !== undefined) {
    startedAfter = new Date(flags['started-after']);
    if (Number.isNaN(startedAfter.getTime())) {
      throw new UsageError(`--started-after must be a date-time, got '${flags['started-after']}'`);
    }
  }
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new UsageError(`--limit must be 1..100, got '${flags.limit}'`);
    }
  }
  const pager = Sandbox.list({
    ...ctx.conn,
    query: {
      state: states.length ? (states as SandboxState[]) : undefined,
      metadata: keyValues(flags.metadata, 'metadata'),
      template: flags.template as string | undefined,
      startedAfter,
    },
    order,
    limit,
  });
  const items = limit ? await pager.nextItems() : await pager; // --limit: the first N only
  if (ctx.json) return (ctx.out(JSON.stringify(items, null, 2)), 0);
  if (!items.length) return (ctx.err('no sandboxes'), 0);
  ctx.out(
    table([
      ['SANDBOX ID', 'TEMPLATE', 'STATE', 'ISOLATION', 'STARTED', 'ENDS', 'CPU', 'MEMORY', 'METADATA'],
      ...items.map((s) => [
        s.sandboxId,
        s.name ?? s.templateId,
        s.state,
        s.isolation ?? 'container',
        s.startedAt.toISOString(),
        s.endAt.toISOString(),
        String(s.cpuCount),
        `${s.memoryMB} MiB`,
        Object.entries(s.metadata)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      ]),
    ]),
  );
  return 0;
}
