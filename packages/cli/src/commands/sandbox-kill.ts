/** `tensor-box sandbox kill <id>...`: kills each; exits 3 when any was not found. */
import { Sandbox } from 'tensor-box';
import type { Ctx } from '../context.js';
import { EXIT, UsageError } from '../exit-codes.js';

export const options = {} as const;

export async function run(ctx: Ctx, args: string[]): Promise<number> {
  if (!args.length) throw new UsageError('usage: tensor-box sandbox kill <sandboxId>...');
  let code = 0;
  for (const id of args) {
    if (await Sandbox.kill(id, ctx.conn)) ctx.err(`killed ${id}`);
    else {
      ctx.err(`sandbox ${id} not found`);
      code = EXIT.notFound;
    }
  }
  return code;
}
