/**
 * Template read and delete commands: `template list`, `template get <id>` (with its builds), `template base-images`
 * and `template delete <id>... [--yes]` (asks first on a terminal; needs --yes otherwise).
 */
import { createInterface } from 'node:readline/promises';
import { Template, type TemplateDetails } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { EXIT, UsageError } from '../exit-codes.js';

const iso = (d?: Date) => d?.toISOString() ?? '';

export const list = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box template list [--json]');
    const templates = await Template.list(ctx.conn);
    if (ctx.json) return (ctx.out(JSON.stringify(templates, null, 2)), 0);
    ctx.out(
      table([
        ['TEMPLATE ID', 'NAMES', 'STATUS', 'CPU', 'MEMORY MB', 'DISK MB', 'BUILDS', 'CREATED'],
        ...templates.map((t) => [
          t.templateID,
          t.names.join(','),
          t.buildStatus,
          String(t.cpuCount),
          String(t.memoryMB),
          String(t.diskSizeMB),
          String(t.buildCount),
          iso(t.createdAt),
        ]),
      ]),
    );
    return 0;
  },
};

function details(t: TemplateDetails): string {
  const rows: [string, string | undefined][] = [
    ['templateID', t.templateID],
    ['names', t.names.join(', ')],
    ['status', t.buildStatus],
    ['buildID', t.buildID],
    ['cpuCount', t.cpuCount?.toString()],
    ['memoryMB', t.memoryMB?.toString()],
    ['diskSizeMB', t.diskSizeMB?.toString()],
    ['startCmd', t.startCmd],
    ['readyCmd', t.readyCmd],
    ['parent', t.parentTemplateID],
    ['createdAt', iso(t.createdAt)],
    ['spawnCount', String(t.spawnCount)],
  ];
  let out = table(rows.filter((r): r is [string, string] => !!r[1]));
  if (t.builds.length) {
    out += '\n\nbuilds:\n';
    out += table([
      ['BUILD ID', 'STATUS', 'SOURCE', 'CREATED', 'FINISHED', 'REASON'],
      ...t.builds.map((b) => [
        b.buildID,
        b.status,
        b.source ?? '',
        iso(b.createdAt),
        iso(b.finishedAt),
        b.reason ? `${b.reason.step ? `[${b.reason.step}] ` : ''}${b.reason.message}` : '',
      ]),
    ]);
  }
  return out;
}

export const get = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box template get <templateId|name> [--json]');
    const t = await Template.get(args[0], ctx.conn);
    ctx.out(ctx.json ? JSON.stringify(t, null, 2) : details(t));
    return 0;
  },
};

export const baseImages = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box template base-images [--json]');
    const images = await Template.listBaseImages(ctx.conn);
    if (ctx.json) return (ctx.out(JSON.stringify(images, null, 2)), 0);
    ctx.out(
      table([
        ['IMAGE', 'OS', 'CODENAME', 'STATUS', 'SOURCE', 'DESCRIPTION'],
        ...images.map((i) => [i.dockerImage, i.osVersion, i.codename, i.status, i.source, i.description ?? '']),
      ]),
    );
    return 0;
  },
};

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const del = {
  options: { yes: { type: 'boolean', short: 'y' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (!args.length) throw new UsageError('usage: tensor-box template delete <templateId|name>... [--yes]');
    if (!flags.yes) {
      if (!process.stdin.isTTY) throw new UsageError('pass --yes to delete templates without a prompt');
      if (
        !(await confirm(
          `Delete ${args.length === 1 ? `template ${args[0]}` : `${args.length} templates (${args.join(', ')})`}? ` +
            `[y/N] `,
        ))
      ) {
        ctx.err('nothing deleted');
        return EXIT.error;
      }
    }
    let code = 0;
    for (const id of args) {
      if (await Template.delete(id, ctx.conn)) ctx.err(`deleted ${id}`);
      else {
        ctx.err(`template ${id} not found`);
        code = EXIT.notFound;
      }
    }
    return code;
  },
};
