/**
 * `startSandbox(source)`: the one way a new sandbox comes to life, whatever it starts from — a template's layers (a
 * cold start), or a reusable checkpoint (a snapshot, a fork's temporary image, a template's warm image). In order:
 * check the request (env vars, network rules: 400 before anything starts), check the host disk (507), take a running
 * slot of the team's quota (429), create or restore the runtime sandbox, hand the agent its env vars and token
 * (`/init`), run the template's start command (cold starts only), and insert the record — `running` from the first
 * write. Any failure after the runtime exists destroys it: nothing is left half-made and no record names a sandbox
 * that never ran.
 */
import { hasCheckpointer, type SandboxRuntimeInfo, type SandboxSpec } from '@tensor-box/runtime';
import { ApiError } from '../errors.js';
import { newAccessToken, newSandboxId } from '../ids.js';
import { envdInit } from '../services/envd-client.js';
import {
  checkEnvVars,
  driverFailure,
  egressOf,
  networkFromRequest,
  runningRecord,
  type ImageStart,
  type NetworkRequest,
} from '../services/sandbox-records.js';
import { templateEnvironment } from '../services/template-service.js';
import type { SandboxRecord, TemplateRecord, VolumeMount } from '../store/store.js';
import { startInSandbox } from '../templates/sandbox-exec.js';
import type { LifecycleContext } from './context.js';

/** What a new sandbox starts from. */
export type StartSource =
  /** The template's layers: a new sandbox, booted. */
  | { kind: 'template'; template: TemplateRecord }
  /** A reusable checkpoint: snapshot, fork image, or a template's warm image (`template` set: counts a spawn). */
  | { kind: 'image'; image: ImageStart; template?: TemplateRecord };

/** What the caller asks of the new sandbox (E2B's NewSandbox, plus the owning team). */
export interface StartRequest {
  /** Inactivity timeout (default 15 s). */
  timeoutMs?: number;
  metadata?: Record<string, string>;
  envVars?: Record<string, string>;
  secure?: boolean;
  allow_internet_access?: boolean;
  autoPause?: boolean;
  autoResume?: { enabled: boolean };
  network?: NetworkRequest;
  /** E2B's volumeMounts: volumes of the team, by name (a start from a checkpoint mounts the checkpoint's). */
  volumeMounts?: { name: string; path: string }[];
  teamId: string;
}

/** The source reduced to what the steps below need. */
interface Plan {
  shape: Pick<SandboxRecord, 'templateId' | 'alias' | 'cpuCount' | 'memoryMB' | 'diskSizeMB'>;
  envVars: Record<string, string>;
  user: string;
  workdir: string;
  internetByDefault: boolean;
  /** For messages and the disk check: `template …`, `snapshot …`, `fork of …`. */
  what: string;
  launch(spec: SandboxSpec): Promise<SandboxRuntimeInfo>;
  /** Restored from a checkpoint (its agent was initialised before). */
  fromCheckpoint: boolean;
  /** The token the agent in a checkpoint holds (it must present it to be re-initialised). */
  agentToken?: string;
  startCmd?: string;
  event: { message: string; fields: Record<string, string> };
}

const shapeOf = (o: { cpuCount: number; memoryMB: number; diskSizeMB: number }) => ({
  cpuCount: o.cpuCount,
  memoryMB: o.memoryMB,
  diskSizeMB: o.diskSizeMB,
});

function plan(ctx: LifecycleContext, source: StartSource, timeoutMs: number): Plan {
  const driver = ctx.driver;
  if (source.kind === 'template') {
    const t = source.template;
    const env = templateEnvironment(t);
    return {
      shape: { ...shapeOf(t), templateId: t.templateId, alias: t.names[0] },
      ...env,
      internetByDefault: true,
      what: `template ${t.templateId}`,
      launch: (spec) => ctx.opts.prom.time('driver.create', () => driver.create({ ...spec, layers: t.layers })),
      fromCheckpoint: false,
      startCmd: t.startCmd,
      event: {
        message: `sandbox created from template ${t.templateId}`,
        fields: { templateId: t.templateId, timeoutMs: String(timeoutMs) },
      },
    };
  }
  const img = source.image;
  if (!hasCheckpointer(driver)) {
    throw new ApiError('failed_precondition', `the ${driver.name} runtime cannot start sandboxes from snapshots`);
  }
  return {
    shape: { ...shapeOf(img), templateId: img.templateId, alias: img.alias },
    envVars: img.envVars,
    user: img.user,
    workdir: img.workdir,
    internetByDefault: img.allowInternetAccess,
    what: img.what,
    launch: async (spec) => {
      try {
        // The checkpoint's own layers (layers: []); the image stays reusable (no move).
        return await ctx.opts.prom.time('driver.restore', () => driver.restore({ ...spec, layers: [] }, img.imageDir));
      } catch (err) {
        throw driverFailure(err, `cannot start a sandbox from ${img.what}`);
      }
    },
    fromCheckpoint: true,
    agentToken: img.envdAccessToken,
    event: { message: `sandbox started from ${img.what}`, fields: img.fields },
  };
}

/** Starts a new sandbox from `source` for `req`; returns its record (already stored, `running`). */
export async function startSandbox(
  ctx: LifecycleContext,
  source: StartSource,
  req: StartRequest,
): Promise<SandboxRecord> {
  const timeoutMs = req.timeoutMs ?? 15_000;
  const p = plan(ctx, source, timeoutMs);
  // Bad input fails before anything starts.
  const network = networkFromRequest(req.network);
  checkEnvVars(req.envVars);
  const volumeMounts = await volumeMountsOf(ctx, source, req);
  ctx.opts.hostDisk?.ensureRoom(p.shape.diskSizeMB, `a sandbox from ${p.what}`);
  const record = await ctx.withRunSlot(req.teamId, p.shape, () =>
    launch(ctx, p, req, { timeoutMs, network, volumeMounts }),
  );
  if (source.template) ctx.opts.templates.recordSpawn(source.template).catch(() => {});
  ctx.event(record.sandboxId, 'info', p.event.message, { ...p.event.fields, teamId: req.teamId });
  void ctx.opts.metrics.sample(record.sandboxId);
  return record;
}

/** The runtime sandbox, its agent, its start command and its record; the runtime is destroyed if a later step fails. */
async function launch(
  ctx: LifecycleContext,
  p: Plan,
  req: StartRequest,
  o: { timeoutMs: number; network: ReturnType<typeof networkFromRequest>; volumeMounts: VolumeMount[] },
): Promise<SandboxRecord> {
  const sandboxId = newSandboxId();
  const accessToken = (req.secure ?? true) ? newAccessToken() : undefined;
  const envVars = { ...p.envVars, ...(req.envVars ?? {}) };
  const internet = req.allow_internet_access ?? p.internetByDefault;
  const volumeMounts = o.volumeMounts.length ? o.volumeMounts : undefined;
  const mounts = await ctx.attachVolumes(sandboxId, volumeMounts);
  const info = await p
    .launch({
      sandboxId,
      layers: [],
      cpuCount: p.shape.cpuCount,
      memoryMB: p.shape.memoryMB,
      diskMB: p.shape.diskSizeMB,
      internetAccess: internet,
      hostname: sandboxId,
      egress: egressOf({ network: o.network }),
      mounts,
    })
    .catch((err) => {
      ctx.stoppedHere(sandboxId, volumeMounts);
      throw err;
    });
  try {
    await envdInit(info.envdUrl, {
      envVars,
      // A checkpoint's agent holds a token ('' removes it); a fresh agent has none to remove.
      accessToken: p.fromCheckpoint ? (accessToken ?? '') : accessToken,
      currentToken: p.agentToken,
      defaultUser: p.user,
      defaultWorkdir: p.workdir,
    });
    if (p.startCmd) {
      // A template's start command (cold start; a warm image has it running already): it runs in the background.
      const cmd = { cmd: p.startCmd, user: p.user, cwd: p.workdir, envs: envVars };
      await startInSandbox({ envdUrl: info.envdUrl, accessToken }, cmd);
    }
    const record = runningRecord(
      {
        sandboxId,
        ...p.shape,
        timeoutMs: o.timeoutMs,
        envVars,
        envdAccessToken: accessToken,
        allowInternetAccess: internet,
        nodeId: ctx.opts.nodeId,
        teamId: req.teamId,
        network: o.network,
        volumeMounts,
      },
      req,
      info,
    );
    await ctx.store.insertSandbox(record);
    return record;
  } catch (err) {
    await ctx.driver.destroy(sandboxId).catch(() => {});
    ctx.stoppedHere(sandboxId, volumeMounts);
    throw err;
  }
}

/**
 * The volumes a new sandbox mounts: the request's (checked: 400/404 before anything starts), or for a start from a
 * checkpoint the checkpoint's own (its processes may have files open there; a request naming others is refused).
 */
async function volumeMountsOf(ctx: LifecycleContext, source: StartSource, req: StartRequest): Promise<VolumeMount[]> {
  const requested = req.volumeMounts ?? [];
  if (requested.length && !ctx.opts.volumes) throw new ApiError('invalid_argument', 'this server has no volumes');
  const asked = requested.length ? await ctx.opts.volumes!.resolveMounts(requested) : [];
  if (source.kind === 'template') return asked;
  const saved = source.image.volumeMounts ?? [];
  const same = (a: VolumeMount[], b: VolumeMount[]) =>
    a.length === b.length && a.every((m) => b.some((n) => n.volumeId === m.volumeId && n.path === m.path));
  if (asked.length && !same(asked, saved)) {
    const had = saved.map((m) => `${m.name} at ${m.path}`).join(', ') || 'none';
    throw new ApiError('invalid_argument', `${source.image.what} mounts its own volumes (${had}); omit volumeMounts`);
  }
  return saved;
}
