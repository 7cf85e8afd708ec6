/**
 * The fresh boot behind resuming a filesystem-only paused sandbox (or a `memory: false` resume of any paused one):
 * the runtime boots a new init and agent on the sandbox's kept writable layer (`FilesystemPauser.boot`), then the
 * agent gets what a create gives it — the sandbox's env vars and access token, its template's user and working
 * directory (`/init`) — and the template's start command runs again, in the background as on a create. The sandbox
 * keeps its ID, env vars, token, metadata and network rules (the record's); nothing of its old processes survives.
 * A boot whose agent cannot be set up is paused filesystem-only again (its files are not lost).
 */
import { hasFilesystemPauser, type SandboxRuntimeInfo, type SandboxSpec } from '@tensor-box/runtime';
import { ApiError } from '../errors.js';
import { DEFAULT_USER, DEFAULT_WORKDIR, templateEnvironment } from '../services/default-template.js';
import { envdInit } from '../services/envd-client.js';
import { driverFailure } from '../services/sandbox-records.js';
import type { SandboxRecord } from '../store/store.js';
import { startInSandbox } from '../templates/sandbox-exec.js';
import type { LifecycleContext } from './context.js';

/**
 * Boots the sandbox `s` (held in `resuming` by the caller) on the writable layer of `imageDir`, consuming it, and sets
 * its agent up. On failure after the boot the sandbox is paused again into `retryImage` (thrown error says why).
 */
export async function bootPaused(
  ctx: LifecycleContext,
  s: SandboxRecord,
  spec: SandboxSpec,
  imageDir: string,
  retryImage: string,
): Promise<SandboxRuntimeInfo> {
  const driver = ctx.driver;
  if (!hasFilesystemPauser(driver)) throw new ApiError('internal', 'the runtime lost its filesystem pause');
  const info = await ctx.opts.prom.time('driver.boot', () => driver.boot(spec, imageDir, { move: true }));
  try {
    await initBooted(ctx, s, info);
    return info;
  } catch (err) {
    // The files must not be lost: back into a pause image (the old one's layer moved into the sandbox).
    await driver.pauseFilesystem(s.sandboxId, retryImage).catch(async (e) => {
      ctx.log(`re-pause of ${s.sandboxId} after a failed boot: ${(e as Error).message}`);
      await driver.destroy(s.sandboxId).catch(() => {});
    });
    throw driverFailure(err, `cannot set up the booted sandbox '${s.sandboxId}'`);
  }
}

/**
 * A freshly booted agent gets the sandbox's env vars, token, user and workdir, and the template's start command runs
 * (as on create). `again`: the agent may have been set up already (a boot a restart interrupted): present the token.
 */
export async function initBooted(
  ctx: LifecycleContext,
  s: SandboxRecord,
  info: SandboxRuntimeInfo,
  again = false,
): Promise<void> {
  const t = await ctx.store.findTemplate(s.templateId);
  const env = t ? templateEnvironment(t) : { user: DEFAULT_USER, workdir: DEFAULT_WORKDIR };
  await envdInit(info.envdUrl, {
    envVars: s.envVars,
    accessToken: s.envdAccessToken,
    currentToken: again ? s.envdAccessToken : undefined,
    defaultUser: env.user,
    defaultWorkdir: env.workdir,
  });
  if (t?.startCmd) {
    const cmd = { cmd: t.startCmd, user: env.user, cwd: env.workdir, envs: s.envVars };
    await startInSandbox({ envdUrl: info.envdUrl, accessToken: s.envdAccessToken }, cmd);
  }
}

/** Whether resuming `s` boots afresh: it was paused filesystem-only, or the caller asked to ignore its memory. */
export function bootsOnResume(s: SandboxRecord, memory?: boolean): boolean {
  return s.pauseMode === 'filesystem' || memory === false;
}
