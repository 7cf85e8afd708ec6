/**
 * `Sandbox.list`: a paginator over `GET /v2/sandboxes` that is also awaitable (all pages) and async-iterable (item by
 * item).
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import type { components } from './api/schema.gen.js';

/** `lost`: its node died (a cluster of several servers); see `stateReason`. */
export type SandboxState = 'running' | 'paused' | 'lost';

export interface SandboxInfo {
  sandboxId: string;
  templateId: string;
  name?: string;
  state: SandboxState;
  startedAt: Date;
  endAt: Date;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  metadata: Record<string, string>;
  envdVersion: string;
  /** The volumes it mounts. */
  volumeMounts: { name: string; path: string }[];
  /** `container` or `microvm` (absent from servers before isolation per sandbox). */
  isolation?: 'container' | 'microvm';
  /** Why the sandbox is in its state, when the server says (e.g. which node died for a lost one). */
  stateReason?: string;
}

export interface SandboxListOpts extends ConnectionOpts {
  query?: {
    state?: SandboxState[];
    metadata?: Record<string, string>;
    /** Only sandboxes started at or after this time. */
    startedAfter?: Date;
    /** Only sandboxes of this template (ID or name). */
    template?: string;
  };
  /** By start time, over the whole list before paging: `desc` (default, newest first) or `asc`. */
  order?: 'asc' | 'desc';
  /** Page size (1..100). */
  limit?: number;
  nextToken?: string;
}

export function toInfo(s: components['schemas']['ListedSandbox']): SandboxInfo {
  return {
    sandboxId: s.sandboxID,
    templateId: s.templateID,
    name: s.alias,
    state: s.state,
    startedAt: new Date(s.startedAt),
    endAt: new Date(s.endAt),
    cpuCount: s.cpuCount,
    memoryMB: s.memoryMB,
    diskSizeMB: s.diskSizeMB,
    metadata: s.metadata ?? {},
    envdVersion: s.envdVersion,
    volumeMounts: s.volumeMounts ?? [],
    isolation: s.isolation,
    ...(s.stateReason ? { stateReason: s.stateReason } : {}),
  };
}

export class SandboxPaginator implements PromiseLike<SandboxInfo[]>, AsyncIterable<SandboxInfo> {
  private token?: string;
  private started = false;

  constructor(private opts: SandboxListOpts = {}) {
    this.token = opts.nextToken;
  }

  /** Whether another page can be fetched. */
  get hasNext(): boolean {
    return !this.started || !!this.token;
  }

  get nextToken(): string | undefined {
    return this.token;
  }

  /** Fetches the next page. */
  async nextItems(): Promise<SandboxInfo[]> {
    if (!this.hasNext) return [];
    const api = apiClient(resolveConnection(this.opts));
    const q = this.opts.query ?? {};
    const metadata = q.metadata ? new URLSearchParams(q.metadata).toString() : undefined;
    const r = await api.GET('/v2/sandboxes', {
      params: {
        query: {
          state: q.state,
          metadata,
          startedAfter: q.startedAfter?.toISOString(),
          template: q.template,
          order: this.opts.order,
          limit: this.opts.limit,
          nextToken: this.token,
        },
      },
      querySerializer: { array: { style: 'form', explode: false } },
    });
    const data = unwrap(r, 'list sandboxes');
    this.started = true;
    this.token = r.response.headers.get('x-next-token') ?? undefined;
    return data.map(toInfo);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SandboxInfo> {
    while (this.hasNext) for (const s of await this.nextItems()) yield s;
  }

  private async all(): Promise<SandboxInfo[]> {
    const out: SandboxInfo[] = [];
    for await (const s of this) out.push(s);
    return out;
  }

  // biome-ignore lint/suspicious/noThenProperty: a page list is awaitable like E2B's (`await Sandbox.list()`)
  then<A = SandboxInfo[], B = never>(
    ok?: ((v: SandboxInfo[]) => A | PromiseLike<A>) | null,
    fail?: ((e: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.all().then(ok, fail);
  }
}
