/**
 * Teams and API keys (teams/team-service.ts): the admin's `/teams…` paths, and E2B's `/api-keys…` paths, on which a
 * key manages its own team's keys.
 */
import type { Route } from '../http/router.js';
import { op } from '../http/typed-route.js';
import type { TeamService } from '../teams/team-service.js';

export function teamRoutes(t: TeamService): Route[] {
  return [
    op('POST', '/teams', async (c) => ({ status: 201, body: await t.create(c.body) })),
    op('GET', '/teams', async () => ({ status: 200, body: await t.list() })),
    op('GET', '/teams/current', async () => ({ status: 200, body: await t.detail(t.ownTeam()) })),
    op('GET', '/teams/{teamID}', async (c) => ({ status: 200, body: await t.detail(c.params.teamID) })),
    op('PATCH', '/teams/{teamID}', async (c) => ({
      status: 200,
      body: await t.setQuotas(c.params.teamID, c.body?.quotas ?? {}),
    })),
    op('DELETE', '/teams/{teamID}', async (c) => {
      await t.delete(c.params.teamID);
      return { status: 204 };
    }),
    op('POST', '/teams/{teamID}/api-keys', async (c) => ({
      status: 201,
      body: await t.createKey(c.params.teamID, c.body ?? {}),
    })),
    op('GET', '/teams/{teamID}/api-keys', async (c) => ({ status: 200, body: await t.listKeys(c.params.teamID) })),
    op('DELETE', '/teams/{teamID}/api-keys/{apiKeyID}', async (c) => {
      await t.revokeKey(c.params.teamID, c.params.apiKeyID);
      return { status: 204 };
    }),
    // E2B's paths: the caller's own team.
    op('GET', '/api-keys', async () => ({ status: 200, body: await t.listKeys(t.ownTeam()) })),
    op('POST', '/api-keys', async (c) => ({ status: 201, body: await t.createKey(t.ownTeam(), c.body ?? {}) })),
    op('PATCH', '/api-keys/{apiKeyID}', async (c) => ({
      status: 200,
      body: await t.renameKey(t.ownTeam(), c.params.apiKeyID, c.body),
    })),
    op('DELETE', '/api-keys/{apiKeyID}', async (c) => {
      await t.revokeKey(t.ownTeam(), c.params.apiKeyID);
      return { status: 204 };
    }),
  ];
}
