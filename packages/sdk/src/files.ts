/**
 * `sandbox.files`: the sandbox's filesystem. Reads and writes go over envd's HTTP `/files` route (streamed); metadata
 * operations over its Connect filesystem service.
 */
import type { Client } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Filesystem, FileType, EventType, type EntryInfo as PbEntryInfo } from '@tensor-box/generated/envd/filesystem';
import { envdClient, envdHeaders, userHeader, type EnvdTarget } from './envd/transport.js';
import { fromConnect, fromHttp, NotFoundError } from './errors.js';

export type FileKind = 'file' | 'dir' | 'symlink';

export interface EntryInfo {
  name: string;
  path: string;
  type: FileKind;
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modifiedTime?: Date;
  symlinkTarget?: string;
}

export type WriteData = string | ArrayBuffer | Uint8Array | Blob | ReadableStream<Uint8Array>;
export interface WriteEntry {
  path: string;
  data: WriteData;
}

export type WatchEventType = 'create' | 'write' | 'remove' | 'rename' | 'chmod';

export interface WatchEvent {
  type: WatchEventType;
  /** Path relative to the watched directory. */
  name: string;
  /** Absolute path (the watched directory joined with name). */
  path: string;
}

export interface WatchOpts extends FilesystemOpts {
  recursive?: boolean;
  /** Called once when the watch ends: with no error after `stop()`, with the error otherwise. */
  onExit?: (err?: Error) => void;
}

/** A running directory watch. */
export interface WatchHandle {
  stop(): void;
}

const EVENT_TYPES: Record<number, WatchEventType> = {
  [EventType.CREATE]: 'create',
  [EventType.WRITE]: 'write',
  [EventType.REMOVE]: 'remove',
  [EventType.RENAME]: 'rename',
  [EventType.CHMOD]: 'chmod',
};

export interface FilesystemOpts {
  /** User whose home relative paths resolve against, and who owns created files (default `user`). */
  user?: string;
  requestTimeoutMs?: number;
}

function toEntry(e: PbEntryInfo): EntryInfo {
  const type: FileKind = e.type === FileType.DIRECTORY ? 'dir' : e.type === FileType.SYMLINK ? 'symlink' : 'file';
  return {
    name: e.name,
    path: e.path,
    type,
    size: Number(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modifiedTime: e.modifiedTime ? timestampDate(e.modifiedTime) : undefined,
    symlinkTarget: e.symlinkTarget,
  };
}

export class Files {
  private rpc: Client<typeof Filesystem>;

  constructor(private target: EnvdTarget) {
    this.rpc = envdClient(Filesystem, target);
  }

  private filesUrl(path: string, user: string | undefined): string {
    const u = new URL('/files', this.target.apiUrl);
    u.searchParams.set('path', path);
    if (user) u.searchParams.set('username', user);
    return u.toString();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fromConnect(err);
    }
  }

  /**
   * Reads a file: text by default, or `{format: 'bytes'}` → Uint8Array, `{format: 'stream'}` → ReadableStream.
   * @example const text = await sandbox.files.read('/home/user/hello.txt')
   */
  read(path: string, opts?: FilesystemOpts & { format?: 'text' }): Promise<string>;
  read(path: string, opts: FilesystemOpts & { format: 'bytes' }): Promise<Uint8Array>;
  read(path: string, opts: FilesystemOpts & { format: 'blob' }): Promise<Blob>;
  read(path: string, opts: FilesystemOpts & { format: 'stream' }): Promise<ReadableStream<Uint8Array>>;
  async read(
    path: string,
    opts: FilesystemOpts & { format?: 'text' | 'bytes' | 'blob' | 'stream' } = {},
  ): Promise<unknown> {
    const user = opts.user;
    const res = await fetch(this.filesUrl(path, user), {
      // No gzip: fetch asks for it by default, and compressing file bytes costs far more CPU than it saves on a LAN.
      headers: { ...envdHeaders(this.target), 'Accept-Encoding': 'identity' },
      signal:
        opts.requestTimeoutMs && opts.format !== 'stream' ? AbortSignal.timeout(opts.requestTimeoutMs) : undefined,
    });
    if (!res.ok) throw fromHttp(res.status, await res.json().catch(() => undefined), `read ${path}`);
    switch (opts.format) {
      case 'bytes':
        return new Uint8Array(await res.arrayBuffer());
      case 'blob':
        return res.blob();
      case 'stream':
        return res.body ?? new ReadableStream({ start: (c) => c.close() });
      default:
        return res.text();
    }
  }

  /**
   * Writes one file (returns its EntryInfo) or many (returns EntryInfo[]); parent directories are created.
   * @example await sandbox.files.write('/tmp/hello.txt', 'Hello World!')
   */
  write(path: string, data: WriteData, opts?: FilesystemOpts): Promise<EntryInfo>;
  write(files: WriteEntry[], opts?: FilesystemOpts): Promise<EntryInfo[]>;
  async write(
    a: string | WriteEntry[],
    b?: WriteData | FilesystemOpts,
    c?: FilesystemOpts,
  ): Promise<EntryInfo | EntryInfo[]> {
    if (typeof a === 'string') {
      const opts = c ?? {};
      const user = opts.user;
      const data = b as WriteData;
      const streaming = data instanceof ReadableStream;
      const res = await fetch(this.filesUrl(a, user), {
        method: 'POST',
        headers: { ...envdHeaders(this.target), 'content-type': 'application/octet-stream' },
        body: data as BodyInit,
        ...(streaming ? { duplex: 'half' } : {}),
      } as RequestInit);
      if (!res.ok) throw fromHttp(res.status, await res.json().catch(() => undefined), `write ${a}`);
      return this.getInfo(a, { user });
    }
    const opts = (b as FilesystemOpts) ?? {};
    const user = opts.user;
    if (a.length === 0) return [];
    const form = new FormData();
    for (const f of a) {
      const blob = f.data instanceof Blob ? f.data : new Blob([(await toBytes(f.data)) as BlobPart]);
      form.append('file', blob, f.path);
    }
    const u = new URL('/files', this.target.apiUrl);
    if (user) u.searchParams.set('username', user);
    const res = await fetch(u, { method: 'POST', headers: envdHeaders(this.target), body: form });
    if (!res.ok) throw fromHttp(res.status, await res.json().catch(() => undefined), 'write files');
    return Promise.all(a.map((f) => this.getInfo(f.path, { user })));
  }

  /** Entries of a directory (depth 1 by default). */
  async list(path: string, opts: FilesystemOpts & { depth?: number } = {}): Promise<EntryInfo[]> {
    const r = await this.call(() =>
      this.rpc.listDir(
        { path, depth: opts.depth ?? 1 },
        { headers: userHeader(opts.user), timeoutMs: opts.requestTimeoutMs },
      ),
    );
    return r.entries.map(toEntry);
  }

  /** Creates a directory and its parents; false when it already existed. */
  async makeDir(path: string, opts: FilesystemOpts = {}): Promise<boolean> {
    try {
      await this.rpc.makeDir({ path }, { headers: userHeader(opts.user), timeoutMs: opts.requestTimeoutMs });
      return true;
    } catch (err) {
      const e = fromConnect(err);
      if (e.name === 'ConflictError') return false;
      throw e;
    }
  }

  async exists(path: string, opts: FilesystemOpts = {}): Promise<boolean> {
    try {
      await this.getInfo(path, opts);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  async getInfo(path: string, opts: FilesystemOpts = {}): Promise<EntryInfo> {
    const r = await this.call(() =>
      this.rpc.stat({ path }, { headers: userHeader(opts.user), timeoutMs: opts.requestTimeoutMs }),
    );
    return toEntry(r.entry!);
  }

  /** Renames or moves a file or directory. */
  async rename(oldPath: string, newPath: string, opts: FilesystemOpts = {}): Promise<EntryInfo> {
    const r = await this.call(() =>
      this.rpc.move(
        { source: oldPath, destination: newPath },
        { headers: userHeader(opts.user), timeoutMs: opts.requestTimeoutMs },
      ),
    );
    return toEntry(r.entry!);
  }

  /**
   * Watches a directory; resolves once the watch is in place. Events: create, write, remove, rename, chmod.
   * @example
   * const w = await sandbox.files.watchDir('/home/user', (e) => console.log(e.type, e.path), { recursive: true });
   * w.stop();
   */
  async watchDir(
    path: string,
    onEvent: (e: WatchEvent) => void | Promise<void>,
    opts: WatchOpts = {},
  ): Promise<WatchHandle> {
    const controller = new AbortController();
    const stream = this.rpc.watchDir(
      { path, recursive: !!opts.recursive },
      { headers: { ...userHeader(opts.user), 'Keepalive-Ping-Interval': '30' }, signal: controller.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      if (first.done || first.value.event.case !== 'start') throw new Error('the agent did not start the watch');
    } catch (err) {
      controller.abort();
      throw fromConnect(err);
    }
    const base = path.replace(/\/+$/, '');
    (async () => {
      try {
        for (;;) {
          const { value, done } = await it.next();
          if (done) break;
          if (value.event.case === 'filesystem') {
            const ev = value.event.value;
            await onEvent({ type: EVENT_TYPES[ev.type] ?? 'write', name: ev.name, path: `${base}/${ev.name}` });
          }
        }
        opts.onExit?.();
      } catch (err) {
        opts.onExit?.(controller.signal.aborted ? undefined : fromConnect(err));
      }
    })();
    return { stop: () => controller.abort() };
  }

  /** Removes a file or a directory with its contents. */
  async remove(path: string, opts: FilesystemOpts = {}): Promise<void> {
    await this.call(() =>
      this.rpc.remove({ path }, { headers: userHeader(opts.user), timeoutMs: opts.requestTimeoutMs }),
    );
  }
}

async function toBytes(data: WriteData): Promise<Uint8Array> {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  return new Uint8Array(await new Response(data).arrayBuffer());
}
