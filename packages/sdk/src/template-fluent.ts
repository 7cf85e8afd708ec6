/**
 * `Template`: the callable entry of the template API. `Template()` starts a fluent definition (`TemplateBuilder`) and
 * `Template.build(t, opts)` builds it; every call of the two-step build API (`Template.create`, `startBuild`,
 * `waitForBuild`, `list`, `get`, `delete`, `uploadFiles`, …) hangs off it too, as on E2B.
 * @example
 * const t = Template().fromBaseImage().pipInstall('requests').setEnvs({ MODE: 'prod' })
 * await Template.build(t, { alias: 'py-requests', onBuildLogs: (e) => console.log(e.message) })
 */
import { InvalidArgumentError } from './errors.js';
import { Template as TemplateCalls } from './template.js';
import { TemplateBuilder, type BuildOpts, type TemplateBuildInfo, type TemplateOptions } from './template-builder.js';

const GLOB = /[*?[]/;

/** The context-relative paths a `copy` source names (a glob in its last segment is expanded here). */
async function expand(root: string, src: string): Promise<string[]> {
  if (!GLOB.test(src)) return [src];
  const path = await import('node:path');
  const fs = await import('node:fs/promises');
  const dir = path.posix.dirname(src);
  if (GLOB.test(dir)) throw new InvalidArgumentError(`copy source '${src}': wildcards only in the last path segment`);
  let re = '';
  for (const ch of path.posix.basename(src))
    re += ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  const names = await fs.readdir(path.join(root, dir)).catch(() => [] as string[]);
  return names.filter((n) => new RegExp(`^${re}$`).test(n)).map((n) => path.posix.join(dir, n));
}

async function pack(root: string, paths: string[]): Promise<Uint8Array> {
  const { packTar } = await import('./tar-pack.js');
  try {
    return await packTar(root, paths);
  } catch (err) {
    throw new InvalidArgumentError(`cannot pack ${paths.join(', ')}: ${(err as Error).message}`);
  }
}

/** Reads a Dockerfile given as a path (a single line naming an existing file); otherwise it is the text. */
async function dockerfileText(d: string): Promise<string> {
  if (d.includes('\n')) return d;
  const fs = await import('node:fs/promises');
  return fs.readFile(d, 'utf8').catch(() => d);
}

/**
 * Builds a fluent definition: registers the template under `alias`, uploads the files of its `copy` steps (and a
 * Dockerfile's context), starts the build and waits until it is ready (`BuildError` with the failing step otherwise).
 */
export async function buildTemplate(t: TemplateBuilder, opts: BuildOpts): Promise<TemplateBuildInfo> {
  if (!(t instanceof TemplateBuilder)) throw new InvalidArgumentError('Template.build needs a Template() definition');
  if (!opts?.alias) throw new InvalidArgumentError('Template.build needs an alias');
  const req = t.toBuildRequest(); // throws before anything is created when the definition has no source
  const root = t.fileContextPath ?? (typeof process !== 'undefined' ? process.cwd() : '.');
  const dockerfile = req.dockerfile === undefined ? undefined : await dockerfileText(req.dockerfile);
  // Every tar is made before the template is registered, so a bad copy source leaves nothing behind.
  const tars = new Map<number, Uint8Array>();
  for (const i of req.steps.keys()) {
    const srcs = t.copySources(i);
    if (!srcs) continue;
    const paths = (await Promise.all(srcs.map((x) => expand(root, x)))).flat();
    if (!paths.length) throw new InvalidArgumentError(`copy source '${srcs.join(', ')}' matches no file in ${root}`);
    tars.set(i, await pack(root, paths));
  }
  const context = dockerfile && /^\s*(COPY|ADD)\s/im.test(dockerfile) ? await pack(root, ['.']) : undefined;
  const created = await TemplateCalls.create(
    {
      name: opts.alias,
      cpuCount: opts.cpuCount,
      memoryMB: opts.memoryMB,
      diskGB: opts.diskGB,
      isolation: opts.isolation,
    },
    opts,
  );
  const { templateID, buildID } = created;
  const upload = async (tar: Uint8Array) => (await TemplateCalls.uploadFiles(templateID, tar, opts)).hash;
  const steps = [];
  for (const [i, s] of req.steps.entries()) {
    const tar = tars.get(i);
    steps.push(tar ? { ...s, filesHash: await upload(tar) } : s);
  }
  const filesHash = context ? await upload(context) : undefined;
  await TemplateCalls.startBuild(
    templateID,
    buildID,
    { ...req, dockerfile, filesHash, steps, force: opts.skipCache || req.force || undefined } as TemplateBuildOptsLoose,
    opts,
  );
  const s = await TemplateCalls.waitForBuild(
    templateID,
    buildID,
    { onLog: opts.onBuildLogs, timeoutMs: opts.timeoutMs },
    opts,
  );
  return { templateID, buildID, alias: opts.alias, status: s.status };
}

type TemplateBuildOptsLoose = Parameters<typeof TemplateCalls.startBuild>[2];

type TemplateStatics = { [K in Exclude<keyof typeof TemplateCalls, 'prototype'>]: (typeof TemplateCalls)[K] };

/** `Template()` → a new definition; `Template.build(t, opts)`; and the build API's calls (`Template.create`, …). */
export type TemplateFn = ((opts?: TemplateOptions) => TemplateBuilder) &
  TemplateStatics & { build: typeof buildTemplate };

const statics = Object.fromEntries(
  Object.getOwnPropertyNames(TemplateCalls)
    .filter((k) => typeof (TemplateCalls as any)[k] === 'function')
    .map((k) => [k, (TemplateCalls as any)[k].bind(TemplateCalls)]),
) as TemplateStatics;

export const Template: TemplateFn = Object.assign((opts?: TemplateOptions) => new TemplateBuilder(opts), statics, {
  build: buildTemplate,
});
/** A template definition (what `Template()` returns). */
export type Template = TemplateBuilder;
