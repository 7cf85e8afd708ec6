/**
 * The templates repository on PostgreSQL (template-repository.ts). The atomic writes: a spawn is one
 * `UPDATE … spawn_count = spawn_count + 1`; a build's completion reads the template `FOR UPDATE` and writes both rows
 * in that transaction, so a writer on another connection or server waits for it instead of being overwritten.
 */
import type pg from 'pg';
import { BUILD_COLUMNS, TEMPLATE_COLUMNS } from './columns.js';
import { inTransaction, patchRecord, query, rowTo, upsertRecord, type Queryable } from './postgres-rows.js';
import {
  TEMPLATE_PATCH_IGNORED,
  type TemplateBuildRecord,
  type TemplateChange,
  type TemplateRecord,
  type TemplateRepository,
} from './template-repository.js';

export class PostgresTemplates implements TemplateRepository {
  constructor(private pool: pg.Pool) {}

  async upsertTemplate(t: TemplateRecord): Promise<void> {
    await upsertRecord(this.pool, 'templates', TEMPLATE_COLUMNS, ['template_id'], t);
  }

  async updateTemplate(id: string, patch: Partial<TemplateRecord>): Promise<boolean> {
    return patchTemplate(this.pool, id, patch);
  }

  async recordTemplateSpawn(id: string, atMs: number): Promise<void> {
    await query(
      this.pool,
      'UPDATE templates SET spawn_count = spawn_count + 1, last_spawned_at = $1 WHERE template_id = $2',
      [atMs, id],
    );
  }

  async findTemplate(idOrName: string): Promise<TemplateRecord | undefined> {
    // An ID match wins over another template that has the same string as a name.
    const [row] = await query(
      this.pool,
      'SELECT * FROM templates WHERE template_id = $1 OR names ? $1 ' +
        'ORDER BY (template_id = $1) DESC, created_at LIMIT 1',
      [idOrName],
    );
    return row ? rowTo.template(row) : undefined;
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    return (await query(this.pool, 'SELECT * FROM templates ORDER BY created_at, template_id')).map(rowTo.template);
  }

  async deleteTemplate(id: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM build_logs WHERE template_id = $1', [id]);
      await c.query('DELETE FROM template_builds WHERE template_id = $1', [id]);
      await c.query('DELETE FROM templates WHERE template_id = $1', [id]);
    });
  }

  async upsertBuild(b: TemplateBuildRecord): Promise<void> {
    await upsertRecord(this.pool, 'template_builds', BUILD_COLUMNS, ['template_id', 'build_id'], b);
  }

  async getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined> {
    const [row] = await query(this.pool, 'SELECT * FROM template_builds WHERE template_id = $1 AND build_id = $2', [
      templateId,
      buildId,
    ]);
    return row ? rowTo.build(row) : undefined;
  }

  async listBuilds(templateId: string): Promise<TemplateBuildRecord[]> {
    const rows = await query(
      this.pool,
      'SELECT * FROM template_builds WHERE template_id = $1 ORDER BY created_at DESC, build_id DESC',
      [templateId],
    );
    return rows.map(rowTo.build);
  }

  async completeBuild(
    templateId: string,
    buildId: string,
    patch: Partial<TemplateBuildRecord>,
    change: TemplateChange,
  ): Promise<TemplateRecord | undefined> {
    return inTransaction(this.pool, async (c) => {
      const where = { sql: 'template_id = $1 AND build_id = $2', args: [templateId, buildId] };
      await patchRecord(c, 'template_builds', BUILD_COLUMNS, patch, ['templateId', 'buildId'], where);
      const [row] = await query(c, 'SELECT * FROM templates WHERE template_id = $1 FOR UPDATE', [templateId]);
      if (!row) return undefined;
      const before = rowTo.template(row);
      const next = change(before);
      if (next) await patchTemplate(c, templateId, next);
      return before;
    });
  }
}

async function patchTemplate(db: Queryable, id: string, patch: Partial<TemplateRecord>): Promise<boolean> {
  const where = { sql: 'template_id = $1', args: [id] };
  const changed = await patchRecord(db, 'templates', TEMPLATE_COLUMNS, patch, TEMPLATE_PATCH_IGNORED, where);
  if (changed !== undefined) return changed > 0;
  return (await query(db, 'SELECT 1 FROM templates WHERE template_id = $1', [id])).length > 0;
}
