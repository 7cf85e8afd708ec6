/**
 * Who is calling: the principal an API key (or a token it issued) stands for, carried through a request with
 * AsyncLocalStorage so that the one place each resource is looked up can apply the team scope without every service
 * method growing a parameter. No caller in the context means internal work (lifecycle sweep, restart reconcile,
 * background builds): unscoped.
 *
 * Scope rule: a team key sees its own team's resources; the admin key sees every team's, or — with `X-Team-ID` —
 * acts as that one team (its lists and creates are that team's).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApiError, notFound } from '../errors.js';

/** The team that owns what existed before teams (and what the admin key creates without `X-Team-ID`). */
export const ADMIN_TEAM_ID = 'admin';
/** The key ID recorded for the admin key (in lifecycle events and issued tokens). */
export const ADMIN_KEY_ID = 'admin';

export interface Caller {
  /** The API key's ID (`admin` for the admin key). */
  keyId: string;
  /** The team the caller acts as: the key's team, or for the admin key the `X-Team-ID` team (default `admin`). */
  teamId: string;
  /** The admin key: manages teams and keys; sees every team unless it picked one with `X-Team-ID`. */
  admin: boolean;
  /** For the admin key: whether `X-Team-ID` narrowed it to one team. */
  actingAsTeam?: boolean;
}

const current = new AsyncLocalStorage<Caller>();

/** Runs `fn` with `caller` as the current caller. */
export function withCaller<T>(caller: Caller, fn: () => T): T {
  return current.run(caller, fn);
}

/** The current request's caller, or undefined for internal work. */
export function currentCaller(): Caller | undefined {
  return current.getStore();
}

/** Whether the current caller may see a resource owned by `teamId` (internal work sees everything). */
export function canSee(teamId: string | undefined, caller = currentCaller()): boolean {
  if (!caller) return true;
  if (caller.admin && !caller.actingAsTeam) return true;
  return (teamId ?? ADMIN_TEAM_ID) === caller.teamId;
}

/** The team a list is limited to for the current caller (undefined: every team). */
export function listScope(caller = currentCaller()): string | undefined {
  if (!caller || (caller.admin && !caller.actingAsTeam)) return undefined;
  return caller.teamId;
}

/** The team a new resource belongs to: the caller's (internal work: the admin team). */
export function ownerTeam(caller = currentCaller()): string {
  return caller?.teamId ?? ADMIN_TEAM_ID;
}

/** Throws the resource's NotFound when the current caller may not see it: existence is not revealed to other teams. */
export function requireVisible<T extends { teamId?: string }>(record: T | undefined, what: string): T {
  if (!record || !canSee(record.teamId)) throw notFound(`${what} not found`);
  return record;
}

/** Fields lifecycle log events carry to say who acted (nothing for internal work). */
export function actorFields(caller = currentCaller()): Record<string, string> {
  return caller ? { keyId: caller.keyId } : {};
}

/** Refuses a caller that is not the admin key (managing teams, the server's own metrics). */
export function requireAdmin(what: string, caller = currentCaller()): void {
  if (caller && !caller.admin) throw new ApiError('permission_denied', `only the admin key can ${what}`);
}
