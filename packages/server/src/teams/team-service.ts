/**
 * Teams and API keys as API operations (`/teams…`, `/api-keys…`). The admin key manages every team; a team key may
 * read its own team (quotas and usage) and manage its own team's keys. Another team's ID answers 404. A new key is
 * returned once, in the create response; the store keeps its hash and mask only. Revoking a key closes what it had
 * open on this node at once (other nodes within their KeyWatch poll).
 */
import { randomUUID } from 'node:crypto';
import { ApiError, invalid, notFound } from '../errors.js';
import type { ApiKeyRecord, TeamRecord, TeamStore } from '../store/teams.js';
import { ADMIN_TEAM_ID, currentCaller, requireAdmin, type Caller } from './caller.js';
import type { KeyWatch } from './key-watch.js';
import { generateApiKey, hashApiKey, maskApiKey } from './keys.js';
import type { QuotaGuard } from './quota-guard.js';
import { QUOTA_NAMES, type Quotas } from './quotas.js';

export interface TeamInfo {
  teamID: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  mask: string;
  createdAt: string;
  lastUsed: string | null;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: names must not contain control characters
const NAME = /^[^\x00-\x1f]{1,100}$/;

const teamToApi = (t: TeamRecord): TeamInfo => ({
  teamID: t.teamId,
  name: t.name,
  createdAt: new Date(t.createdAt).toISOString(),
});
const keyToApi = (k: ApiKeyRecord): ApiKeyInfo => ({
  id: k.keyId,
  name: k.name,
  mask: k.mask,
  createdAt: new Date(k.createdAt).toISOString(),
  lastUsed: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : null,
});

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name.trim())) throw invalid('name: 1 to 100 printable characters');
  return name.trim();
}

export class TeamService {
  constructor(
    private teams: TeamStore,
    private guard: QuotaGuard,
    private watch: KeyWatch,
  ) {}

  /** The team record if the caller may see it (the admin: any; a team key: its own), else 404. */
  private async visibleTeam(teamId: string, caller = currentCaller()): Promise<TeamRecord> {
    const t = await this.teams.getTeam(teamId);
    if (!t || (caller && !caller.admin && caller.teamId !== teamId)) throw notFound(`team '${teamId}' not found`);
    return t;
  }

  async create(body: { name: string }): Promise<TeamInfo> {
    requireAdmin('create teams');
    const t: TeamRecord = { teamId: randomUUID(), name: checkName(body.name), createdAt: Date.now(), quotas: {} };
    await this.teams.insertTeam(t);
    return teamToApi(t);
  }

  async list(): Promise<TeamInfo[]> {
    requireAdmin('list teams');
    return (await this.teams.listTeams()).map(teamToApi);
  }

  /** A team with its effective quotas and what it uses now. */
  async detail(teamId: string) {
    const t = await this.visibleTeam(teamId);
    const usage = await this.teams.usage(teamId, Date.now());
    return {
      ...teamToApi(t),
      quotas: await this.guard.quotas(teamId),
      usage: { ...usage, diskMB: await this.guard.diskMB(teamId) },
    };
  }

  /** Sets quotas (a null value goes back to the server default). */
  async setQuotas(teamId: string, body: Record<string, number | null>) {
    requireAdmin('change quotas');
    const t = await this.visibleTeam(teamId);
    const quotas: Partial<Quotas> = { ...t.quotas };
    for (const [k, v] of Object.entries(body ?? {})) {
      if (!(QUOTA_NAMES as readonly string[]).includes(k))
        throw invalid(`unknown quota '${k}' (known: ${QUOTA_NAMES.join(', ')})`);
      if (v === null) delete quotas[k as keyof Quotas];
      else if (!Number.isInteger(v) || v < 0) throw invalid(`${k} must be a non-negative integer`);
      else quotas[k as keyof Quotas] = v;
    }
    await this.teams.setTeamQuotas(teamId, quotas);
    return this.detail(teamId);
  }

  async delete(teamId: string): Promise<void> {
    requireAdmin('delete teams');
    await this.visibleTeam(teamId);
    if (teamId === ADMIN_TEAM_ID) throw new ApiError('failed_precondition', 'the admin team cannot be deleted');
    const running = (await this.teams.usage(teamId, Date.now())).runningSandboxes;
    if (running)
      throw new ApiError(
        'failed_precondition',
        `team '${teamId}' has ${running} running sandbox(es); kill or pause them first`,
      );
    const keys = await this.teams.listApiKeys(teamId);
    await this.teams.deleteTeam(teamId);
    for (const k of keys) this.watch.revoked(k.keyId);
  }

  /** The team whose keys `/api-keys` manages: the caller's own. */
  ownTeam(caller: Caller | undefined = currentCaller()): string {
    return caller?.teamId ?? ADMIN_TEAM_ID;
  }

  async createKey(teamId: string, body: { name?: string }) {
    await this.visibleTeam(teamId);
    const key = generateApiKey();
    const rec: ApiKeyRecord = {
      keyId: randomUUID(),
      teamId,
      name: checkName(body?.name ?? 'key'),
      keyHash: hashApiKey(key),
      mask: maskApiKey(key),
      createdAt: Date.now(),
    };
    await this.teams.insertApiKey(rec);
    return { ...keyToApi(rec), key };
  }

  async listKeys(teamId: string): Promise<ApiKeyInfo[]> {
    await this.visibleTeam(teamId);
    return (await this.teams.listApiKeys(teamId)).map(keyToApi);
  }

  private async teamKey(teamId: string, keyId: string): Promise<ApiKeyRecord> {
    await this.visibleTeam(teamId);
    const k = await this.teams.getApiKey(keyId);
    if (!k || k.teamId !== teamId) throw notFound(`API key '${keyId}' not found`);
    return k;
  }

  async renameKey(teamId: string, keyId: string, body: { name: string }): Promise<ApiKeyInfo> {
    const k = await this.teamKey(teamId, keyId);
    const name = checkName(body?.name);
    await this.teams.renameApiKey(k.keyId, name);
    return keyToApi({ ...k, name });
  }

  /** Deletes the key: the next request with it fails, its tokens stop working, its open connections close. */
  async revokeKey(teamId: string, keyId: string): Promise<void> {
    const k = await this.teamKey(teamId, keyId);
    await this.teams.deleteApiKey(k.keyId);
    this.watch.revoked(k.keyId);
  }
}
