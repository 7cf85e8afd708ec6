/**
 * The fluent template builder, shaped like E2B's: `Template()` starts a definition, one source
 * (`fromTemplate`/`fromImage`/`fromBaseImage`/`fromDockerfile`), then steps in order (`copy`, `runCmd`, `setEnvs`,
 * `setWorkdir`, `setUser`, `aptInstall`, `pipInstall`, `npmInstall`) and `setStartCmd(cmd, waitForPort(8000))`;
 * `Template.build(t, {alias, cpuCount, memoryMB, onBuildLogs})` turns it into the two-call build API (`Template.create`
 * + `startBuild`), uploading each `copy`'s files first (a tar per step, content-addressed), and waits until it is
 * ready. Invalid definitions throw `InvalidArgumentError` when the method is called, so a build never starts
 * half-defined.
 * @example
 * const t = Template()
 *   .fromTemplate('default')
 *   .aptInstall(['jq'])
 *   .runCmd('echo hi > /hi.txt')
 *   .setStartCmd('python3 -m http.server 8000', waitForPort(8000))
 * const { templateID } = await Template.build(t, {
 *   alias: 'my-app', cpuCount: 2, memoryMB: 1024, onBuildLogs: (e) => console.log(e.message),
 * })
 */
import type { ConnectionOpts } from './connection.js';
import { InvalidArgumentError } from './errors.js';
import type { components } from './api/schema.gen.js';
import type { BuildLogEntry, BuildStatus } from './template-build.js';

type ApiStep = components['schemas']['TemplateStep'];

export interface TemplateOptions {
  /** Directory `copy` sources are relative to (default: the current working directory). */
  fileContextPath?: string;
}

export interface CopyOpts {
  /** Owner of the copied files (`user` or `user:group`). */
  user?: string;
  /** Mode of the copied files, e.g. `0o755` or `'755'`. */
  mode?: number | string;
}

export interface TemplateBuildRequest {
  fromTemplate?: string;
  fromImage?: string;
  dockerfile?: string;
  /** API steps; a COPY step's `filesHash` is filled in by `Template.build` after the upload. */
  steps: ApiStep[];
  startCmd?: string;
  readyCmd?: string;
  force?: boolean;
}

export interface TemplateBuildInfo {
  templateID: string;
  buildID: string;
  alias: string;
  status: BuildStatus;
}

export interface BuildOpts extends ConnectionOpts {
  /** The template's name (optionally `name:tag`); sandboxes start from it. */
  alias: string;
  cpuCount?: number;
  memoryMB?: number;
  /** Writable disk of each sandbox, in GiB. */
  diskGB?: number;
  /** What the template's sandboxes run in: `container` or `microvm` (default: the server's). */
  isolation?: 'container' | 'microvm';
  /** Rebuild every step even when a cached result exists. */
  skipCache?: boolean;
  /** Each new build log entry, in order. */
  onBuildLogs?: (entry: BuildLogEntry) => void;
  /** Give up waiting after this many ms (default: as long as the build runs). */
  timeoutMs?: number;
}

/** A ready check that passes once something listens on `port` (TCP or UDP). */
export function waitForPort(port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`);
  return `ss -tuln | grep -q ':${port}\\b'`;
}

/** A ready check that passes once `url` answers with `statusCode` (default 200). */
export function waitForURL(url: string, statusCode = 200): string {
  return `curl -s -o /dev/null -w '%{http_code}' ${q(url)} | grep -q '^${Number(statusCode)}$'`;
}

/** A ready check that passes once the file exists. */
export function waitForFile(path: string): string {
  return `[ -f ${q(path)} ]`;
}

/** A ready check that passes once a process of this name runs. */
export function waitForProcess(name: string): string {
  return `pgrep ${q(name)} > /dev/null`;
}

/** A ready check that passes after `timeoutMs`. */
export function waitForTimeout(timeoutMs: number): string {
  return `sleep ${Math.max(0, timeoutMs) / 1000}`;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A template definition; every method adds to it and returns it. */
export class TemplateBuilder {
  private source: Pick<TemplateBuildRequest, 'fromTemplate' | 'fromImage' | 'dockerfile'> = {};
  private steps: ApiStep[] = [];
  /** Per COPY step (by index in `steps`): the local sources its tar holds. */
  private copies = new Map<number, string[]>();
  private start?: { startCmd: string; readyCmd?: string };
  private ready?: string;
  private force = false;
  readonly fileContextPath?: string;

  constructor(opts: TemplateOptions = {}) {
    this.fileContextPath = opts.fileContextPath;
  }

  private from(source: TemplateBuilder['source']): this {
    if (Object.keys(this.source).length)
      throw new InvalidArgumentError(
        'a template has one source: fromTemplate, fromImage, fromBaseImage or fromDockerfile',
      );
    this.source = source;
    return this;
  }

  /** Builds on a ready template (ID or name). */
  fromTemplate(template: string): this {
    if (!template) throw new InvalidArgumentError('fromTemplate needs a template');
    return this.from({ fromTemplate: template });
  }

  /** Builds from an image (`Template.listBaseImages` names what the server can use). */
  fromImage(image: string): this {
    if (!image) throw new InvalidArgumentError('fromImage needs an image');
    return this.from({ fromImage: image });
  }

  /** Builds on the server's base template (`default`: Debian with python, pip, curl, git, sudo). */
  fromBaseImage(): this {
    return this.from({ fromTemplate: 'default' });
  }

  /**
   * Builds from a Dockerfile (its text, or a path to it). COPY/ADD in it read `fileContextPath`, uploaded as one tar.
   */
  fromDockerfile(dockerfileOrPath: string): this {
    if (!dockerfileOrPath.trim()) throw new InvalidArgumentError('fromDockerfile needs a Dockerfile');
    return this.from({ dockerfile: dockerfileOrPath });
  }

  /** Copies local files or directories (relative to `fileContextPath`) to `dest` in the template. */
  copy(src: string | string[], dest: string, opts: CopyOpts = {}): this {
    const srcs = list(src);
    if (srcs.length === 0 || srcs.some((s) => !s)) throw new InvalidArgumentError('copy needs a source');
    if (!dest) throw new InvalidArgumentError('copy needs a destination');
    const mode = typeof opts.mode === 'number' ? opts.mode.toString(8).padStart(4, '0') : opts.mode;
    if (mode !== undefined && !/^[0-7]{3,4}$/.test(mode))
      throw new InvalidArgumentError(`copy mode '${opts.mode}' is not an octal mode`);
    const to = srcs.length > 1 && !dest.endsWith('/') ? `${dest}/` : dest;
    for (const s of srcs) {
      this.copies.set(this.steps.length, [s]);
      this.steps.push({ type: 'COPY', args: [s, to, opts.user ?? '', mode ?? ''] });
    }
    return this;
  }

  /** Runs a command (a list runs in order, `&&`-joined), as root unless `user` or an earlier `setUser` says. */
  runCmd(cmd: string | string[], opts: { user?: string } = {}): this {
    const text = list(cmd).join(' && ');
    if (!text.trim()) throw new InvalidArgumentError('runCmd needs a command');
    this.steps.push({ type: 'RUN', args: opts.user ? [text, opts.user] : [text] });
    return this;
  }

  /** Environment variables for later steps and for every sandbox of the template. */
  setEnvs(envs: Record<string, string>): this {
    const entries = Object.entries(envs);
    const bad = entries.find(([k]) => !ENV_NAME.test(k));
    if (bad) throw new InvalidArgumentError(`'${bad[0]}' is not a valid environment variable name`);
    if (entries.length) this.steps.push({ type: 'ENV', args: entries.flat() });
    return this;
  }

  /** Working directory of later steps and of the template's sandboxes (absolute). */
  setWorkdir(path: string): this {
    if (!path.startsWith('/')) throw new InvalidArgumentError(`setWorkdir needs an absolute path, not '${path}'`);
    this.steps.push({ type: 'WORKDIR', args: [path] });
    return this;
  }

  /** User of later steps and the template's default user (created when missing). */
  setUser(user: string): this {
    if (!/^[a-z_][a-z0-9_-]*[$]?$/i.test(user) && !/^\d+$/.test(user))
      throw new InvalidArgumentError(`'${user}' is not a user name`);
    this.steps.push({ type: 'USER', args: [user] });
    return this;
  }

  /** `apt-get install` of Debian packages (as root, without recommends). */
  aptInstall(packages: string | string[]): this {
    const pkgs = list(packages);
    if (!pkgs.length) throw new InvalidArgumentError('aptInstall needs packages');
    return this.runCmd(
      `apt-get update && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y ` +
        `--no-install-recommends ${pkgs.map(q).join(' ')}`,
      { user: 'root' },
    );
  }

  /**
   * `pip install` of packages (system-wide as root; `g: false`: `--user` for the current user); none: `pip install .`.
   */
  pipInstall(packages?: string | string[], opts: { g?: boolean } = {}): this {
    const pkgs = list(packages);
    const g = opts.g ?? true;
    const cmd = ['pip install', ...(g ? [] : ['--user']), ...(pkgs.length ? pkgs.map(q) : ['.'])].join(' ');
    return this.runCmd(cmd, g ? { user: 'root' } : {});
  }

  /** `npm install` of packages (`g: true`: globally, as root); none: the current directory's package.json. */
  npmInstall(packages?: string | string[], opts: { g?: boolean } = {}): this {
    const pkgs = list(packages);
    const cmd = ['npm install', ...(opts.g ? ['-g'] : []), ...pkgs.map(q)].join(' ');
    return this.runCmd(cmd, opts.g ? { user: 'root' } : {});
  }

  /**
   * The command every sandbox of the template runs; with a ready check (`waitForPort(8000)`, `waitForURL(…)`,
   * `waitForFile(…)` or any command) the build captures it running, so sandboxes start with it ready.
   */
  setStartCmd(startCmd: string, readyCmd?: string): this {
    if (!startCmd.trim()) throw new InvalidArgumentError('setStartCmd needs a command');
    this.start = { startCmd, readyCmd };
    return this;
  }

  /** The ready check alone (with the start command of `setStartCmd` or the Dockerfile's CMD). */
  setReadyCmd(readyCmd: string): this {
    this.ready = readyCmd;
    return this;
  }

  /** Rebuild every step, ignoring cached results. */
  skipCache(): this {
    this.force = true;
    return this;
  }

  /** The build request this definition makes (COPY steps without their `filesHash` yet). */
  toBuildRequest(): TemplateBuildRequest {
    if (!Object.keys(this.source).length)
      throw new InvalidArgumentError(
        'a template needs a source: fromTemplate, fromImage, fromBaseImage or fromDockerfile',
      );
    return {
      ...this.source,
      steps: this.steps.map((s) => ({ ...s, args: [...(s.args ?? [])] })),
      startCmd: this.start?.startCmd,
      readyCmd: this.ready ?? this.start?.readyCmd,
      ...(this.force ? { force: true } : {}),
    };
  }

  /** @internal The local sources of the COPY step at `index`. */
  copySources(index: number): string[] | undefined {
    return this.copies.get(index);
  }
}
