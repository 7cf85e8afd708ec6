/**
 * Admin helpers for teams and their API keys (the admin key manages every team; a team key can read its own team and
 * manage its own keys). Sandbox users need none of this: the key they pass decides their team.
 * @example
 * const team = await Team.create('product-a', { apiKey: adminKey })
 * const { key } = await ApiKey.create(team.teamID, 'ci', { apiKey: adminKey })   // shown once
 * await Team.setQuotas(team.teamID, { maxRunningSandboxes: 10 }, { apiKey: adminKey })
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import type { components } from './api/schema.gen.js';

export type TeamInfo = components['schemas']['Team'];
export type TeamDetail = components['schemas']['TeamDetail'];
export type TeamQuotas = components['schemas']['TeamQuotas'];
export type ApiKeyInfo = components['schemas']['TeamAPIKey'];
export type CreatedApiKey = components['schemas']['CreatedTeamAPIKey'];

const client = (opts: ConnectionOpts) => apiClient(resolveConnection(opts));
const team = (teamID: string) => ({ params: { path: { teamID } } });

export class Team {
  /** Creates a team (admin key). */
  static async create(name: string, opts: ConnectionOpts = {}): Promise<TeamInfo> {
    return unwrap(await client(opts).POST('/teams', { body: { name } }), 'create team');
  }

  /** Every team (admin key). */
  static async list(opts: ConnectionOpts = {}): Promise<TeamInfo[]> {
    return unwrap(await client(opts).GET('/teams'), 'list teams');
  }

  /** A team with its quotas and usage. */
  static async get(teamID: string, opts: ConnectionOpts = {}): Promise<TeamDetail> {
    return unwrap(await client(opts).GET('/teams/{teamID}', team(teamID)), `get team ${teamID}`);
  }

  /** Sets quotas (null: back to the server default); returns the team (admin key). */
  static async setQuotas(
    teamID: string,
    quotas: { [K in keyof TeamQuotas]?: number | null },
    opts: ConnectionOpts = {},
  ): Promise<TeamDetail> {
    return unwrap(
      await client(opts).PATCH('/teams/{teamID}', { ...team(teamID), body: { quotas } }),
      `set quotas of team ${teamID}`,
    );
  }

  /** Deletes a team and its keys (refused while it has running sandboxes; admin key). */
  static async delete(teamID: string, opts: ConnectionOpts = {}): Promise<void> {
    unwrap(await client(opts).DELETE('/teams/{teamID}', team(teamID)), `delete team ${teamID}`);
  }
}

export class ApiKey {
  /** A new key of a team; `key` is in this answer only. */
  static async create(teamID: string, name: string, opts: ConnectionOpts = {}): Promise<CreatedApiKey> {
    return unwrap(
      await client(opts).POST('/teams/{teamID}/api-keys', { ...team(teamID), body: { name } }),
      'create API key',
    );
  }

  /** A team's keys, masked. */
  static async list(teamID: string, opts: ConnectionOpts = {}): Promise<ApiKeyInfo[]> {
    return unwrap(await client(opts).GET('/teams/{teamID}/api-keys', team(teamID)), 'list API keys');
  }

  /** Revokes a key at once (its open connections close). */
  static async revoke(teamID: string, apiKeyID: string, opts: ConnectionOpts = {}): Promise<void> {
    const r = await client(opts).DELETE('/teams/{teamID}/api-keys/{apiKeyID}', {
      params: { path: { teamID, apiKeyID } },
    });
    unwrap(r, `revoke API key ${apiKeyID}`);
  }
}
