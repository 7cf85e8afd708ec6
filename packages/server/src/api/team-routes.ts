/**
 * Teams and API keys (teams/team-service.ts): the admin's `/teams…` paths, and E2B's `/api-keys…` paths, on which a
 * key manages its own team's keys.
 */
import type { Route } from '../http/router.js';
import type { TeamService } from '../teams/team-service.js';

export function teamRoutes(t: TeamService): Route[] {
  return [
    { method: 'POST', path: '/teams', handler: async (c) => ({ status: 201, body: await t.create(c.body) }) },
    { method: 'GET', path: '/teams', handler: async () => ({ status: 200, body: await t.list() }) },
    {
      method: 'GET',
      path: '/teams/current',
      handler: async () => ({ status: 200, body: await t.detail(t.ownTeam()) }),
    },
    {
      method: 'GET',
      path: '/teams/{teamID}',
      handler: async (c) => ({ status: 200, body: await t.detail(c.params.teamID) }),
    },
    {
      method: 'PATCH',
      path: '/teams/{teamID}',
      handler: async (c) => ({ status: 200, body: await t.setQuotas(c.params.teamID, c.body?.quotas ?? {}) }),
    },
    {
      method: 'DELETE',
      path: '/teams/{teamID}',
      handler: async (c) => {
        await t.delete(c.params.teamID);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/teams/{teamID}/api-keys',
      handler: async (c) => ({ status: 201, body: await t.createKey(c.params.teamID, c.body) }),
    },
    {
      method: 'GET',
      path: '/teams/{teamID}/api-keys',
      handler: async (c) => ({ status: 200, body: await t.listKeys(c.params.teamID) }),
    },
    {
      method: 'DELETE',
      path: '/teams/{teamID}/api-keys/{apiKeyID}',
      handler: async (c) => {
        await t.revokeKey(c.params.teamID, c.params.apiKeyID);
        return { status: 204 };
      },
    },
    // E2B's paths: the caller's own team.
    { method: 'GET', path: '/api-keys', handler: async () => ({ status: 200, body: await t.listKeys(t.ownTeam()) }) },
    {
      method: 'POST',
      path: '/api-keys',
      handler: async (c) => ({ status: 201, body: await t.createKey(t.ownTeam(), c.body) }),
    },
    {
      method: 'PATCH',
      path: '/api-keys/{apiKeyID}',
      handler: async (c) => ({ status: 200, body: await t.renameKey(t.ownTeam(), c.params.apiKeyID, c.body) }),
    },
    {
      method: 'DELETE',
      path: '/api-keys/{apiKeyID}',
      handler: async (c) => {
        await t.revokeKey(t.ownTeam(), c.params.apiKeyID);
        return { status: 204 };
      },
    },
  ];
}
