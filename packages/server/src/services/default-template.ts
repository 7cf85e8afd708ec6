/**
 * The built-in `default` template (also named `base`, which E2B's SDKs create from when no template is named): Debian
 * bookworm built with mmdebstrap on the first start, as one read-only rootfs layer under
 * `<templateDir>/default/<buildId>/rootfs`. Also the run-time defaults every template falls back to (user, workdir).
 */
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from '@tensor-box/runtime';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { newBuildId } from '../ids.js';
import type { Store, TemplateRecord } from '../store/store.js';
import type { BuildEnvironment } from '../templates/build-runner.js';

export const DEFAULT_TEMPLATE_ID = 'default';
/** E2B's SDKs create from `base` when no template is named. */
export const DEFAULT_TEMPLATE_NAMES = ['default', 'base'];
/** What sandboxes of `default` (and templates without their own) start as. */
export const DEFAULT_USER = 'user';
export const DEFAULT_WORKDIR = '/home/user';

export type ProgressFn = (fraction: number, message: string) => void;

/** The run-time defaults a template gives its sandboxes. */
export function templateEnvironment(t: TemplateRecord): BuildEnvironment {
  return {
    envVars: t.envVars ?? {},
    user: t.defaultUser ?? DEFAULT_USER,
    workdir: t.defaultWorkdir ?? DEFAULT_WORKDIR,
  };
}

/** Makes sure the `default` template exists and is ready, building it when needed. */
export async function ensureDefaultTemplate(
  o: { store: Store; templateDir: string; cacheDir: string; defaultDiskMB: number },
  onProgress: ProgressFn,
): Promise<TemplateRecord> {
  const existing = await o.store.findTemplate(DEFAULT_TEMPLATE_ID);
  if (existing?.status === 'ready' && existing.layers.every((l) => existsSync(l))) {
    if (existing.diskSizeMB === o.defaultDiskMB) return existing;
    // The default disk changed (older installs had 40 GiB): new sandboxes get the current one.
    const updated = { ...existing, diskSizeMB: o.defaultDiskMB, updatedAt: Date.now() };
    await o.store.upsertTemplate(updated);
    return updated;
  }

  const buildId = newBuildId();
  const buildDir = path.join(o.templateDir, DEFAULT_TEMPLATE_ID, buildId);
  const rootfs = path.join(buildDir, 'rootfs');
  await mkdir(buildDir, { recursive: true });
  try {
    await buildDebianRootfs({
      dest: rootfs,
      packages: DEFAULT_TEMPLATE_RECIPE.packages,
      customize: DEFAULT_TEMPLATE_RECIPE.customize,
      cacheDir: o.cacheDir,
      onProgress,
    });
  } catch (err) {
    await rm(buildDir, { recursive: true, force: true });
    throw err;
  }
  const now = Date.now();
  const record: TemplateRecord = {
    templateId: DEFAULT_TEMPLATE_ID,
    buildId,
    names: DEFAULT_TEMPLATE_NAMES,
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: o.defaultDiskMB,
    layers: [rootfs],
    status: 'ready',
    public: true,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    spawnCount: existing?.spawnCount ?? 0,
    buildCount: (existing?.buildCount ?? 0) + 1,
  };
  await o.store.upsertTemplate(record);
  await o.store.upsertBuild({
    buildId,
    templateId: DEFAULT_TEMPLATE_ID,
    status: 'ready',
    cpuCount: 2,
    memoryMB: 2048,
    diskSizeMB: o.defaultDiskMB,
    source: 'image debian:bookworm (mmdebstrap)',
    createdAt: now,
    updatedAt: now,
    finishedAt: now,
  });
  if (existing && existing.buildId !== buildId) {
    await rm(path.join(o.templateDir, DEFAULT_TEMPLATE_ID, existing.buildId), { recursive: true, force: true });
  }
  return record;
}
