/**
 * Team commands (admin key): `team create <name>`, `team list`, `team get <id>` (quotas and usage),
 * `team quota <id> --max-running-sandboxes N --max-vcpus N --max-memory-mb N --max-disk-mb N --max-templates N`
 * (`default` returns one to the server's default), `team delete <id>`.
 */
import { Team, type TeamDetail } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

const QUOTA_FLAGS = {
  'max-running-sandboxes': 'maxRunningSandboxes',
  'max-vcpus': 'maxVcpus',
  'max-memory-mb': 'maxMemoryMB',
  'max-disk-mb': 'maxDiskMB',
  'max-templates': 'maxTemplates',
} as const;

function detail(t: TeamDetail): string {
  const q = t.quotas as Record<string, number>;
  const u = t.usage as Record<string, number>;
  const used: Record<string, number> = {
    maxRunningSandboxes: u.runningSandboxes,
    maxVcpus: u.vcpus,
    maxMemoryMB: u.memoryMB,
    maxDiskMB: u.diskMB,
    maxTemplates: u.templates,
  };
  return (
    table([
      ['teamID', t.teamID],
      ['name', t.name],
      ['createdAt', t.createdAt],
    ]) +
    '\n\n' +
    table([['QUOTA', 'USED', 'LIMIT'], ...Object.keys(q).map((k) => [k, String(used[k] ?? ''), String(q[k])])]) +
    `\n\npaused sandboxes: ${u.pausedSandboxes}, snapshots: ${u.snapshots}`
  );
}

export const create = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box team create <name> [--json]');
    const t = await Team.create(args[0], ctx.conn);
    ctx.out(ctx.json ? JSON.stringify(t, null, 2) : t.teamID);
    return 0;
  },
};

export const list = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box team list [--json]');
    const teams = await Team.list(ctx.conn);
    ctx.out(
      ctx.json
        ? JSON.stringify(teams, null, 2)
        : table([['TEAM ID', 'NAME', 'CREATED'], ...teams.map((t) => [t.teamID, t.name, t.createdAt])]),
    );
    return 0;
  },
};

export const get = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box team get <teamId> [--json]');
    const t = await Team.get(args[0], ctx.conn);
    ctx.out(ctx.json ? JSON.stringify(t, null, 2) : detail(t));
    return 0;
  },
};

export const quota = {
  options: Object.fromEntries(Object.keys(QUOTA_FLAGS).map((f) => [f, { type: 'string' as const }])) as Record<
    keyof typeof QUOTA_FLAGS,
    { type: 'string' }
  >,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1)
      throw new UsageError(
        `usage: tensor-box team quota <teamId> ${Object.keys(QUOTA_FLAGS)
          .map((f) => `[--${f} N|default]`)
          .join(' ')}`,
      );
    const quotas: Record<string, number | null> = {};
    for (const [flag, name] of Object.entries(QUOTA_FLAGS)) {
      const v = flags[flag];
      if (v === undefined) continue;
      if (v !== 'default' && !/^\d+$/.test(v))
        throw new UsageError(`--${flag} expects a whole number or 'default', got '${v}'`);
      quotas[name] = v === 'default' ? null : Number(v);
    }
    const t = await Team.setQuotas(args[0], quotas, ctx.conn);
    ctx.out(ctx.json ? JSON.stringify(t, null, 2) : detail(t));
    return 0;
  },
};

export const del = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box team delete <teamId>');
    await Team.delete(args[0], ctx.conn);
    ctx.err(`team ${args[0]} deleted`);
    return 0;
  },
};
