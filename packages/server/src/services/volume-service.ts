/**
 * The volumes API (POST/GET/DELETE /volumes…) and what sandboxes need of volumes: checking a create's `volumeMounts`
 * (names of the caller's team's volumes, safe paths: 400/404 before anything starts), mounting them on this node for
 * a sandbox that starts or resumes here (`attach`) and letting go when it stops here (`detach`). A team sees and mounts
 * only its own volumes (another team's answers as a missing one). Delete is refused (409) while a running or paused
 * sandbox mounts the volume; snapshots keep their mounts, and starting from one whose volume is gone is a 404.
 * The content API's token is an HMAC token for `volume:<id>` bound to the API key that asked (teams/tokens).
 */
import type { SandboxMount } from '@tensor-box/runtime';
import path from 'node:path';
import type { components } from '@tensor-box/generated/api';
import { ApiError, invalid, notFound } from '../errors.js';
import { randomId } from '../ids.js';
import type { SandboxRecord, Store, VolumeMount, VolumeRecord } from '../store/store.js';
import type { Authenticator } from '../teams/authenticate.js';
import { canSee, currentCaller, listScope, ownerTeam, requireVisible } from '../teams/caller.js';
import type { QuotaGuard } from '../teams/quota-guard.js';
import type { VolumeImages } from './volume-images.js';

type Api = components['schemas'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Sandbox paths a volume may not cover: the root, the kernel's and the agent's. */
const RESERVED = ['/proc', '/sys', '/dev', '/run/tensor-box'];
/** Lifetime of a content API token, in seconds (each GET /volumes/{id} issues a fresh one). */
const TOKEN_TTL_SEC = 7 * 86400;

export interface VolumeServiceOptions {
  store: Store;
  images: VolumeImages;
  auth: Authenticator;
  nodeId: string;
  /** Size of a volume whose request names none, MiB. */
  defaultSizeMB: number;
  /** Largest size a request may ask, MiB. */
  maxSizeMB: number;
  quota?: QuotaGuard;
}

/** The token subject of a volume's content API. */
export const volumeTokenSubject = (volumeId: string) => `volume:${volumeId}`;

export class VolumeService {
  constructor(private readonly o: VolumeServiceOptions) {}

  async create(req: Api['NewVolume']): Promise<Api['VolumeAndToken']> {
    const teamId = ownerTeam();
    if (typeof req.name !== 'string' || !NAME.test(req.name)) {
      throw invalid(
        `invalid volume name '${req.name}': 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      );
    }
    const sizeMB = req.sizeMB ?? this.o.defaultSizeMB;
    if (!Number.isInteger(sizeMB) || sizeMB < 1 || sizeMB > this.o.maxSizeMB) {
      throw invalid(`invalid sizeMB ${sizeMB}: a whole number of MiB from 1 to ${this.o.maxSizeMB}`);
    }
    if (await this.o.store.findVolumeByName(teamId, req.name)) {
      throw new ApiError('already_exists', `volume '${req.name}' already exists`);
    }
    const owned = await this.o.store.listVolumes(teamId);
    await this.o.quota?.checkVolumes(teamId, owned.reduce((n, v) => n + v.sizeMB, 0) + sizeMB);
    const v: VolumeRecord = { volumeId: `vol${randomId(17)}`, name: req.name, teamId, sizeMB, createdAt: Date.now() };
    await this.o.images.create(v.volumeId, sizeMB);
    if (!(await this.o.store.insertVolume(v))) {
      await this.o.images.remove(v.volumeId);
      throw new ApiError('already_exists', `volume '${req.name}' already exists`);
    }
    return this.withToken(v);
  }

  async list(): Promise<Api['Volume'][]> {
    return (await this.o.store.listVolumes(listScope())).map(volumeToApi);
  }

  async get(idOrName: string): Promise<Api['VolumeAndToken']> {
    return this.withToken(await this.find(idOrName));
  }

  async delete(idOrName: string): Promise<void> {
    const v = await this.find(idOrName);
    const users = await this.mountedBy(v.volumeId);
    if (users.length) {
      const which = users.map((s) => `${s.sandboxId} (${s.state})`).join(', ');
      throw new ApiError('conflict', `volume '${v.name}' is mounted by sandbox ${which}; kill them first`);
    }
    await this.o.store.deleteVolume(v.volumeId);
    await this.o.images.remove(v.volumeId);
  }

  /** A volume the caller may use, by ID or (within its team) name; another team's is as absent as a missing one. */
  async find(idOrName: string): Promise<VolumeRecord> {
    const byId = await this.o.store.getVolume(idOrName);
    if (byId && canSee(byId.teamId)) return byId;
    const byName = await this.o.store.findVolumeByName(ownerTeam(), idOrName);
    return requireVisible(byName, `volume '${idOrName}'`);
  }

  /** The volume a content API request may use: its token's, or an API key's team's; else 401/404. */
  async forContent(volumeId: string): Promise<VolumeRecord> {
    const v = await this.o.store.getVolume(volumeId);
    return requireVisible(v, `volume '${volumeId}'`);
  }

  /** Checks a create's `volumeMounts` (400: bad path or duplicate, 404: no such volume of the caller's team). */
  async resolveMounts(requested: Api['SandboxVolumeMount'][] | undefined): Promise<VolumeMount[]> {
    const out: VolumeMount[] = [];
    for (const m of requested ?? []) {
      const p = checkMountPath(m.path);
      const clash = out.find((o) => o.path === p || p.startsWith(`${o.path}/`) || o.path.startsWith(`${p}/`));
      if (clash) throw invalid(`volumeMounts: path ${p} overlaps ${clash.path}`);
      if (typeof m.name !== 'string' || !m.name) throw invalid('volumeMounts: each mount needs a volume name');
      const v = await this.o.store.findVolumeByName(ownerTeam(), m.name);
      if (!v) throw notFound(`volume '${m.name}' not found`);
      out.push({ volumeId: v.volumeId, name: v.name, path: p });
    }
    return out;
  }

  /**
   * Mounts a sandbox's volumes on this node (before it starts or resumes here): the driver's mounts. 409 when one is
   * gone or in use on another node (an ext4 is mounted by one node at a time). On failure nothing stays held.
   */
  async attach(sandboxId: string, mounts: VolumeMount[] | undefined): Promise<SandboxMount[]> {
    const out: SandboxMount[] = [];
    const held: string[] = [];
    try {
      for (const m of mounts ?? []) {
        const v = await this.o.store.getVolume(m.volumeId);
        if (!v) throw notFound(`volume '${m.name}' no longer exists`);
        await this.checkNotElsewhere(v, sandboxId);
        out.push({ hostPath: await this.o.images.acquire(m.volumeId, sandboxId), sandboxPath: m.path });
        held.push(m.volumeId);
      }
      return out;
    } catch (err) {
      for (const id of held) await this.o.images.release(id, sandboxId).catch(() => {});
      throw err;
    }
  }

  /** 409 when a sandbox on another node has the volume mounted (one node mounts an ext4 at a time). */
  async checkNotElsewhere(v: VolumeRecord, except?: string): Promise<void> {
    const elsewhere = (await this.mountedBy(v.volumeId, ['running', 'pausing', 'snapshotting', 'resuming'])).find(
      (s) => s.sandboxId !== except && s.nodeId && s.nodeId !== this.o.nodeId,
    );
    if (elsewhere) {
      const msg = `volume '${v.name}' is in use on node '${elsewhere.nodeId}' (sandbox ${elsewhere.sandboxId})`;
      throw new ApiError('conflict', msg);
    }
  }

  /** The sandbox no longer runs here (killed, paused, failed to start): its volumes may be unmounted. */
  async detach(sandboxId: string, mounts: VolumeMount[] | undefined): Promise<void> {
    for (const m of mounts ?? []) await this.o.images.release(m.volumeId, sandboxId).catch(() => {});
  }

  /** Sandboxes (running or paused, by default any state) whose record mounts the volume. */
  private async mountedBy(volumeId: string, states?: SandboxRecord['state'][]): Promise<SandboxRecord[]> {
    const all = await this.o.store.listSandboxes(states ? { states } : {});
    return all.filter((s) => s.volumeMounts?.some((m) => m.volumeId === volumeId));
  }

  private withToken(v: VolumeRecord): Api['VolumeAndToken'] {
    const { token } = this.o.auth.issueToken(volumeTokenSubject(v.volumeId), currentCaller(), TOKEN_TTL_SEC);
    return { ...volumeToApi(v), token };
  }
}

export const volumeToApi = (v: VolumeRecord): Api['Volume'] => ({
  volumeID: v.volumeId,
  name: v.name,
  sizeMB: v.sizeMB,
  createdAt: new Date(v.createdAt).toISOString(),
});

/** A sandbox path a volume may be mounted at, normalised; 400 naming the problem otherwise. */
export function checkMountPath(p: unknown): string {
  if (typeof p !== 'string' || !p.startsWith('/')) {
    throw invalid(`volumeMounts: path '${p}' must be an absolute path`);
  }
  if (p.includes('\0') || p.length > 1024) throw invalid('volumeMounts: path is not a valid path');
  if (p.split('/').some((part) => part === '..' || part === '.')) {
    throw invalid(`volumeMounts: path '${p}' may not contain '.' or '..'`);
  }
  const norm = path.posix.normalize(p).replace(/\/+$/, '');
  if (norm === '') throw invalid("volumeMounts: a volume cannot be mounted at '/'");
  const bad = RESERVED.find((r) => norm === r || norm.startsWith(`${r}/`));
  if (bad) throw invalid(`volumeMounts: path '${p}' is under ${bad}, which belongs to the sandbox's system`);
  return norm;
}
