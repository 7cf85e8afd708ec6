/**
 * Templates: the root filesystems sandboxes start from. This module owns template records and the `default` template,
 * which is built on first start (Debian bookworm via mmdebstrap, see the runtime's DEFAULT_TEMPLATE_RECIPE) into
 * `<dataDir>/templates/default/<buildId>/rootfs`. A ready template always has layers that exist on disk.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from '@tensor-box/runtime';
import { ApiError, notFound } from '../errors.js';
import { newBuildId } from '../ids.js';
import type { Store, TemplateRecord } from '../store/store.js';

export const DEFAULT_TEMPLATE_ID = 'default';
/** E2B's SDKs create from `base` when no template is named. */
export const DEFAULT_TEMPLATE_NAMES = ['default', 'base'];

export interface TemplateServiceOptions {
  store: Store;
  dataDir: string;
  cacheDir: string;
}

export type ProgressFn = (fraction: number, message: string) => void;

export class TemplateService {
  constructor(private opts: TemplateServiceOptions) {}

  /** Looks a template up by ID or name; NotFound when unknown. */
  async resolve(idOrName: string): Promise<TemplateRecord> {
    const name = idOrName.includes(':') && !idOrName.endsWith(':latest') ? idOrName : idOrName.replace(/:latest$/, '');
    const t = await this.opts.store.findTemplate(name);
    if (!t) throw notFound(`template '${idOrName}' not found`);
    if (t.status !== 'ready') throw new ApiError('failed_precondition', `template '${idOrName}' is not ready (${t.status})`);
    return t;
  }

  list(): Promise<TemplateRecord[]> {
    return this.opts.store.listTemplates();
  }

  async recordSpawn(t: TemplateRecord): Promise<void> {
    await this.opts.store.upsertTemplate({ ...t, spawnCount: t.spawnCount + 1, lastSpawnedAt: Date.now() });
  }

  /** Makes sure the `default` template exists and is ready, building it when needed. */
  async ensureDefault(onProgress: ProgressFn): Promise<TemplateRecord> {
    const existing = await this.opts.store.findTemplate(DEFAULT_TEMPLATE_ID);
    if (existing?.status === 'ready' && existing.layers.every((l) => existsSync(l))) return existing;

    const buildId = newBuildId();
    const buildDir = path.join(this.opts.dataDir, 'templates', DEFAULT_TEMPLATE_ID, buildId);
    const rootfs = path.join(buildDir, 'rootfs');
    await mkdir(buildDir, { recursive: true });
    try {
      await buildDebianRootfs({
        dest: rootfs,
        packages: DEFAULT_TEMPLATE_RECIPE.packages,
        customize: DEFAULT_TEMPLATE_RECIPE.customize,
        cacheDir: this.opts.cacheDir,
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
      diskSizeMB: 40 * 1024,
      layers: [rootfs],
      status: 'ready',
      public: true,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      spawnCount: existing?.spawnCount ?? 0,
      buildCount: (existing?.buildCount ?? 0) + 1,
    };
    await this.opts.store.upsertTemplate(record);
    if (existing && existing.buildId !== buildId) {
      await rm(path.join(this.opts.dataDir, 'templates', DEFAULT_TEMPLATE_ID, existing.buildId), { recursive: true, force: true });
    }
    return record;
  }
}
