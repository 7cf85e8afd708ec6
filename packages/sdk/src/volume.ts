/**
 * Volumes: a team's named persistent file systems (E2B's `Volume`), mounted read-write by sandboxes
 * (`Sandbox.create(t, { volumeMounts: { '/mnt/data': 'data' } })`, several at once) and readable and writable without
 * one through the volume content API (the `readFile`/`writeFile`/`list`… methods, with the volume's own token).
 * @example
 * const vol = await Volume.create('data', { sizeMB: 512 })
 * const sbx = await Sandbox.create('default', { volumeMounts: { '/mnt/data': vol } })
 * await sbx.commands.run('echo hi > /mnt/data/out.txt')
 * await sbx.kill()
 * console.log(await vol.readFile('/out.txt'))   // 'hi\n', after the sandbox is gone
 */
import createClient from 'openapi-fetch';
import type { components as ContentComponents, paths as ContentPaths } from '@tensor-box/generated/volume-content';
import { apiClient, unwrap } from './api/client.js';
import type { components } from './api/schema.gen.js';
import { resolveConnection, type ConnectionOpts, type ResolvedConnection } from './connection.js';
import { fromHttp } from './errors.js';

export type VolumeInfo = components['schemas']['Volume'];
export type VolumeEntryStat = ContentComponents['schemas']['VolumeEntryStat'];
/** Owner and mode of what a write or makeDir makes; `force` makes missing parent directories. */
export interface VolumeWriteOpts {
  uid?: number;
  gid?: number;
  mode?: number;
  force?: boolean;
}

const volume = (volumeID: string) => ({ params: { path: { volumeID } } });

export class Volume {
  private constructor(
    readonly volumeId: string,
    readonly name: string,
    readonly sizeMB: number | undefined,
    /** Bearer token of the content API for this volume (from the API key that got it). */
    readonly token: string,
    private readonly conn: ResolvedConnection,
  ) {}

  /** Makes a volume of the caller's team (sizeMB: its size limit; default: the server's, 1024). */
  static async create(name: string, opts: ConnectionOpts & { sizeMB?: number } = {}): Promise<Volume> {
    const conn = resolveConnection(opts);
    const r = await apiClient(conn).POST('/volumes', { body: { name, sizeMB: opts.sizeMB } });
    const v = unwrap(r, `create volume ${name}`);
    return new Volume(v.volumeID, v.name, v.sizeMB, v.token, conn);
  }

  /** A volume of the caller's team by ID or name (with a fresh content token). */
  static async get(idOrName: string, opts: ConnectionOpts = {}): Promise<Volume> {
    const conn = resolveConnection(opts);
    const v = unwrap(await apiClient(conn).GET('/volumes/{volumeID}', volume(idOrName)), `get volume ${idOrName}`);
    return new Volume(v.volumeID, v.name, v.sizeMB, v.token, conn);
  }

  /** The caller's team's volumes, oldest first. */
  static async list(opts: ConnectionOpts = {}): Promise<VolumeInfo[]> {
    return unwrap(await apiClient(resolveConnection(opts)).GET('/volumes'), 'list volumes');
  }

  /** Deletes a volume and its files (ConflictError while a running or paused sandbox mounts it). */
  static async delete(idOrName: string, opts: ConnectionOpts = {}): Promise<void> {
    unwrap(
      await apiClient(resolveConnection(opts)).DELETE('/volumes/{volumeID}', volume(idOrName)),
      `delete volume ${idOrName}`,
    );
  }

  /** A directory's entries (`depth` levels; symbolic links are listed, never followed). */
  async list(path: string, opts: { depth?: number } = {}): Promise<VolumeEntryStat[]> {
    const r = await this.content().GET('/volumecontent/{volumeID}/dir', this.q({ path, depth: opts.depth }));
    return this.ok(r, `list ${path}`);
  }

  async makeDir(path: string, opts: VolumeWriteOpts = {}): Promise<VolumeEntryStat> {
    const r = await this.content().POST('/volumecontent/{volumeID}/dir', this.q({ path, ...opts }));
    return this.ok(r, `make directory ${path}`);
  }

  /** A path's stat (a symbolic link is reported with its target, not followed). */
  async getInfo(path: string): Promise<VolumeEntryStat> {
    return this.ok(await this.content().GET('/volumecontent/{volumeID}/path', this.q({ path })), `stat ${path}`);
  }

  async readFile(path: string, opts: { format?: 'text' }): Promise<string>;
  async readFile(path: string, opts: { format: 'bytes' }): Promise<Uint8Array>;
  async readFile(path: string): Promise<string>;
  async readFile(path: string, opts: { format?: 'text' | 'bytes' } = {}): Promise<string | Uint8Array> {
    const r = await this.content().GET('/volumecontent/{volumeID}/file', {
      ...this.q({ path }),
      parseAs: 'arrayBuffer',
    });
    const data = new Uint8Array(this.ok(r, `read ${path}`) as ArrayBuffer);
    return opts.format === 'bytes' ? data : new TextDecoder().decode(data);
  }

  /** Writes a file whole (made or replaced; NotEnoughSpaceError when the volume is full). */
  async writeFile(path: string, data: string | Uint8Array, opts: VolumeWriteOpts = {}): Promise<VolumeEntryStat> {
    const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const r = await this.content().PUT('/volumecontent/{volumeID}/file', {
      ...this.q({ path, ...opts }),
      body: body as unknown as string,
      bodySerializer: (b: unknown) => b as BodyInit,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return this.ok(r, `write ${path}`);
  }

  /** Removes a file or a directory with its contents (a symbolic link: the link only). */
  async remove(path: string): Promise<void> {
    this.ok(await this.content().DELETE('/volumecontent/{volumeID}/path', this.q({ path })), `remove ${path}`);
  }

  private content() {
    return createClient<ContentPaths>({
      baseUrl: this.conn.apiUrl,
      headers: { authorization: `Bearer ${this.token}`, ...this.conn.headers },
      fetch: (req: Request) =>
        fetch(req, this.conn.requestTimeoutMs ? { signal: AbortSignal.timeout(this.conn.requestTimeoutMs) } : {}),
    });
  }

  private q<Q extends { path: string }>(query: Q): { params: { path: { volumeID: string }; query: Q } } {
    return { params: { path: { volumeID: this.volumeId }, query } };
  }

  private ok<T>(r: { data?: T; error?: unknown; response: Response }, what: string): T {
    if (!r.response.ok) throw fromHttp(r.response.status, r.error, `volume ${this.name}: ${what}`);
    return r.data as T;
  }
}
