/**
 * `e2b.toml`, the template configuration `template init` writes and `template build` reads (E2B's file, with the seeds'
 * additions `from_template`, `from_image`, `disk_gb`, `isolation` and `[[steps]]`). Reading validates every key and
 * type (invalid TOML is reported with its line and column); `updateConfigIds` writes `template_id`/`build_id` back by
 * editing those lines only, so comments and layout survive.
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { UsageError } from './exit-codes.js';

export const CONFIG_FILE = 'e2b.toml';

export interface TemplateStepConfig {
  name?: string;
  command: string;
}

export interface TemplateConfig {
  name?: string;
  templateId?: string;
  buildId?: string;
  fromTemplate?: string;
  fromImage?: string;
  /** A Dockerfile's path, relative to the config file. */
  dockerfile?: string;
  cpuCount?: number;
  memoryMB?: number;
  diskGB?: number;
  steps: TemplateStepConfig[];
  startCmd?: string;
  readyCmd?: string;
  /** What the template's sandboxes run in: `container` or `microvm` (absent: the server's default). */
  isolation?: 'container' | 'microvm';
}

/** A mistake in the config file (exit code 2, like other usage errors). */
export class ConfigError extends UsageError {}

type Kind = 'string' | 'count' | 'isolation';
export const ISOLATIONS = ['container', 'microvm'];
const KEYS: Record<string, { field: keyof TemplateConfig; kind: Kind }> = {
  name: { field: 'name', kind: 'string' },
  template_name: { field: 'name', kind: 'string' },
  template_id: { field: 'templateId', kind: 'string' },
  build_id: { field: 'buildId', kind: 'string' },
  from_template: { field: 'fromTemplate', kind: 'string' },
  from_image: { field: 'fromImage', kind: 'string' },
  dockerfile: { field: 'dockerfile', kind: 'string' },
  cpu_count: { field: 'cpuCount', kind: 'count' },
  memory_mb: { field: 'memoryMB', kind: 'count' },
  disk_gb: { field: 'diskGB', kind: 'count' },
  start_cmd: { field: 'startCmd', kind: 'string' },
  ready_cmd: { field: 'readyCmd', kind: 'string' },
  isolation: { field: 'isolation', kind: 'isolation' },
};
/** Keys E2B's CLI writes that mean nothing here. */
const IGNORED = new Set(['team_id']);

/** The line (1-based) where a top-level key or `[[steps]]` entry is written, for messages. */
function lineOf(text: string, key: string, nth = 0): number | undefined {
  const re = new RegExp(`^[ \\t]*(${key})[ \\t]*(=|$)`, 'gm');
  let m: RegExpExecArray | null;
  let i = 0;
  while ((m = re.exec(text))) if (i++ === nth) return text.slice(0, m.index).split('\n').length;
  return undefined;
}

/** Parses and validates an e2b.toml; `file` names it in messages. */
export function parseConfig(text: string, file = CONFIG_FILE): TemplateConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.replace(/^Invalid TOML document:\s*/, '').split('\n')[0];
      throw new ConfigError(`${file}:${err.line}:${err.column}: invalid TOML: ${what}\n${err.codeblock.trimEnd()}`);
    }
    throw err;
  }
  const at = (key: string, nth = 0) => {
    const line = lineOf(text, key, nth);
    return line ? `${file}:${line}` : file;
  };
  const cfg: TemplateConfig = { steps: [] };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'steps') continue;
    if (IGNORED.has(key)) continue;
    const spec = KEYS[key];
    if (!spec)
      throw new ConfigError(`${at(key)}: unknown key '${key}' (known: ${[...Object.keys(KEYS), 'steps'].join(', ')})`);
    if (spec.field === 'name' && cfg.name !== undefined)
      throw new ConfigError(`${at(key)}: give name or template_name, not both`);
    (cfg as any)[spec.field] = check(value, spec.kind, key, at(key));
  }
  if (doc.steps !== undefined) {
    if (!Array.isArray(doc.steps))
      throw new ConfigError(`${at('steps')}: steps must be an array of tables ([[steps]] with name and command)`);
    doc.steps.forEach((s, i) => {
      const where = at('\\[\\[steps\\]\\]', i);
      if (typeof s !== 'object' || s === null || Array.isArray(s))
        throw new ConfigError(`${where}: step ${i + 1} must be a table with name and command`);
      const step = s as Record<string, unknown>;
      for (const k of Object.keys(step))
        if (k !== 'name' && k !== 'command')
          throw new ConfigError(`${where}: unknown key '${k}' in step ${i + 1} (known: name, command)`);
      if (step.command === undefined) throw new ConfigError(`${where}: step ${i + 1} needs a command`);
      const command = check(step.command, 'string', 'command', where);
      const name = step.name === undefined ? undefined : check(step.name, 'string', 'name', where);
      cfg.steps.push(name === undefined ? { command } : { name, command });
    });
  }
  const sources = (['fromTemplate', 'fromImage', 'dockerfile'] as const).filter((k) => cfg[k] !== undefined);
  if (sources.length > 1)
    throw new ConfigError(
      `${file}: give one of from_template, from_image or dockerfile (got ${sources.map(snake).join(', ')})`,
    );
  return cfg;
}

const snake = (field: string) => Object.entries(KEYS).find(([, v]) => v.field === field)?.[0] ?? field;

function check(value: unknown, kind: 'string', key: string, where: string): string;
function check(value: unknown, kind: Kind, key: string, where: string): string | number;
function check(value: unknown, kind: Kind, key: string, where: string): string | number {
  if (kind === 'string') {
    if (typeof value !== 'string' || !value.trim())
      throw new ConfigError(`${where}: ${key} must be a non-empty string`);
    return value;
  }
  if (kind === 'isolation') {
    if (typeof value !== 'string' || !ISOLATIONS.includes(value))
      throw new ConfigError(`${where}: ${key} must be one of ${ISOLATIONS.join(', ')}`);
    return value;
  }
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new ConfigError(`${where}: ${key} must be a positive whole number`);
  return n;
}

/** A new e2b.toml: the given fields, then a commented example of steps. */
export function renderConfig(
  cfg: Omit<TemplateConfig, 'steps' | 'templateId' | 'buildId'> & { steps?: TemplateStepConfig[] },
): string {
  const line = (key: string, value: string | number | undefined) =>
    value === undefined ? '' : stringify({ [key]: value }).trim() + '\n';
  let out =
    '# Tensor Box template configuration (compatible with e2b.toml); build it with `tensor-box template build`.\n';
  out += line('name', cfg.name);
  out += line('from_template', cfg.fromTemplate);
  out += line('from_image', cfg.fromImage);
  out += line('dockerfile', cfg.dockerfile);
  out += line('cpu_count', cfg.cpuCount);
  out += line('memory_mb', cfg.memoryMB);
  out += line('disk_gb', cfg.diskGB);
  out += line('isolation', cfg.isolation);
  out += line('start_cmd', cfg.startCmd);
  out += line('ready_cmd', cfg.readyCmd);
  if (cfg.steps?.length) {
    for (const s of cfg.steps) out += `\n[[steps]]\n${line('name', s.name)}${line('command', s.command)}`;
  } else {
    out += '\n# Build steps run in order, for example:\n';
    out += '# [[steps]]\n# name = "deps"\n# command = "apt-get update && apt-get install -y ffmpeg"\n';
  }
  return out;
}

/**
 * Sets `template_id` and `build_id` in the file's text: replaces those top-level lines, or adds them after the name.
 * Everything else stays as written; if the edit cannot be verified (unusual layout), the file is rewritten from its
 * parsed content instead (comments are lost then, the values are not).
 */
export function updateConfigIds(text: string, ids: { templateId: string; buildId: string }): string {
  const lines = text.split('\n');
  const firstTable = lines.findIndex((l) => /^\s*\[/.test(l));
  let top = firstTable < 0 ? lines.length : firstTable;
  const set = (key: string, value: string, after: RegExp) => {
    const entry = stringify({ [key]: value }).trim();
    const i = lines.slice(0, top).findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
    if (i >= 0) {
      lines[i] = entry;
      return;
    }
    const nameAt = lines.slice(0, top).findIndex((l) => after.test(l));
    let at = nameAt >= 0 ? nameAt + 1 : lines.slice(0, top).findIndex((l) => l.trim() && !l.trim().startsWith('#'));
    if (at < 0) at = top;
    lines.splice(at, 0, entry);
    top++;
  };
  set('template_id', ids.templateId, /^\s*(template_name|name)\s*=/);
  set('build_id', ids.buildId, /^\s*template_id\s*=/);
  const edited = lines.join('\n');
  const want = { ...(parse(text) as Record<string, unknown>), template_id: ids.templateId, build_id: ids.buildId };
  try {
    if (sameToml(parse(edited), want)) return edited;
  } catch {
    /* fall through to a rewrite */
  }
  return stringify(want) + '\n';
}

function sameToml(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(norm)
      : v && typeof v === 'object' && !(v instanceof Date)
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([x], [y]) => x.localeCompare(y))
              .map(([k, x]) => [k, norm(x)]),
          )
        : String(v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
