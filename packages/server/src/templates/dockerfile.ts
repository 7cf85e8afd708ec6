/**
 * Dockerfile → template build: `parseDockerfile` turns a single-stage Dockerfile into the build API's source and
 * steps (`{from, steps, startCmd}`), the same shape a `fromTemplate`/`fromImage` build with explicit steps has.
 * Supported: FROM (one stage), ARG, ENV, RUN, WORKDIR, USER, COPY/ADD of files from the uploaded build context,
 * CMD/ENTRYPOINT (→ startCmd). LABEL, EXPOSE, STOPSIGNAL and MAINTAINER are accepted and ignored; everything else is
 * refused with an `invalid_argument` error naming the Dockerfile line. Variables follow Docker: FROM, ENV, WORKDIR,
 * USER and COPY/ADD arguments are expanded by the parser; RUN is left to the shell, with the ARGs in scope exported
 * before the command (Docker passes them to RUN as environment variables); CMD/ENTRYPOINT are not expanded. A reference
 * to a variable that no ARG or ENV here defines comes from `baseEnv` (the FROM template's environment) or, without it,
 * is left as written. WORKDIR is always absolute in the steps (a relative one needs an earlier absolute WORKDIR).
 * @example
 * const { from, steps, startCmd } = parseDockerfile(
 *   'FROM default\nCOPY app /app\nCMD ["node", "/app/server.js"]', { contextHash })
 */
import path from 'node:path';
import type { components } from '../api/schema.gen.js';
import { ApiError } from '../errors.js';
import {
  expandWord,
  parseJsonForm,
  shellJoin,
  shellQuote,
  splitInstructions,
  splitWords,
  takeFlags,
  type RawInstruction,
  type Vars,
} from './dockerfile-words.js';

export type TemplateStep = components['schemas']['TemplateStep'];

export interface ParseDockerfileOpts {
  /**
   * The uploaded build context (a tar's hash); COPY/ADD steps read from it. Required when the Dockerfile copies files.
   */
  contextHash?: string;
  /** `--build-arg` values; they override ARG defaults (a value for an undeclared ARG is ignored, as in Docker). */
  buildArgs?: Record<string, string>;
  /**
   * The FROM template's environment. When given, expansion is complete as in Docker (a variable nobody defines is
   * empty); without it, references to variables this Dockerfile does not define are left as written.
   */
  baseEnv?: Record<string, string>;
}

export interface ParsedDockerfile {
  /** The FROM reference: a template ID/name or an image. */
  from: string;
  steps: TemplateStep[];
  /** ENTRYPOINT and CMD combined into one shell command line, as Docker would run them. */
  startCmd?: string;
}

type Command = { json?: string[]; shell?: string };

const IGNORED = new Set(['LABEL', 'EXPOSE', 'STOPSIGNAL', 'MAINTAINER']);
const UNSUPPORTED: Record<string, string> = {
  SHELL: "SHELL is not supported (RUN steps always run with the template's shell)",
  VOLUME: 'VOLUME is not supported (a sandbox has one writable filesystem)',
  ONBUILD: 'ONBUILD is not supported',
  HEALTHCHECK: 'HEALTHCHECK is not supported; give the template a readyCmd instead',
};
const ARCHIVE = /\.(tar|tar\.(gz|bz2|xz|zst)|tgz|tbz2?|txz|tzst)$/i;
const URL_SOURCE = /^([a-z][a-z0-9+.-]*:\/\/|git@)/i;
const HEREDOC = /(^|[\s;&|])<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\2/;

/**
 * Parses a Dockerfile into the build's source, steps and start command.
 * @throws ApiError `invalid_argument` ("Dockerfile line N: …") for anything that cannot be built as written.
 */
export function parseDockerfile(text: string, opts: ParseDockerfileOpts = {}): ParsedDockerfile {
  let split: ReturnType<typeof splitInstructions>;
  try {
    split = splitInstructions(text);
  } catch (err) {
    throw lineError((err as { line?: number }).line ?? 1, (err as Error).message);
  }
  const p = new Parser(split.escape, opts);
  for (const ins of split.instructions) {
    try {
      p.instruction(ins);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw lineError(ins.line, `${ins.keyword}: ${(err as Error).message}`);
    }
  }
  return p.result();
}

function lineError(line: number, message: string): ApiError {
  return new ApiError('invalid_argument', `Dockerfile line ${line}: ${message}`);
}

class Parser {
  private from?: string;
  private readonly globalArgs = new Map<string, string | null>();
  private readonly args = new Map<string, string | null>();
  private readonly env = new Map<string, string>();
  private workdir?: string;
  private cmd?: Command;
  private entrypoint?: Command;
  private readonly steps: TemplateStep[] = [];
  private line = 0;

  constructor(
    private readonly escape: string,
    private readonly opts: ParseDockerfileOpts,
  ) {}

  instruction(ins: RawInstruction): void {
    this.line = ins.line;
    const k = ins.keyword;
    if (this.from === undefined && k !== 'FROM' && k !== 'ARG')
      throw this.fail(`${k} before FROM (only ARG may come before FROM)`);
    switch (k) {
      case 'FROM':
        return this.fromInstruction(ins.rest);
      case 'ARG':
        return this.arg(ins.rest);
      case 'ENV':
        return this.envInstruction(ins.rest);
      case 'RUN':
        return this.run(ins.rest);
      case 'WORKDIR':
        return this.workdirInstruction(ins.rest);
      case 'USER':
        return this.user(ins.rest);
      case 'COPY':
      case 'ADD':
        return this.copy(k, ins.rest);
      case 'CMD':
        this.cmd = this.command(k, ins.rest);
        return;
      case 'ENTRYPOINT':
        this.entrypoint = this.command(k, ins.rest);
        return;
    }
    if (IGNORED.has(k)) return;
    if (k === 'HEALTHCHECK' && /^none$/i.test(ins.rest.trim())) return;
    if (UNSUPPORTED[k]) throw this.fail(UNSUPPORTED[k]);
    throw this.fail(`unknown instruction '${k}' is not supported`);
  }

  result(): ParsedDockerfile {
    if (this.from === undefined) throw new ApiError('invalid_argument', 'Dockerfile: no FROM instruction');
    const startCmd = combineStart(this.entrypoint, this.cmd);
    return { from: this.from, steps: this.steps, ...(startCmd ? { startCmd } : {}) };
  }

  private fail(message: string): ApiError {
    return lineError(this.line, message);
  }

  /** What `$VAR` sees: ENV (this Dockerfile's, then the base's) over the ARGs in scope. */
  private vars(): Vars {
    const v = new Map<string, string | null>(this.args);
    for (const [k, val] of Object.entries(this.opts.baseEnv ?? {})) v.set(k, val);
    for (const [k, val] of this.env) v.set(k, val);
    // With the base environment known, every variable is known: one nobody defines is unset.
    return this.opts.baseEnv ? { has: () => true, get: (k) => (v.has(k) ? v.get(k) : null) } : v;
  }

  private expand(word: string, vars: Vars = this.vars()): string {
    return expandWord(word, vars, this.escape);
  }

  private fromInstruction(rest: string): void {
    if (this.from !== undefined) throw this.fail('a second FROM: multi-stage builds are not supported (use one stage)');
    const { flags, rest: body } = takeFlags(rest);
    if (flags.length) throw this.fail(`FROM --${flags[0].name} is not supported`);
    const words = splitWords(body, this.escape);
    if (!(words.length === 1 || (words.length === 3 && /^as$/i.test(words[1]))))
      throw this.fail('FROM expects an image or template, optionally followed by AS <name>');
    const from = this.expand(words[0], this.globalArgs);
    if (!from) throw this.fail('FROM names nothing (an ARG without a value?)');
    if (from.includes('$')) throw this.fail(`FROM ${from}: the variable is not defined by an ARG before FROM`);
    this.from = from;
  }

  private arg(rest: string): void {
    const words = splitWords(rest, this.escape);
    if (!words.length) throw this.fail('ARG needs a name');
    const before = this.from === undefined;
    for (const w of words) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w : w.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw this.fail(`invalid ARG name '${name}'`);
      const given = this.opts.buildArgs?.[name];
      let value: string | null;
      if (given !== undefined) value = given;
      else if (eq >= 0) value = this.expand(w.slice(eq + 1), before ? this.globalArgs : this.vars());
      // A global ARG re-declared in the stage keeps its value.
      else value = before ? null : (this.globalArgs.get(name) ?? null);
      (before ? this.globalArgs : this.args).set(name, value);
    }
  }

  private envInstruction(rest: string): void {
    const words = splitWords(rest, this.escape);
    if (!words.length) throw this.fail('ENV needs a name and a value');
    const vars = this.vars(); // every value sees the environment from before this instruction, as in Docker
    const pairs: [string, string][] = [];
    if (!words[0].includes('=')) {
      // Legacy `ENV key value with spaces`.
      const key = words[0];
      const value = rest.slice(rest.indexOf(key) + key.length).trim();
      if (!value) throw this.fail(`ENV ${key} needs a value (ENV ${key}=value or ENV ${key} value)`);
      pairs.push([key, this.expand(value, vars)]);
    } else {
      for (const w of words) {
        const eq = w.indexOf('=');
        if (eq <= 0) throw this.fail(`ENV expects key=value pairs, got '${w}'`);
        pairs.push([this.expand(w.slice(0, eq), vars), this.expand(w.slice(eq + 1), vars)]);
      }
    }
    for (const [k] of pairs)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw this.fail(`invalid environment variable name '${k}'`);
    for (const [k, v] of pairs) this.env.set(k, v);
    this.steps.push({ type: 'ENV', args: pairs.flat() });
  }

  private run(rest: string): void {
    const { flags, rest: body } = takeFlags(rest);
    if (flags.length) throw this.fail(`RUN --${flags[0].name} is not supported`);
    if (HEREDOC.test(body) && !/<<</.test(body))
      throw this.fail('heredocs (RUN <<EOF) are not supported; write the commands on one line or COPY a script');
    const json = parseJsonForm(body);
    let command = json ? shellJoin(json) : body;
    if (!command.trim()) throw this.fail('RUN needs a command');
    // ARGs reach RUN as environment variables (ENV of the same name wins).
    const exported = [...this.args].filter(
      ([k, v]) => v !== null && !this.env.has(k) && this.opts.baseEnv?.[k] === undefined,
    );
    if (exported.length) command = `export ${exported.map(([k, v]) => `${k}=${shellQuote(v!)}`).join(' ')}; ${command}`;
    this.steps.push({ type: 'RUN', args: [command] });
  }

  private workdirInstruction(rest: string): void {
    const dir = this.expand(rest.trim());
    if (!dir) throw this.fail('WORKDIR needs a path');
    if (!path.posix.isAbsolute(dir) && !this.workdir)
      throw this.fail(
        `WORKDIR ${dir}: a relative path needs an earlier absolute WORKDIR (the base template's directory is not ` +
          `known here)`,
      );
    this.workdir = path.posix.resolve(this.workdir ?? '/', dir);
    this.steps.push({ type: 'WORKDIR', args: [this.workdir] });
  }

  private user(rest: string): void {
    const words = splitWords(rest, this.escape).map((w) => this.expand(w));
    if (words.length !== 1 || !words[0]) throw this.fail('USER expects one user (a name or a uid)');
    if (words[0].includes(':')) throw this.fail(`USER ${words[0]}: a group is not supported; give the user alone`);
    this.steps.push({ type: 'USER', args: [words[0]] });
  }

  private copy(k: 'COPY' | 'ADD', rest: string): void {
    const { flags, rest: body } = takeFlags(rest);
    let chown = '';
    let chmod = '';
    for (const f of flags) {
      if (f.name === 'chown') chown = this.expand(f.value ?? '');
      else if (f.name === 'chmod') {
        chmod = this.expand(f.value ?? '');
        if (!/^[0-7]{3,4}$/.test(chmod)) throw this.fail(`--chmod=${chmod}: expected an octal mode such as 0755`);
      } else if (f.name === 'from')
        throw this.fail(`${k} --from is not supported (multi-stage builds are not supported)`);
      else if (f.name === 'link')
        continue; // only changes how Docker layers the copy
      else throw this.fail(`${k} --${f.name} is not supported`);
    }
    if (HEREDOC.test(body))
      throw this.fail(`heredocs (${k} <<EOF) are not supported; put the file in the build context`);
    const json = parseJsonForm(body);
    const words = json ?? splitWords(body, this.escape).map((w) => this.expand(w));
    if (words.length < 2) throw this.fail(`${k} expects at least one source and a destination`);
    const dest = words[words.length - 1];
    const sources = words.slice(0, -1);
    for (const src of sources) {
      if (URL_SOURCE.test(src)) {
        throw this.fail(
          k === 'ADD'
            ? `ADD of a URL (${src}) is not supported; download it in a RUN step (curl/wget)`
            : `COPY cannot fetch a URL (${src})`,
        );
      }
      if (k === 'ADD' && ARCHIVE.test(src)) {
        throw this.fail(
          `ADD of a local archive (${src}) is not supported: it would not be extracted; use COPY and RUN tar -xf`,
        );
      }
    }
    if (!this.opts.contextHash)
      throw this.fail(`${k} needs a build context (upload the directory the Dockerfile copies from as filesHash)`);
    const multiple = sources.length > 1 || sources.some((s) => /[*?[]/.test(s));
    if (multiple && !dest.endsWith('/'))
      throw this.fail(
        `with several sources (or a wildcard) the destination must be a directory ending in / (got '${dest}')`,
      );
    const target = this.resolveDest(dest);
    for (const src of sources) {
      const rel = path.posix.normalize(src.replace(/^\/+/, '') || '.').replace(/(.)\/+$/, '$1');
      if (rel === '..' || rel.startsWith('../')) throw this.fail(`${src} is outside the build context`);
      this.steps.push({ type: 'COPY', args: [rel, target, chown, chmod], filesHash: this.opts.contextHash });
    }
  }

  private resolveDest(dest: string): string {
    if (!this.workdir || path.posix.isAbsolute(dest)) return dest;
    const abs = path.posix.resolve(this.workdir, dest);
    return dest.endsWith('/') && abs !== '/' ? `${abs}/` : abs;
  }

  private command(k: string, rest: string): Command {
    const json = parseJsonForm(rest);
    if (json) return { json };
    if (!rest.trim()) throw this.fail(`${k} needs a command`);
    return { shell: rest };
  }
}

/** Docker's rules: a shell-form ENTRYPOINT ignores CMD; an exec-form ENTRYPOINT takes CMD as its arguments. */
function combineStart(entrypoint?: Command, cmd?: Command): string | undefined {
  const cmdArgs = cmd?.json ?? (cmd?.shell !== undefined ? ['/bin/sh', '-c', cmd.shell] : []);
  let line: string;
  if (entrypoint?.shell !== undefined) line = entrypoint.shell;
  else if (entrypoint?.json) line = shellJoin([...entrypoint.json, ...cmdArgs]);
  else if (cmd?.shell !== undefined) line = cmd.shell;
  else line = shellJoin(cmd?.json ?? []);
  return line.trim() ? line : undefined;
}
