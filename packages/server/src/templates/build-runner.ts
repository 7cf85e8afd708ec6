/**
 * One template build, start to end: a build sandbox on the parent's layers, the steps run in it in order (their output
 * streamed to the build log), then the sandbox's writable layer captured as the template's new read-only layer. With a
 * start command, it is started, `readyCmd` is polled until it passes, and the sandbox is checkpointed with its layer
 * handed out (`layerOut`): sandboxes of the template then resume that moment with the server already running
 * (warm start) instead of booting it. If that checkpoint cannot be made, the template falls back to a cold start
 * (startCmd runs in each new sandbox) and the log says why.
 *
 * Steps run as root by default (as Docker's RUN), under `/bin/sh -c`; ENV, WORKDIR and USER steps apply to the steps
 * after them and become the template's defaults.
 */
import { hasCheckpointer, hasLayerCapturer, type Driver } from '@tensor-box/runtime';
import { envdInit } from '../services/envd-client.js';
import { newSandboxId } from '../ids.js';
import type { ApiError } from '../errors.js';
import type { LogLevel } from '../store/store.js';
import type { BuildStep } from './build-request.js';
import { copyIntoSandbox, type BuildFiles } from './build-files.js';
import { execInSandbox, processRunning, startInSandbox, type ExecTarget } from './sandbox-exec.js';

/** Why a build failed: the message, and the failing step with its exit code when a step failed. */
/** What PATH is in a sandbox whose template does not set one. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class BuildFailed extends Error {
  constructor(
    message: string,
    readonly step?: string,
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'BuildFailed';
  }
}

export interface BuildEnvironment {
  envVars: Record<string, string>;
  user: string;
  workdir: string;
}

export interface RunBuildOptions {
  driver: Driver;
  files: BuildFiles;
  log: (level: LogLevel, message: string, step?: string) => void;
  /** The parent's layers, topmost first, and what its sandboxes start with. */
  parentLayers: string[];
  parentEnv: BuildEnvironment;
  steps: BuildStep[];
  startCmd?: string;
  readyCmd?: string;
  cpuCount: number;
  memoryMB: number;
  diskMB: number;
  /** Where the new layer goes (must not exist). */
  layerDir: string;
  /** Where a warm-start checkpoint goes (must not exist). */
  warmDir: string;
  stepTimeoutMs: number;
  readyTimeoutMs: number;
  /** Without a readyCmd, how long the start command must keep running before the template is captured. */
  settleMs?: number;
  /**
   * Whether a passed start command may be captured running (default true); false when the build runs on another
   * isolation than the template's sandboxes (its checkpoint would be useless to them): they start it cold.
   */
  warmStart?: boolean;
}

export interface BuildResult extends BuildEnvironment {
  /** Whether sandboxes resume a captured state with startCmd running. */
  warm: boolean;
}

export async function runBuild(o: RunBuildOptions): Promise<BuildResult> {
  const driver = o.driver;
  if (!hasLayerCapturer(driver)) throw new BuildFailed(`the ${driver.name} runtime cannot build templates`);
  const sandboxId = newSandboxId();
  const n = o.steps.length;
  const env: BuildEnvironment = {
    envVars: { ...o.parentEnv.envVars },
    user: o.parentEnv.user,
    workdir: o.parentEnv.workdir,
  };
  // Steps run as root unless a USER step says otherwise; the template's default user is the parent's or the last USER.
  let runUser = 'root';
  let runDir = env.workdir || '/';
  o.log('info', `starting a build sandbox (${o.cpuCount} CPU, ${o.memoryMB} MB)`);
  const info = await driver
    .create({
      sandboxId,
      layers: o.parentLayers,
      cpuCount: o.cpuCount,
      memoryMB: o.memoryMB,
      diskMB: o.diskMB,
      internetAccess: true,
      hostname: 'build',
    })
    .catch((err) => {
      throw new BuildFailed(`cannot start the build sandbox: ${(err as Error).message}`);
    });
  let alive = true;
  const target: ExecTarget = { envdUrl: info.envdUrl };
  try {
    await envdInit(info.envdUrl, { envVars: env.envVars, defaultUser: 'root', defaultWorkdir: '/' });
    for (let i = 0; i < n; i++) {
      const s = o.steps[i];
      o.log(
        'info',
        (
          `[${i + 1}/${n}] ${s.type} ` +
          `${s.type === 'ENV' ? s.args.filter((_, j) => j % 2 === 0).join(' ') : s.args.slice(0, 2).join(' ')}`
        ).trimEnd(),
        s.name,
      );
      const out = (line: string, stream: 'stdout' | 'stderr' = 'stdout') =>
        o.log(stream === 'stderr' ? 'warn' : 'info', line, s.name);
      const t0 = Date.now();
      switch (s.type) {
        case 'RUN': {
          const run = { cmd: s.args[0], user: s.args[1] || runUser, cwd: runDir, envs: env.envVars };
          const r = await execInSandbox(target, { ...run, timeoutMs: o.stepTimeoutMs, onLine: out }).catch(
            (err: ApiError) => {
              // E2B's words, which the stock SDKs' tests match: "… command failed: unauthenticated: invalid username:
              // 'x'".
              const why = `command failed: ${err.kind}: ${err.message}`;
              throw new BuildFailed(`failed to run command '${s.args[0]}': ${why}`, s.name);
            },
          );
          if (r.timedOut)
            throw new BuildFailed(
              `step '${s.name}' did not finish within ${Math.round(o.stepTimeoutMs / 1000)} s`,
              s.name,
              r.exitCode,
            );
          if (r.exitCode !== 0)
            throw new BuildFailed(`step '${s.name}' failed with exit code ${r.exitCode}`, s.name, r.exitCode);
          break;
        }
        case 'COPY': {
          if (!o.files.has(s.filesHash!))
            throw new BuildFailed(`step '${s.name}': no files were uploaded for hash ${s.filesHash}`, s.name);
          const code = await copyIntoSandbox(target, {
            tar: o.files.path(s.filesHash!),
            src: s.args[0],
            dest: s.args[1],
            workdir: runDir,
            user: s.args[2] || undefined,
            mode: s.args[3] || undefined,
            onLine: (l) => out(l, 'stderr'),
          });
          if (code !== 0) throw new BuildFailed(`step '${s.name}' failed with exit code ${code}`, s.name, code);
          break;
        }
        case 'ENV':
          // As Docker's ENV: references to variables (the parent's PATH, say) are expanded now.
          for (let j = 0; j < s.args.length; j += 2)
            env.envVars[s.args[j]] = expandEnv(s.args[j + 1], { PATH: DEFAULT_PATH, ...env.envVars });
          break;
        case 'WORKDIR': {
          const r = await execInSandbox(target, {
            cmd: `mkdir -p '${s.args[0].replace(/'/g, `'\\''`)}'`,
            user: 'root',
            onLine: out,
          });
          if (r.exitCode !== 0)
            throw new BuildFailed(`step '${s.name}' failed with exit code ${r.exitCode}`, s.name, r.exitCode);
          runDir = env.workdir = s.args[0];
          break;
        }
        case 'USER': {
          // As E2B's: a user that does not exist is created (home, bash); a second argument "true" adds it to sudoers.
          const script = userScript(s.args[0], s.args[1] === 'true');
          const r = await execInSandbox(target, { cmd: script, user: 'root', onLine: out });
          if (r.exitCode !== 0) {
            const why = `failed to create user '${s.args[0]}' (exit code ${r.exitCode})`;
            throw new BuildFailed(`step '${s.name}': ${why}`, s.name, r.exitCode);
          }
          runUser = env.user = s.args[0];
          break;
        }
      }
      if (s.type === 'RUN' || s.type === 'COPY')
        o.log('debug', `step '${s.name}' done in ${((Date.now() - t0) / 1000).toFixed(1)} s`, s.name);
    }

    if (o.startCmd) {
      const step = 'start';
      o.log('info', `starting the start command: ${o.startCmd}`, step);
      const pid = await startInSandbox(target, {
        cmd: o.startCmd,
        user: env.user,
        cwd: env.workdir,
        envs: env.envVars,
      });
      if (o.readyCmd) {
        o.log('info', `waiting for the ready command: ${o.readyCmd}`, 'ready');
        const deadline = Date.now() + o.readyTimeoutMs;
        let last = -1;
        for (;;) {
          const r = await execInSandbox(target, {
            cmd: o.readyCmd,
            user: env.user,
            cwd: env.workdir,
            envs: env.envVars,
            timeoutMs: 30_000,
          });
          if (r.exitCode === 0) break;
          last = r.exitCode;
          if (!(await processRunning(target, pid)))
            throw new BuildFailed('the start command exited before the ready command passed', step);
          if (Date.now() > deadline) {
            throw new BuildFailed(
              `the ready command did not pass within ${Math.round(o.readyTimeoutMs / 1000)} s (last exit code ${last})`,
              'ready',
              last,
            );
          }
          await new Promise((r2) => setTimeout(r2, 500));
        }
        o.log('info', 'ready command passed', 'ready');
      } else {
        await new Promise((r) => setTimeout(r, o.settleMs ?? 2000));
        if (!(await processRunning(target, pid)))
          throw new BuildFailed('the start command exited within its first seconds', step);
      }
      if (o.warmStart === false) {
        o.log(
          'warn',
          `the build ran in a ${driver.name} sandbox: sandboxes will run the start command when they start`,
        );
      } else if (hasCheckpointer(driver)) {
        try {
          await driver.checkpoint(sandboxId, o.warmDir, { layerOut: o.layerDir });
          alive = false;
          o.log('info', 'captured the running start command: sandboxes of this template resume it (warm start)');
          return { ...env, warm: true };
        } catch (err) {
          o.log(
            'warn',
            `warm start unavailable, sandboxes will run the start command when they start: ${(err as Error).message}`,
          );
        }
      } else {
        o.log(
          'warn',
          `the ${driver.name} runtime cannot checkpoint: sandboxes will run the start command when they start`,
        );
      }
    }

    o.log('info', 'capturing the filesystem as a layer');
    await driver.captureLayer(sandboxId, o.layerDir);
    alive = false;
    return { ...env, warm: false };
  } catch (err) {
    if (err instanceof BuildFailed) throw err;
    throw new BuildFailed((err as Error).message);
  } finally {
    if (alive) await driver.destroy(sandboxId).catch(() => {});
  }
}

/** `$VAR`, `${VAR}` and `${VAR:-default}` against `env` (unset → empty, as in Docker); `\$` stays a literal `$`. */
export function expandEnv(value: string, env: Record<string, string>): string {
  return value.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, braced, def, bare) => {
      if (m === '\\$') return '$';
      const name = braced ?? bare;
      const v = env[name];
      return v !== undefined && v !== '' ? v : (def ?? v ?? '');
    },
  );
}

/** A USER step's script: create the user unless it exists (a numeric ID is left as it is), optionally with sudo. */
export function userScript(name: string, sudo: boolean): string {
  const q = `'${name.replace(/'/g, `'\\''`)}'`;
  const create = `id -u ${q} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${q}`;
  const lines = /^\d+$/.test(name) ? [] : [create];
  if (sudo) {
    const file = `/etc/sudoers.d/${name.replace(/[^a-z0-9_-]/gi, '_')}`;
    lines.push(`echo ${q}' ALL=(ALL:ALL) NOPASSWD: ALL' > ${file} && chmod 0440 ${file}`);
  }
  return lines.join('\n') || 'true';
}
