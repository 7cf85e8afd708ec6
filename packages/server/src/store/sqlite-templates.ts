/**
 * The templates repository on SQLite (template-repository.ts). The atomic writes: a spawn is one
 * `UPDATE … spawn_count = spawn_count + 1`; a build's completion reads the template and writes both rows inside one
 * `BEGIN IMMEDIATE` transaction, which holds the database's write lock from its first statement, so another process on
 * the same file cannot write between the read and the write.
 */
import type Database from 'better-sqlite3';
import { BUILD_COLUMNS, TEMPLATE_COLUMNS } from './columns.js';
import { insertRecord, patchRecord, rowTo, type Row } from './sqlite-rows.js';
import {
  TEMPLATE_PATCH_IGNORED,
  type TemplateBuildRecord,
  type TemplateChange,
  type TemplateRecord,
  type TemplateRepository,
} from './template-repository.js';

export class SqliteTemplates implements TemplateRepository {
  constructor(private db: Database.Database) {}

  async upsertTemplate(t: TemplateRecord): Promise<void> {
    insertRecord(this.db, 'templates', TEMPLATE_COLUMNS, t);
  }

  async updateTemplate(id: string, patch: Partial<TemplateRecord>): Promise<boolean> {
    return patchTemplate(this.db, id, patch);
  }

  async recordTemplateSpawn(id: string, atMs: number): Promise<void> {
    this.db
      .prepare('UPDATE templates SET spawn_count = spawn_count + 1, last_spawned_at = ? WHERE template_id = ?')
      .run(atMs, id);
  }

  async findTemplate(idOrName: string): Promise<TemplateRecord | undefined> {
    const row = this.db
      .prepare(
        // An ID match wins over another template that has the same string as a name.
        'SELECT * FROM templates WHERE template_id = ? ' +
          'OR EXISTS (SELECT 1 FROM json_each(templates.names) WHERE value = ?) ' +
          'ORDER BY template_id = ? DESC, created_at LIMIT 1',
      )
      .get(idOrName, idOrName, idOrName) as Row | undefined;
    return row ? rowTo.template(row) : undefined;
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    return (this.db.prepare('SELECT * FROM templates ORDER BY created_at, template_id').all() as Row[]).map(
      rowTo.template,
    );
  }

  async deleteTemplate(id: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM build_logs WHERE template_id = ?').run(id);
      this.db.prepare('DELETE FROM template_builds WHERE template_id = ?').run(id);
      this.db.prepare('DELETE FROM templates WHERE template_id = ?').run(id);
    })();
  }

  async upsertBuild(b: TemplateBuildRecord): Promise<void> {
    insertRecord(this.db, 'template_builds', BUILD_COLUMNS, b);
  }

  async getBuild(templateId: string, buildId: string): Promise<TemplateBuildRecord | undefined> {
    const row = this.db
      .prepare('SELECT * FROM template_builds WHERE template_id = ? AND build_id = ?')
      .get(templateId, buildId) as Row | undefined;
    return row ? rowTo.build(row) : undefined;
  }

  async listBuilds(templateId: string): Promise<TemplateBuildRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM template_builds WHERE template_id = ? ORDER BY created_at DESC, build_id DESC')
      .all(templateId) as Row[];
    return rows.map(rowTo.build);
  }

  async completeBuild(
    templateId: string,
    buildId: string,
    patch: Partial<TemplateBuildRecord>,
    change: TemplateChange,
  ): Promise<TemplateRecord | undefined> {
    const tx = this.db.transaction(() => {
      const where = { sql: 'template_id = ? AND build_id = ?', args: [templateId, buildId] };
      patchRecord(this.db, 'template_builds', BUILD_COLUMNS, patch, ['templateId', 'buildId'], where);
      const row = this.db.prepare('SELECT * FROM templates WHERE template_id = ?').get(templateId) as Row | undefined;
      if (!row) return undefined;
      const before = rowTo.template(row);
      const next = change(before);
      if (next) patchTemplate(this.db, templateId, next);
      return before;
    });
    return tx.immediate();
  }
}

function patchTemplate(db: Database.Database, id: string, patch: Partial<TemplateRecord>): boolean {
  const where = { sql: 'template_id = ?', args: [id] };
  const changed = patchRecord(db, 'templates', TEMPLATE_COLUMNS, patch, TEMPLATE_PATCH_IGNORED, where);
  if (changed !== undefined) return changed > 0;
  return db.prepare('SELECT 1 FROM templates WHERE template_id = ?').get(id) !== undefined;
}
