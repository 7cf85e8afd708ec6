/**
 * Volume commands: `volume create <name> [--size-mb N]`, `volume list`, `volume get <id|name>`,
 * `volume delete <id|name>...` (refused while a sandbox mounts it). Mount one with
 * `sandbox create --volume NAME:/path`.
 */
import { Volume, type VolumeInfo } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

const row = (v: VolumeInfo) => [v.volumeID, v.name, v.sizeMB === undefined ? '' : String(v.sizeMB), v.createdAt ?? ''];
const HEAD = ['VOLUME ID', 'NAME', 'SIZE MB', 'CREATED'];

export const create = {
  options: { 'size-mb': { type: 'string' } } as const,
  async run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box volume create <name> [--size-mb N]');
    if (flags['size-mb'] !== undefined && !/^\d+$/.test(flags['size-mb']))
      throw new UsageError('--size-mb must be a whole number');
    const sizeMB = flags['size-mb'] === undefined ? undefined : Number(flags['size-mb']);
    const v = await Volume.create(args[0], { ...ctx.conn, sizeMB });
    if (ctx.json)
      return (ctx.out(JSON.stringify({ volumeID: v.volumeId, name: v.name, sizeMB: v.sizeMB }, null, 2)), 0);
    ctx.out(v.volumeId);
    return 0;
  },
};

export const list = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box volume list');
    const vols = await Volume.list(ctx.conn);
    if (ctx.json) return (ctx.out(JSON.stringify(vols, null, 2)), 0);
    ctx.out(table([HEAD, ...vols.map(row)]));
    return 0;
  },
};

export const get = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box volume get <id|name>');
    const v = await Volume.get(args[0], ctx.conn);
    const info = { volumeID: v.volumeId, name: v.name, sizeMB: v.sizeMB };
    if (ctx.json) return (ctx.out(JSON.stringify(info, null, 2)), 0);
    ctx.out(table([HEAD.slice(0, 3), [v.volumeId, v.name, String(v.sizeMB ?? '')]]));
    return 0;
  },
};

export const del = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (!args.length) throw new UsageError('usage: tensor-box volume delete <id|name>...');
    for (const id of args) await Volume.delete(id, ctx.conn);
    return 0;
  },
};
