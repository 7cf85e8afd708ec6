/** Record → API shape conversions that more than one route uses. */
import type { TemplateRecord } from '../store/store.js';
import type { components } from './schema.gen.js';
import { ENVD_VERSION } from '../services/sandbox-service.js';

export function templateToApi(t: TemplateRecord): components['schemas']['Template'] {
  return {
    templateID: t.templateId,
    buildID: t.buildId,
    cpuCount: t.cpuCount,
    memoryMB: t.memoryMB,
    diskSizeMB: t.diskSizeMB,
    public: t.public,
    aliases: t.names,
    names: t.names,
    createdAt: new Date(t.createdAt).toISOString(),
    updatedAt: new Date(t.updatedAt).toISOString(),
    lastSpawnedAt: t.lastSpawnedAt ? new Date(t.lastSpawnedAt).toISOString() : null,
    buildCount: t.buildCount,
    spawnCount: t.spawnCount,
    envdVersion: ENVD_VERSION,
    buildStatus: t.status,
  };
}
