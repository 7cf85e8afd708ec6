/** `tensor-box sandbox create [template] --timeout-ms N --env K=V --metadata K=V --volume NAME:/PATH [--json]` */
import { Sandbox } from 'tensor-box';
import { keyValues, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = {
  'timeout-ms': { type: 'string' },
  env: { type: 'string', multiple: true },
  metadata: { type: 'string', multiple: true },
  'on-timeout': { type: 'string' },
  'auto-resume': { type: 'boolean' },
  volume: { type: 'string', multiple: true },
} as const;

/** `--volume NAME:/path` (repeatable) as E2B's volumeMounts (path → volume name). */
function volumeMounts(values: string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf(':');
    if (i <= 0 || v[i + 1] !== '/') throw new UsageError(`--volume expects NAME:/PATH, got '${v}'`);
    out[v.slice(i + 1)] = v.slice(0, i);
  }
  return out;
}

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length > 1) throw new UsageError('sandbox create takes at most one template');
  const timeoutMs = flags['timeout-ms'] !== undefined ? Number(flags['timeout-ms']) : undefined;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0))
    throw new UsageError('--timeout-ms must be a non-negative number');
  const onTimeout = flags['on-timeout'];
  if (onTimeout !== undefined && onTimeout !== 'kill' && onTimeout !== 'pause')
    throw new UsageError("--on-timeout must be 'kill' or 'pause'");
  const sbx = await Sandbox.create(args[0] ?? 'default', {
    ...ctx.conn,
    timeoutMs,
    envs: keyValues(flags.env, 'env'),
    metadata: keyValues(flags.metadata, 'metadata'),
    lifecycle: onTimeout ? { onTimeout, autoResume: flags['auto-resume'] } : undefined,
    volumeMounts: volumeMounts(flags.volume),
  });
  if (ctx.json) {
    const info = await sbx.getInfo();
    ctx.out(JSON.stringify({ ...info, sandboxDomain: sbx.sandboxDomain }, null, 2));
  } else ctx.out(sbx.sandboxId);
  return 0;
}
