/**
 * `tensor-box template init --name N [--from-template T | --from-image I | --dockerfile F] [--cpu C] [--memory M]
 * [--disk-gb G] [--isolation container|microvm] [--start-cmd …] [--ready-cmd …] [--path dir] [--force]`: writes an
 * e2b.toml without contacting the server. Without a source the template derives from `default`; a Dockerfile path is
 * stored relative to the file.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { CONFIG_FILE, ISOLATIONS, renderConfig } from '../template-config.js';

export const options = {
  name: { type: 'string' },
  'from-template': { type: 'string' },
  'from-image': { type: 'string' },
  dockerfile: { type: 'string' },
  cpu: { type: 'string' },
  memory: { type: 'string' },
  'disk-gb': { type: 'string' },
  isolation: { type: 'string' },
  'start-cmd': { type: 'string' },
  'ready-cmd': { type: 'string' },
  path: { type: 'string' },
  force: { type: 'boolean' },
} as const;

const USAGE =
  'usage: tensor-box template init --name NAME [--from-template T | --from-image IMAGE | --dockerfile FILE] ' +
  '[--cpu N] [--memory MB] [--disk-gb GB] [--isolation container|microvm] [--start-cmd CMD] [--ready-cmd CMD] ' +
  '[--path DIR] [--force]';

function count(flags: Record<string, any>, flag: string, fallback?: number): number | undefined {
  const v = flags[flag];
  if (v === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${flag} must be a positive whole number`);
  return Number(v);
}

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length || !flags.name) throw new UsageError(USAGE);
  const sources = ['from-template', 'from-image', 'dockerfile'].filter((f) => flags[f] !== undefined);
  if (sources.length > 1)
    throw new UsageError(
      `give one of --from-template, --from-image or --dockerfile (got ${sources.map((s) => `--${s}`).join(', ')})`,
    );
  if (flags.isolation !== undefined && !ISOLATIONS.includes(flags.isolation))
    throw new UsageError(`--isolation must be one of ${ISOLATIONS.join(', ')}`);
  const dir = path.resolve(flags.path ?? '.');
  if (!existsSync(dir)) throw new UsageError(`--path ${flags.path}: no such directory`);
  const file = path.join(dir, CONFIG_FILE);
  if (existsSync(file) && !flags.force)
    throw new UsageError(`${path.relative(process.cwd(), file) || file} exists; pass --force to overwrite it`);
  let dockerfile: string | undefined;
  if (flags.dockerfile !== undefined) {
    const abs = path.resolve(flags.dockerfile);
    if (!existsSync(abs)) throw new UsageError(`--dockerfile ${flags.dockerfile}: no such file`);
    dockerfile = path.relative(dir, abs).split(path.sep).join('/');
  }
  const text = renderConfig({
    name: flags.name,
    fromTemplate: flags['from-template'] ?? (sources.length ? undefined : 'default'),
    fromImage: flags['from-image'],
    dockerfile,
    cpuCount: count(flags, 'cpu', 2),
    memoryMB: count(flags, 'memory', 2048),
    diskGB: count(flags, 'disk-gb'),
    isolation: flags.isolation,
    startCmd: flags['start-cmd'],
    readyCmd: flags['ready-cmd'],
  });
  await writeFile(file, text);
  ctx.err(
    `wrote ${path.relative(process.cwd(), file) || file}; build it with: tensor-box template build${
      flags.path ? ` --path ${flags.path}` : ''
    }`,
  );
  if (ctx.json) ctx.out(JSON.stringify({ path: file }, null, 2));
  return 0;
}
