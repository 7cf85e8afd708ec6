/**
 * Snapshots: a running sandbox's memory, processes and files saved while it keeps running. A snapshot's ID (or name)
 * works as a template: `Sandbox.create(snap.snapshotId)` starts a sandbox that continues from that moment.
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import type { components } from './api/schema.gen.js';

export interface SnapshotInfo {
  snapshotId: string;
  /** The sandbox it was taken from. */
  sandboxId: string;
  name?: string;
  createdAt?: Date;
}

export function toSnapshotInfo(s: components['schemas']['SnapshotInfo'], sandboxId = ''): SnapshotInfo {
  return {
    snapshotId: s.snapshotID,
    sandboxId: s.sandboxID ?? sandboxId,
    name: s.name ?? s.names[0],
    createdAt: s.createdAt ? new Date(s.createdAt) : undefined,
  };
}

export class Snapshot {
  /**
   * Snapshots a sandbox by ID (it keeps running).
   * @example const snap = await Snapshot.create(sandboxId, 'before-risky-step')
   */
  static async create(sandboxId: string, name?: string, opts: ConnectionOpts = {}): Promise<SnapshotInfo> {
    const r = await apiClient(resolveConnection(opts)).POST('/sandboxes/{sandboxID}/snapshots', {
      params: { path: { sandboxID: sandboxId } },
      body: name === undefined ? {} : { name },
    });
    return toSnapshotInfo(unwrap(r, `snapshot sandbox ${sandboxId}`), sandboxId);
  }

  /**
   * Every snapshot (newest first), or those of one sandbox.
   * @example const ofOne = await Snapshot.list({ domain, apiKey, sandboxId })
   */
  static async list(opts: ConnectionOpts & { sandboxId?: string; name?: string } = {}): Promise<SnapshotInfo[]> {
    const client = apiClient(resolveConnection(opts));
    const out: SnapshotInfo[] = [];
    let nextToken: string | undefined;
    do {
      const r = await client.GET('/snapshots', {
        params: { query: { sandboxID: opts.sandboxId, name: opts.name, nextToken } },
      });
      out.push(...unwrap(r, 'list snapshots').map((s) => toSnapshotInfo(s)));
      nextToken = r.response.headers.get('X-Next-Token') ?? undefined;
    } while (nextToken);
    return out;
  }

  /** Deletes a snapshot (by ID or name); false when there was none. */
  static async delete(snapshotId: string, opts: ConnectionOpts = {}): Promise<boolean> {
    const r = await apiClient(resolveConnection(opts)).DELETE('/snapshots/{snapshotID}', {
      params: { path: { snapshotID: snapshotId } },
    });
    if (r.response.status === 404) return false;
    unwrap(r, `delete snapshot ${snapshotId}`);
    return true;
  }
}
