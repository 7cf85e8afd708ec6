/**
 * The bodies of the two kinds of template build. A step build (E2B's build API, a Dockerfile or steps): the parent
 * template's layers (or a base image's layer, fetched or built), the steps run in a build sandbox
 * (templates/build-runner.ts), and what it yields — the new layer over the parent's, the environment the steps left,
 * and a warm image when a start command passed its ready check. A commit: a running sandbox's writable layer copied
 * as the new layer over its template's. How builds are queued and how they end is templates/build-jobs.ts.
 */
import { hasLayerCapturer } from '@tensor-box/runtime';
import type { Drivers } from '../lifecycle/drivers.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxRecord, TemplateBuildRecord, TemplateRecord } from '../store/store.js';
import type { BaseImages } from '../templates/base-images.js';
import type { BuildFiles } from '../templates/build-files.js';
import type { BuildLogger, BuildOutcome } from '../templates/build-jobs.js';
import type { BuildPlan, BuildSource } from '../templates/build-request.js';
import { BuildFailed, runBuild, type BuildEnvironment } from '../templates/build-runner.js';
import { templateEnvironment } from './default-template.js';

export interface StepBuildDeps {
  drivers?: Drivers;
  bases: BaseImages;
  files: BuildFiles;
  stepTimeoutMs?: number;
  readyTimeoutMs?: number;
}

export interface StepBuild {
  t: TemplateRecord;
  b: TemplateBuildRecord;
  plan: BuildPlan;
  /** The parent template (absent: the source is a base image). */
  parent: TemplateRecord | undefined;
  layerDir: string;
  warmDir: string;
}

export function describeSource(s: BuildSource): string {
  return `${s.kind === 'template-or-image' ? 'Dockerfile FROM' : s.kind} ${s.ref}`;
}

export async function runStepBuild(o: StepBuildDeps, job: StepBuild, log: BuildLogger): Promise<BuildOutcome> {
  const { t, b, plan, parent, layerDir, warmDir } = job;
  log(
    'info',
    `build ${b.buildId} of ${t.names[0] ?? t.templateId} from ${describeSource(plan.source)} (${plan.steps.length} ` +
      `steps)`,
  );
  if (!o.drivers) throw new BuildFailed('this server has no runtime to build templates with');
  // The steps run in the template's isolation; one that cannot capture a layer lends the build to one that can
  // (layers are directories every driver stacks), and the start command then runs cold in each sandbox.
  const isolation = t.isolation ?? o.drivers.defaultIsolation;
  let driver = o.drivers.of({ isolation });
  const warmStart = hasLayerCapturer(driver);
  if (!warmStart) {
    const builder = o.drivers.all().find(([, d]) => hasLayerCapturer(d));
    if (!builder) throw new BuildFailed(`the ${isolation} runtime cannot build templates`);
    log('info', `the ${isolation} runtime cannot build templates: the steps run in a ${builder[0]} sandbox`);
    driver = builder[1];
  }
  let parentLayers: string[];
  let parentEnv: BuildEnvironment;
  if (parent) {
    parentLayers = parent.layers;
    parentEnv = templateEnvironment(parent);
  } else {
    const base = await o.bases
      .resolve(plan.source.ref, (l) => log('info', l, 'FROM'))
      .catch((err) => {
        throw new BuildFailed(`cannot get image '${plan.source.ref}': ${(err as Error).message}`, 'FROM');
      });
    parentLayers = [base.layer];
    parentEnv = { envVars: base.envVars, user: base.user ?? 'root', workdir: base.workdir ?? '/' };
    log('info', `base image ${base.resolved}`, 'FROM');
  }
  await mkdir(path.dirname(layerDir), { recursive: true });
  const res = await runBuild({
    driver,
    files: o.files,
    log,
    parentLayers,
    parentEnv,
    steps: plan.steps,
    startCmd: plan.startCmd,
    readyCmd: plan.readyCmd,
    cpuCount: b.cpuCount,
    memoryMB: b.memoryMB,
    diskMB: b.diskSizeMB,
    layerDir,
    warmDir,
    stepTimeoutMs: o.stepTimeoutMs ?? 30 * 60_000,
    readyTimeoutMs: o.readyTimeoutMs ?? 5 * 60_000,
    warmStart,
  });
  return {
    layers: [layerDir, ...parentLayers],
    env: res,
    startCmd: plan.startCmd,
    readyCmd: plan.readyCmd,
    parentTemplateId: parent?.templateId,
    warmImage: res.warm ? warmDir : undefined,
  };
}

/** A commit's body: `capture` copies the sandbox's writable layer to `layerDir` (it keeps running). */
export async function runCommitBuild(
  source: TemplateRecord,
  s: SandboxRecord,
  layerDir: string,
  capture: (dest: string) => Promise<void>,
  log: BuildLogger,
): Promise<BuildOutcome> {
  log('info', `[1/1] COMMIT sandbox ${s.sandboxId} (it keeps running; frozen for the copy)`, 'commit');
  try {
    await mkdir(path.dirname(layerDir), { recursive: true });
    const t0 = Date.now();
    await capture(layerDir);
    log('info', `captured the filesystem in ${((Date.now() - t0) / 1000).toFixed(1)} s`, 'commit');
  } catch (err) {
    throw new BuildFailed((err as Error).message, 'commit');
  }
  return {
    layers: [layerDir, ...source.layers],
    env: templateEnvironment(source),
    startCmd: source.startCmd,
    readyCmd: source.readyCmd,
    parentTemplateId: source.templateId,
  };
}
