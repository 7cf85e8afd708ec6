/**
 * `tensor-box template build [--config e2b.toml] [--path DIR] [--no-wait] [--json]`: reads e2b.toml, registers the
 * build (`Template.create` — an existing name gets a new build of the same template), writes template_id and build_id
 * back into the file, uploads the build context when a Dockerfile copies files (the directory given by --path, else
 * the config's directory, minus .dockerignore and the config itself), starts the build and follows its log with a
 * progress bar until it is ready. Prints the template ID on stdout; a failed build exits 1 with the failing step and
 * exit code.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildError, Template } from 'tensor-box';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { CONFIG_FILE, ConfigError, parseConfig, updateConfigIds } from '../template-config.js';
import { tarContext } from '../template-context.js';
import { BuildProgress } from '../template-progress.js';

export const options = {
  config: { type: 'string' },
  path: { type: 'string' },
  'no-wait': { type: 'boolean' },
} as const;

const shown = (p: string) => path.relative(process.cwd(), p) || p;
const size = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${what} ${shown(file)} not found`);
    throw err;
  }
}

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length)
    throw new UsageError('usage: tensor-box template build [--config e2b.toml] [--path DIR] [--no-wait] [--json]');
  const configFile = path.resolve(flags.config ?? path.join(flags.path ?? '.', CONFIG_FILE));
  const text = await readText(configFile, 'config').catch((err) => {
    throw err instanceof UsageError && !flags.config
      ? new UsageError(`${err.message}; create one with: tensor-box template init --name NAME`)
      : err;
  });
  const cfg = parseConfig(text, shown(configFile));
  const name = cfg.name ?? cfg.templateId;
  if (!name) throw new ConfigError(`${shown(configFile)}: needs a name (or the template_id of an existing template)`);
  const baseDir = path.dirname(configFile);
  const contextDir = path.resolve(flags.path ?? baseDir);

  let dockerfile: string | undefined;
  if (cfg.dockerfile) dockerfile = await readText(path.resolve(baseDir, cfg.dockerfile), 'Dockerfile');
  const needsContext = dockerfile !== undefined && /^\s*(COPY|ADD)\s/im.test(dockerfile);

  const created = await Template.create(
    { name, cpuCount: cfg.cpuCount, memoryMB: cfg.memoryMB, diskGB: cfg.diskGB, isolation: cfg.isolation },
    ctx.conn,
  );
  const { templateID, buildID } = created;
  if (cfg.templateId && cfg.templateId !== templateID)
    ctx.err(`note: '${name}' is template ${templateID}, not ${cfg.templateId} as the config said; updating it`);
  await writeFile(configFile, updateConfigIds(text, { templateId: templateID, buildId: buildID }));
  ctx.err(`template ${name} (${templateID}), build ${buildID}`);

  let filesHash: string | undefined;
  if (needsContext) {
    // The config file is not part of the context: build_id changes in it with every build.
    const { tar, entries } = await tarContext(contextDir, [
      path.relative(contextDir, configFile).split(path.sep).join('/'),
    ]);
    const up = await Template.uploadFiles(templateID, tar, ctx.conn);
    filesHash = up.hash;
    ctx.err(
      up.uploaded
        ? `uploaded the build context ${shown(contextDir)} (${entries} entries, ${size(tar.length)})`
        : 'build context unchanged (already uploaded)',
    );
  }

  await Template.startBuild(
    templateID,
    buildID,
    {
      fromTemplate: dockerfile === undefined && !cfg.fromImage ? (cfg.fromTemplate ?? 'default') : undefined,
      fromImage: cfg.fromImage,
      dockerfile,
      filesHash,
      steps: cfg.steps,
      startCmd: cfg.startCmd,
      readyCmd: cfg.readyCmd,
    },
    ctx.conn,
  );
  const result = { templateID, buildID, name };
  if (flags['no-wait']) {
    ctx.err(`build started; follow it with: tensor-box template get ${templateID}`);
    ctx.out(ctx.json ? JSON.stringify({ ...result, status: 'building' }, null, 2) : templateID);
    return 0;
  }

  const progress = new BuildProgress();
  // Ctrl-C stops following, not the build: clear the bar, say how to follow it, then let the signal end the process.
  const onInt = () => {
    progress.end();
    ctx.err(`\nstopped following; the build goes on: tensor-box template get ${templateID}`);
    process.kill(process.pid, 'SIGINT');
  };
  process.once('SIGINT', onInt);
  try {
    await Template.waitForBuild(templateID, buildID, { ...ctx.conn, onLog: (e) => progress.log(e) });
  } catch (err) {
    if (err instanceof BuildError) throw new Error(failure(err));
    throw err;
  } finally {
    process.removeListener('SIGINT', onInt);
    progress.end();
  }
  ctx.err(`template ${name} is ready: tensor-box sandbox create ${name}`);
  ctx.out(ctx.json ? JSON.stringify({ ...result, status: 'ready' }, null, 2) : templateID);
  return 0;
}

function failure(err: BuildError): string {
  const says = (re: RegExp) => re.test(err.message);
  const where = [
    err.step && !err.message.includes(err.step) ? `step '${err.step}'` : '',
    err.exitCode !== undefined && !says(new RegExp(`exit(ed)?( with)?( code| status)?:? ${err.exitCode}\\b`, 'i'))
      ? `exit code ${err.exitCode}`
      : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `build ${err.buildID} failed: ${err.message}${where ? ` (${where})` : ''}`;
}
