/**
 * `tensor-box sandbox exec <id> [--user U] [--cwd D] [--env K=V] [--timeout-ms N] -- <command...>`: runs a command,
 * streams its output, and exits with its exit code.
 */
import { Sandbox, CommandExitError } from 'tensor-box';
import { keyValues, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = {
  user: { type: 'string' },
  cwd: { type: 'string' },
  env: { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
} as const;

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  const [id, ...cmd] = args;
  if (!id || !cmd.length) throw new UsageError('usage: tensor-box sandbox exec <sandboxId> -- <command...>');
  const sbx = await Sandbox.connect(id, ctx.conn);
  const command = cmd.length === 1 ? cmd[0] : cmd.map(quote).join(' ');
  try {
    await sbx.commands.run(command, {
      user: flags.user,
      cwd: flags.cwd,
      envs: keyValues(flags.env, 'env'),
      timeoutMs: flags['timeout-ms'] !== undefined ? Number(flags['timeout-ms']) : 0,
      onStdout: (d) => void process.stdout.write(d),
      onStderr: (d) => void process.stderr.write(d),
    });
    return 0;
  } catch (err) {
    if (err instanceof CommandExitError) return err.exitCode || 1;
    throw err;
  }
}
