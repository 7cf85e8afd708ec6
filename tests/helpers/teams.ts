/** Test helpers for teams: make a team with a key through the admin API, and call the API as a given key. */
import { api } from './harness.js';

export interface TeamKey {
  teamID: string;
  keyId: string;
  key: string;
}

/** A new team and one key of it, made with the admin key. */
export async function makeTeam(s: { url: string; apiKey: string }, name: string): Promise<TeamKey> {
  const team = await api(s, 'POST', '/teams', { name });
  if (team.status !== 201) throw new Error(`POST /teams: ${team.status} ${JSON.stringify(team.body)}`);
  const key = await api(s, 'POST', `/teams/${team.body.teamID}/api-keys`, { name: `${name}-key` });
  if (key.status !== 201) throw new Error(`POST api-keys: ${key.status} ${JSON.stringify(key.body)}`);
  return { teamID: team.body.teamID, keyId: key.body.id, key: key.body.key };
}

/** `api` bound to a server URL and a key. */
export const as =
  (url: string, key: string) =>
  (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
    api({ url, apiKey: key }, method, p, body, headers);
