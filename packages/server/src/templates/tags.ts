/**
 * Template tags, as on E2B: `name:tag` names one build of a template. A build gets the tags of its request (the tag
 * of `name:tag` and `tags`; `default` when there are none) once it is ready; `POST /templates/tags` points more tags
 * at the build a `name:tag` names; `DELETE /templates/tags` removes tags (never `default`). The template record's own
 * build (what a plain name starts) is the `default` tag's; a tag naming another build starts that build's layers and
 * settings (`TemplateBuildRecord.config`). `name:latest` without a `latest` tag is the plain name, as before tags.
 */
import { ApiError, invalid, notFound } from '../errors.js';
import type { BuildConfig, Store, TemplateBuildRecord, TemplateRecord } from '../store/store.js';

export const DEFAULT_TAG = 'default';
const TAG = /^[a-z0-9_.-]{1,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Splits `name[:tag]`; the tag is validated and lowercased, `undefined` when absent. */
export function parseRef(ref: string): { name: string; tag?: string } {
  const trimmed = ref.trim();
  const at = trimmed.lastIndexOf(':');
  if (at < 0) return { name: trimmed };
  return { name: trimmed.slice(0, at), tag: checkTag(trimmed.slice(at + 1)) };
}

export function checkTag(raw: string): string {
  const tag = raw.trim().toLowerCase();
  if (!TAG.test(tag) || UUID.test(tag)) {
    throw invalid(`invalid tag '${raw}': lowercase letters, digits, '.', '_' or '-', not a UUID`);
  }
  return tag;
}

/** A build's tags from a request: `name:tag`'s tag first, then `tags`, deduplicated; `default` when none. */
export function buildTags(nameTag: string | undefined, tags: string[] | undefined): string[] {
  const all = [...(nameTag ? [nameTag] : []), ...(tags ?? []).map(checkTag)];
  return all.length ? [...new Set(all)] : [DEFAULT_TAG];
}

/** The template's fields for one build's settings. */
export function withBuild(t: TemplateRecord, b: TemplateBuildRecord, c: BuildConfig): TemplateRecord {
  return {
    ...t,
    buildId: b.buildId,
    cpuCount: b.cpuCount,
    memoryMB: b.memoryMB,
    diskSizeMB: b.diskSizeMB,
    layers: c.layers,
    startCmd: c.startCmd,
    readyCmd: c.readyCmd,
    envVars: c.envVars,
    defaultUser: c.defaultUser,
    defaultWorkdir: c.defaultWorkdir,
    parentTemplateId: c.parentTemplateId,
    warmImage: c.warmImage,
  };
}

export class TemplateTags {
  constructor(private store: Store) {}

  /** The build a tag of t names (a build ID works as a tag too); undefined when none. */
  buildOf(t: TemplateRecord, tag: string): string | undefined {
    const assigned = t.tags?.[tag]?.buildId;
    if (assigned) return assigned;
    if (tag === DEFAULT_TAG || tag === 'latest') return t.buildId;
    return undefined;
  }

  /** t as a sandbox of the tagged build starts: t itself for its own build, else that build's settings. */
  async view(t: TemplateRecord, tag: string, ref: string): Promise<TemplateRecord> {
    const buildId = this.buildOf(t, tag) ?? ((await this.store.getBuild(t.templateId, tag)) ? tag : undefined);
    if (!buildId) throw notFound(`template '${ref}' not found: '${t.names[0] ?? t.templateId}' has no tag '${tag}'`);
    if (buildId === t.buildId) return t;
    const b = await this.store.getBuild(t.templateId, buildId);
    if (!b?.config || b.status !== 'ready') {
      throw new ApiError('failed_precondition', `build '${buildId}' of '${ref}' is not ready`);
    }
    return withBuild(t, b, b.config);
  }

  list(t: TemplateRecord): Array<{ tag: string; buildID: string; createdAt: string }> {
    const tags = { [DEFAULT_TAG]: { buildId: t.buildId, createdAt: t.updatedAt }, ...(t.tags ?? {}) };
    return Object.entries(tags)
      .map(([tag, a]) => ({ tag, buildID: a.buildId, createdAt: new Date(a.createdAt).toISOString() }))
      .sort((a, b) => a.tag.localeCompare(b.tag));
  }

  /**
   * Points tags at the build `tag` of t names. Assigning `default` makes that build the template's own (returned as
   * the record to store); otherwise only the tag map changes.
   */
  async assign(t: TemplateRecord, fromTag: string, tags: string[], ref: string) {
    if (!tags.length) throw invalid('at least one tag is required');
    const wanted = [...new Set(tags.map(checkTag))];
    const target = await this.view(t, fromTag, ref);
    const now = Date.now();
    const map = { ...(t.tags ?? {}) };
    for (const tag of wanted) if (tag !== DEFAULT_TAG) map[tag] = { buildId: target.buildId, createdAt: now };
    const base = wanted.includes(DEFAULT_TAG) ? target : t;
    return { record: { ...base, tags: map, updatedAt: now }, buildId: target.buildId };
  }

  /** t without the tags; `default` cannot be removed. */
  remove(t: TemplateRecord, tags: string[]): TemplateRecord {
    if (!tags.length) throw invalid('at least one tag is required');
    const gone = tags.map(checkTag);
    if (gone.includes(DEFAULT_TAG)) throw invalid(`cannot delete the '${DEFAULT_TAG}' tag`);
    const map = { ...(t.tags ?? {}) };
    for (const tag of gone) delete map[tag];
    return { ...t, tags: map, updatedAt: Date.now() };
  }
}
