/**
 * `Sandbox`: create, connect to, list and control sandboxes; each instance composes `files` and `commands`.
 * Over 400 lines on purpose: the public class mirrors E2B's `Sandbox`, one method per operation (helpers live in
 * sandbox-list.ts, files.ts, commands.ts, pty.ts).
 * @example
 * const sandbox = await Sandbox.create('default', { timeoutMs: 60_000 })
 * await sandbox.commands.run('echo hi')
 * await sandbox.kill()
 */
import { apiClient, unwrap } from './api/client.js';
import { apiUrlFromDomain, resolveConnection, type ConnectionOpts, type ResolvedConnection } from './connection.js';
import { Commands } from './commands.js';
import { ENVD_PORT, type EnvdTarget } from './envd/transport.js';
import { NotFoundError, InvalidArgumentError, fromHttp } from './errors.js';
import { Files } from './files.js';
import { Pty } from './pty.js';
import { fileSignature } from './signature.js';
import { SandboxPaginator, toInfo, type SandboxInfo, type SandboxListOpts } from './sandbox-list.js';
import type { components } from './api/schema.gen.js';
import { Snapshot, type SnapshotInfo } from './snapshot.js';
import { commitSandbox, type CommitOpts, type CommitResult } from './template.js';

export interface LifecycleConfig {
  /**
   * What happens when the timeout passes: `kill` (default) or `pause`; `{ action: 'pause', keepMemory: false }` makes
   * that pause filesystem-only (the processes end, the files stay; resuming boots the sandbox afresh), as in E2B.
   */
  onTimeout?: 'kill' | 'pause' | { action: 'pause'; keepMemory?: boolean };
  /** With `onTimeout: 'pause'`: wake the sandbox on the next request that reaches it (not with keepMemory false). */
  autoResume?: boolean;
}

/** How a paused sandbox comes back: `restore` its memory (default) or `reboot` afresh on its files (E2B's names). */
export type SandboxOnResume = 'restore' | 'reboot';

/** The `memory` field of connect/resume for `onResume`. */
const resumeMemory = (onResume?: SandboxOnResume) => {
  if (onResume !== undefined && onResume !== 'restore' && onResume !== 'reboot') {
    throw new InvalidArgumentError(`onResume must be 'restore' or 'reboot' (got ${JSON.stringify(onResume)})`);
  }
  return onResume === 'reboot' ? false : undefined;
};

export interface SandboxOpts extends ConnectionOpts {
  /** Inactivity timeout in ms (default 300 000). */
  timeoutMs?: number;
  envs?: Record<string, string>;
  metadata?: Record<string, string>;
  lifecycle?: LifecycleConfig;
  /** Require the sandbox's access token on every agent call (default true). */
  secure?: boolean;
  /** Allow traffic from the sandbox to the internet (default true). */
  allowInternetAccess?: boolean;
  /** Inbound traffic: E2B's `network` settings. */
  network?: SandboxNetworkOpts;
  /**
   * The boundary: `container` (namespaces on the host's kernel) or `microvm` (a VM with its own kernel; the server
   * needs QEMU). Default: the template's, else the server's (`TENSOR_BOX_ISOLATION`). A Tensor Box extension.
   */
  isolation?: Isolation;
  /** Volumes to mount read-write, as E2B's: sandbox path → volume (or its name). */
  volumeMounts?: Record<string, { name: string } | string>;
}

export type Isolation = 'container' | 'microvm';

export interface SandboxNetworkOpts {
  /**
   * false: requests to the sandbox's ports (other than the agent's) need the header `e2b-traffic-access-token` with
   * `sandbox.trafficAccessToken` (default true: anyone who knows the URL reaches them).
   */
  allowPublicTraffic?: boolean;
  /** The Host header the sandbox's servers see; `${PORT}` is replaced by the port. */
  maskRequestHost?: string;
  /** Outbound destinations allowed: IP addresses, CIDRs, host names (`*.example.com`). Allow wins over deny. */
  allowOut?: string[];
  /** Outbound destinations denied: IP addresses and CIDRs; `['0.0.0.0/0']` with `allowOut` means "only these". */
  denyOut?: string[];
}

/** Options of `Sandbox.pause`. */
export interface PauseOpts extends ConnectionOpts {
  /** False: filesystem-only (the processes end, the files stay; resuming boots afresh). Default true. */
  keepMemory?: boolean;
}

export interface SandboxConnectOpts extends ConnectionOpts {
  /** Timeout to set, in ms (only ever extends; default 300 000). */
  timeoutMs?: number;
  /** A paused sandbox: `restore` its memory (default) or `reboot` it afresh on its files. */
  onResume?: SandboxOnResume;
}

export interface SignedUrlOpts {
  user?: string;
  /** Seconds until the URL stops working (default: never). */
  useSignatureExpiration?: number;
}

const DEFAULT_TIMEOUT_MS = 300_000;

export interface SandboxMetrics {
  timestamp: Date;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  diskUsed: number;
  diskTotal: number;
}

export interface SandboxLogEntry {
  timestamp: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, string>;
}

type ApiSandbox = components['schemas']['Sandbox'];

/**
 * An isolated Linux machine of your own: run commands and terminals in it, read and write its files, reach its ports,
 * pause and resume it with its memory, snapshot and fork it. Start one with {@link Sandbox.create}, reach an existing
 * one with {@link Sandbox.connect}.
 */
export class Sandbox {
  readonly sandboxId: string;
  readonly templateId: string;
  /** Domain of the sandbox's host names (`getHost`). */
  readonly sandboxDomain: string;
  readonly files: Files;
  readonly commands: Commands;
  readonly pty: Pty;
  private readonly conn: ResolvedConnection;
  private readonly accessToken?: string;
  /** Send as `e2b-traffic-access-token` to reach the sandbox's ports when it does not allow public traffic. */
  readonly trafficAccessToken?: string;

  protected constructor(data: ApiSandbox, conn: ResolvedConnection) {
    this.sandboxId = data.sandboxID;
    this.templateId = data.templateID;
    this.conn = conn;
    this.accessToken = data.envdAccessToken;
    this.trafficAccessToken = data.trafficAccessToken ?? undefined;
    this.sandboxDomain = data.domain ?? new URL(conn.apiUrl).host;
    const target: EnvdTarget = {
      apiUrl: conn.apiUrl,
      sandboxId: this.sandboxId,
      accessToken: this.accessToken,
      headers: conn.headers,
    };
    this.files = new Files(target);
    this.commands = new Commands(target);
    this.pty = new Pty(target);
  }

  /** Creates a sandbox from a template (ID or name; default `default`). */
  static async create(template?: string | SandboxOpts, opts?: SandboxOpts): Promise<Sandbox> {
    const [tpl, o] = typeof template === 'string' ? [template, opts ?? {}] : ['default', template ?? opts ?? {}];
    const conn = resolveConnection(o);
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeoutMs < 0) throw new InvalidArgumentError('timeoutMs must not be negative');
    const onTimeout = o.lifecycle?.onTimeout ?? 'kill';
    const action = typeof onTimeout === 'string' ? onTimeout : onTimeout.action;
    const keepMemory = typeof onTimeout === 'string' ? undefined : onTimeout.keepMemory;
    if (keepMemory === false && o.lifecycle?.autoResume) {
      throw new InvalidArgumentError('autoResume cannot be combined with keepMemory: false (resume it with connect)');
    }
    const r = await apiClient(conn).POST('/sandboxes', {
      body: {
        templateID: tpl,
        timeout: Math.ceil(timeoutMs / 1000),
        metadata: o.metadata,
        envVars: o.envs,
        secure: o.secure ?? true,
        allow_internet_access: o.allowInternetAccess ?? true,
        network: o.network ? { ...o.network } : undefined,
        autoPause: action === 'pause',
        autoPauseMemory: action === 'pause' ? keepMemory : undefined,
        autoResume: o.lifecycle?.autoResume !== undefined ? { enabled: o.lifecycle.autoResume } : undefined,
        isolation: o.isolation,
        volumeMounts: o.volumeMounts
          ? Object.entries(o.volumeMounts).map(([path, v]) => ({ path, name: typeof v === 'string' ? v : v.name }))
          : undefined,
      },
    });
    return new this(unwrap(r, 'create sandbox'), conn);
  }

  /** Connects to an existing sandbox by ID, resuming it when paused. */
  static async connect(sandboxId: string, opts: SandboxConnectOpts = {}): Promise<Sandbox> {
    const conn = resolveConnection(opts);
    const r = await apiClient(conn).POST('/sandboxes/{sandboxID}/connect', {
      params: { path: { sandboxID: sandboxId } },
      body: { timeout: Math.ceil((opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000), memory: resumeMemory(opts.onResume) },
    });
    return new this(unwrap(r, `connect to sandbox ${sandboxId}`), conn);
  }

  /** Lists sandboxes: await it for every page, or use `hasNext`/`nextItems()` page by page. */
  static list(opts: SandboxListOpts = {}): SandboxPaginator {
    return new SandboxPaginator(opts);
  }

  /** Kills a sandbox by ID; false when it did not exist. */
  static async kill(sandboxId: string, opts: ConnectionOpts = {}): Promise<boolean> {
    const r = await apiClient(resolveConnection(opts)).DELETE('/sandboxes/{sandboxID}', {
      params: { path: { sandboxID: sandboxId } },
    });
    if (r.response.status === 404) return false;
    unwrap(r, `kill sandbox ${sandboxId}`);
    return true;
  }

  static async getInfo(sandboxId: string, opts: ConnectionOpts = {}): Promise<SandboxInfo> {
    const r = await apiClient(resolveConnection(opts)).GET('/sandboxes/{sandboxID}', {
      params: { path: { sandboxID: sandboxId } },
    });
    return toInfo(unwrap(r, `sandbox ${sandboxId}`));
  }

  /** Sets the inactivity timeout (ms from now; may shorten it). */
  static async setTimeout(sandboxId: string, timeoutMs: number, opts: ConnectionOpts = {}): Promise<void> {
    if (timeoutMs < 0) throw new InvalidArgumentError('timeoutMs must not be negative');
    const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/timeout', {
      params: { path: { sandboxID: sandboxId } },
      body: { timeout: Math.ceil(timeoutMs / 1000) },
    });
    unwrap(r, `set timeout of sandbox ${sandboxId}`);
  }

  /** Extends the sandbox's life by `durationMs` from now (never shortens it). */
  static async keepAlive(sandboxId: string, durationMs: number, opts: ConnectionOpts = {}): Promise<void> {
    const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/refreshes', {
      params: { path: { sandboxID: sandboxId } },
      body: { duration: Math.min(3600, Math.ceil(durationMs / 1000)) },
    });
    unwrap(r, `keep sandbox ${sandboxId} alive`);
  }

  /**
   * Pauses a sandbox: its memory, processes and files are saved and it stops using the host. Resume with
   * `Sandbox.connect(id)`, `sandbox.resume()` or, with `autoResume`, any request that reaches it. With
   * `keepMemory: false` only its files are kept (cheaper: no memory image); resuming boots it afresh — its processes
   * are gone and the template's start command runs again — and traffic does not wake it.
   * @example await Sandbox.pause(sandboxId, { keepMemory: false })
   */
  static async pause(sandboxId: string, opts: PauseOpts = {}): Promise<void> {
    const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/pause', {
      params: { path: { sandboxID: sandboxId } },
      body: { memory: opts.keepMemory },
    });
    unwrap(r, `pause sandbox ${sandboxId}`);
  }

  /**
   * Resumes a paused sandbox (resuming a running one only extends its timeout); `timeoutMs` restarts its timeout;
   * `onResume: 'reboot'` boots it afresh on its files instead of restoring its memory.
   */
  static async resume(
    sandboxId: string,
    opts: ConnectionOpts & { timeoutMs?: number; onResume?: SandboxOnResume } = {},
  ): Promise<void> {
    if (opts.timeoutMs !== undefined && opts.timeoutMs < 0)
      throw new InvalidArgumentError('timeoutMs must not be negative');
    const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/connect', {
      params: { path: { sandboxID: sandboxId } },
      body: {
        timeout: opts.timeoutMs === undefined ? undefined : Math.ceil(opts.timeoutMs / 1000),
        memory: resumeMemory(opts.onResume),
      },
    });
    unwrap(r, `resume sandbox ${sandboxId}`);
  }

  /**
   * Saves this sandbox's memory, processes and files while it keeps running; the snapshot's ID works as a template.
   * @example const snap = await sandbox.createSnapshot('before-risky-step') // { snapshotId, sandboxId, name }
   */
  async createSnapshot(name?: string): Promise<SnapshotInfo> {
    return Snapshot.create(this.sandboxId, name, this.connOpts());
  }

  /**
   * Turns this sandbox's filesystem into a new template (it keeps running); by default waits until the build is ready.
   * @example
   * const tpl = await sandbox.commitAsTemplate('ubuntu-with-ffmpeg', { cpuCount: 2, memoryMB: 2048, diskGB: 40 })
   */
  async commitAsTemplate(name: string, opts: CommitOpts = {}): Promise<CommitResult> {
    return commitSandbox(this.sandboxId, name, { ...opts, ...this.connOpts() });
  }

  /**
   * Live copies of this sandbox (it keeps running): each starts with its memory, processes and files.
   * @example const [copy] = await sandbox.fork()
   */
  async fork(opts: { count?: number; timeoutMs?: number } = {}): Promise<Sandbox[]> {
    const r = await apiClient(this.conn).POST('/sandboxes/{sandboxID}/fork', {
      params: { path: { sandboxID: this.sandboxId } },
      body: { count: opts.count, timeout: opts.timeoutMs === undefined ? undefined : Math.ceil(opts.timeoutMs / 1000) },
    });
    const results = unwrap(r, `fork sandbox ${this.sandboxId}`);
    const failed = results.find((x) => x.error);
    if (failed?.error) {
      // Don't leak the copies that did start.
      await Promise.all(
        results
          .filter((x) => x.sandbox)
          .map((x) => Sandbox.kill(x.sandbox!.sandboxID, this.connOpts()).catch(() => false)),
      );
      throw fromHttp(failed.error.code, failed.error, `fork sandbox ${this.sandboxId}`);
    }
    return results.map((x) => new Sandbox(x.sandbox!, this.conn));
  }

  /** Pauses this sandbox (see `Sandbox.pause`; `keepMemory: false`: filesystem-only). */
  async pause(opts: { keepMemory?: boolean } = {}): Promise<void> {
    await Sandbox.pause(this.sandboxId, { ...this.connOpts(), keepMemory: opts.keepMemory });
  }

  /** E2B's name for `pause()`. */
  async betaPause(opts: { keepMemory?: boolean } = {}): Promise<void> {
    await this.pause(opts);
  }

  /** Resumes this sandbox; `timeoutMs` restarts its inactivity timeout (default: the sandbox's own). */
  async resume(timeoutMs?: number): Promise<void> {
    await Sandbox.resume(this.sandboxId, { ...this.connOpts(), timeoutMs });
  }

  private connOpts(): ConnectionOpts {
    return {
      domain: this.conn.apiUrl,
      apiKey: this.conn.apiKey,
      requestTimeoutMs: this.conn.requestTimeoutMs,
      headers: this.conn.headers,
    };
  }

  /** Kills this sandbox. */
  async kill(): Promise<void> {
    await Sandbox.kill(this.sandboxId, this.connOpts());
  }

  /** Drops this client's hold on the sandbox; the sandbox keeps running and can be connected to again. */
  async disconnect(): Promise<void> {
    /* Nothing is held open between calls; commands attached in the background are detached by their handles. */
  }

  async setTimeout(timeoutMs: number): Promise<void> {
    await Sandbox.setTimeout(this.sandboxId, timeoutMs, this.connOpts());
  }

  async keepAlive(durationMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
    await Sandbox.keepAlive(this.sandboxId, durationMs, this.connOpts());
  }

  async getInfo(): Promise<SandboxInfo> {
    return Sandbox.getInfo(this.sandboxId, this.connOpts());
  }

  /** Resource usage samples (CPU %, memory, disk), oldest first; default: the last hour. */
  static async getMetrics(
    sandboxId: string,
    opts: ConnectionOpts & { start?: Date; end?: Date } = {},
  ): Promise<SandboxMetrics[]> {
    const r = await apiClient(resolveConnection(opts)).GET('/sandboxes/{sandboxID}/metrics', {
      params: {
        path: { sandboxID: sandboxId },
        query: {
          start: opts.start ? Math.floor(opts.start.getTime() / 1000) : undefined,
          end: opts.end ? Math.ceil(opts.end.getTime() / 1000) : undefined,
        },
      },
    });
    return unwrap(r, `metrics of sandbox ${sandboxId}`).map((m) => ({
      timestamp: new Date(m.timestampUnix * 1000),
      cpuCount: m.cpuCount,
      cpuUsedPct: m.cpuUsedPct,
      memUsed: m.memUsed,
      memTotal: m.memTotal,
      diskUsed: m.diskUsed,
      diskTotal: m.diskTotal,
    }));
  }

  /** Log entries: lifecycle events, agent messages, start-command output. */
  static async getLogs(
    sandboxId: string,
    opts: ConnectionOpts & {
      start?: Date;
      limit?: number;
      level?: 'debug' | 'info' | 'warn' | 'error';
      search?: string;
    } = {},
  ): Promise<SandboxLogEntry[]> {
    const r = await apiClient(resolveConnection(opts)).GET('/v2/sandboxes/{sandboxID}/logs', {
      params: {
        path: { sandboxID: sandboxId },
        query: { cursor: opts.start?.getTime(), limit: opts.limit, level: opts.level, search: opts.search },
      },
    });
    return unwrap(r, `logs of sandbox ${sandboxId}`).logs.map((l) => ({
      timestamp: new Date(l.timestamp),
      level: l.level,
      message: l.message,
      fields: l.fields,
    }));
  }

  async getMetrics(opts: { start?: Date; end?: Date } = {}): Promise<SandboxMetrics[]> {
    return Sandbox.getMetrics(this.sandboxId, { ...this.connOpts(), ...opts });
  }

  async getLogs(
    opts: { start?: Date; limit?: number; level?: 'debug' | 'info' | 'warn' | 'error'; search?: string } = {},
  ): Promise<SandboxLogEntry[]> {
    return Sandbox.getLogs(this.sandboxId, { ...this.connOpts(), ...opts });
  }

  /** Whether the sandbox is running and its agent answers. */
  async isRunning(opts: { requestTimeoutMs?: number } = {}): Promise<boolean> {
    try {
      const res = await fetch(new URL('/health', this.conn.apiUrl), {
        headers: { 'E2b-Sandbox-Id': this.sandboxId, 'E2b-Sandbox-Port': String(ENVD_PORT) },
        signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 5000),
      });
      return res.status === 204 || res.ok;
    } catch {
      return false;
    }
  }

  /** Host name under which a port of the sandbox is reachable: `<sandboxId>-<port>.<domain>`. */
  getHost(port: number): string {
    return `${this.sandboxId}-${port}.${this.sandboxDomain}`;
  }

  private signedFilesUrl(path: string, op: 'read' | 'write', opts: SignedUrlOpts): string {
    const user = opts.user;
    const u = new URL(`/sandboxes/${this.sandboxId}/files`, this.conn.apiUrl);
    u.searchParams.set('path', path);
    if (user) u.searchParams.set('username', user);
    if (this.accessToken) {
      const exp = opts.useSignatureExpiration ? Math.floor(Date.now() / 1000) + opts.useSignatureExpiration : undefined;
      u.searchParams.set('signature', fileSignature(path, op, user ?? '', this.accessToken, exp));
      if (exp) u.searchParams.set('signature_expiration', String(exp));
    }
    return u.toString();
  }

  /**
   * Replaces the sandbox's outbound rules at once (open connections to newly denied addresses stop); the rules stay
   * with the sandbox through pause/resume.
   */
  async updateNetwork(rules: { allowOut?: string[]; denyOut?: string[] }): Promise<void> {
    const r = await apiClient(this.conn).PUT('/sandboxes/{sandboxID}/network', {
      params: { path: { sandboxID: this.sandboxId } },
      body: { allowOut: rules.allowOut ?? [], denyOut: rules.denyOut ?? [] },
    });
    unwrap(r, 'update network');
  }

  /**
   * A URL from which the file can be downloaded with a plain GET (curl, a browser); computed locally, no request.
   * @example const url = sandbox.downloadUrl('/home/user/output.zip', { useSignatureExpiration: 300 })
   */
  downloadUrl(path: string, opts: SignedUrlOpts = {}): string {
    return this.signedFilesUrl(path, 'read', opts);
  }

  /** A URL to which a file can be uploaded with a POST (multipart `file` field or a raw body); computed locally. */
  uploadUrl(path: string, opts: SignedUrlOpts = {}): string {
    return this.signedFilesUrl(path, 'write', opts);
  }
}

export { NotFoundError, apiUrlFromDomain };
export type { SandboxInfo };
