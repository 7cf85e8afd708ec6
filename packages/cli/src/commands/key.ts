/**
 * API key commands: `key create --team <id> --name <n>` (prints the key — shown this once), `key list --team <id>`,
 * `key revoke --team <id> <keyId>`.
 */
import { ApiKey } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

function team(flags: Record<string, any>, usage: string): string {
  if (!flags.team) throw new UsageError(usage);
  return flags.team;
}

export const create = {
  options: { team: { type: 'string' }, name: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    const usage = 'usage: tensor-box key create --team <teamId> --name <name> [--json]';
    if (args.length || !flags.name) throw new UsageError(usage);
    const k = await ApiKey.create(team(flags, usage), flags.name, ctx.conn);
    if (ctx.json) ctx.out(JSON.stringify(k, null, 2));
    else {
      ctx.out(k.key);
      ctx.err(`key ${k.id} (${k.name}) created; it is shown only now`);
    }
    return 0;
  },
};

export const list = {
  options: { team: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    const usage = 'usage: tensor-box key list --team <teamId> [--json]';
    if (args.length) throw new UsageError(usage);
    const keys = await ApiKey.list(team(flags, usage), ctx.conn);
    if (ctx.json) return (ctx.out(JSON.stringify(keys, null, 2)), 0);
    ctx.out(
      table([
        ['KEY ID', 'NAME', 'MASK', 'CREATED', 'LAST USED'],
        ...keys.map((k) => [k.id, k.name, k.mask, k.createdAt, k.lastUsed ?? '']),
      ]),
    );
    return 0;
  },
};

export const revoke = {
  options: { team: { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    const usage = 'usage: tensor-box key revoke --team <teamId> <keyId>...';
    if (!args.length) throw new UsageError(usage);
    const teamId = team(flags, usage);
    for (const id of args) await ApiKey.revoke(teamId, id, ctx.conn);
    ctx.err(`revoked ${args.join(', ')}`);
    return 0;
  },
};
