/**
 * Turns credentials into a Caller: the admin key (compared by hash, in constant time), a team key (looked up by its
 * hash on every request — no cache, so a revocation on any node counts at once), or a signed token a key issued
 * (WebSockets, upload links; valid only while that key exists). Also applies the per-key request rate and records
 * when a key was last used (written at most once a minute per key).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError, notFound } from '../errors.js';
import type { TeamStore } from '../store/teams.js';
import { issueWsToken, verifyWsToken } from '../ws/tokens.js';
import { ADMIN_KEY_ID, ADMIN_TEAM_ID, type Caller } from './caller.js';
import { hashApiKey } from './keys.js';
import type { RateLimiter } from './rate-limit.js';

const LAST_USED_EVERY_MS = 60_000;

export interface AuthenticatorOptions {
  teams: TeamStore;
  /** SHA-256 (hex) of the admin key. */
  adminKeyHash: string;
  /** HMAC key of issued tokens (a random server secret, shared by the nodes through the store). */
  tokenSecret: string;
  rate: RateLimiter;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The API key a request carries: `X-API-Key`, or `Authorization: Bearer <key>`. */
export function requestKey(req: IncomingMessage): string | undefined {
  const given = header(req, 'x-api-key');
  if (given) return given;
  const auth = header(req, 'authorization');
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

export class Authenticator {
  private lastUsedWrite = new Map<string, number>();
  private adminHash: Buffer;

  constructor(private opts: AuthenticatorOptions) {
    this.adminHash = Buffer.from(opts.adminKeyHash, 'hex');
  }

  /** The caller of an API request; 401 without a valid key, 429 over the key's rate. `headerOnly`: X-API-Key only. */
  async fromRequest(req: IncomingMessage, opts: { headerOnly?: boolean } = {}): Promise<Caller> {
    const key = opts.headerOnly ? header(req, 'x-api-key') : requestKey(req);
    if (!key) throw new ApiError('unauthenticated', 'missing API key: send it in the X-API-Key header');
    const caller = await this.fromKey(key, header(req, 'x-team-id'));
    if (!caller) throw new ApiError('unauthenticated', 'invalid API key');
    if (!caller.admin) this.opts.rate.take(caller.keyId);
    return caller;
  }

  /** The caller a key stands for, or undefined when it is no (longer a) key. `teamHeader`: the admin's X-Team-ID. */
  async fromKey(key: string, teamHeader?: string): Promise<Caller | undefined> {
    const hash = hashApiKey(key);
    const h = Buffer.from(hash, 'hex');
    if (h.length === this.adminHash.length && timingSafeEqual(h, this.adminHash)) return this.admin(teamHeader);
    const rec = await this.opts.teams.findApiKeyByHash(hash);
    if (!rec) return undefined;
    this.used(rec.keyId);
    return { keyId: rec.keyId, teamId: rec.teamId, admin: false };
  }

  /** The caller of a key by ID (tokens carry it): undefined once the key is revoked. */
  async fromKeyId(keyId: string): Promise<Caller | undefined> {
    if (keyId === ADMIN_KEY_ID) return { keyId, teamId: ADMIN_TEAM_ID, admin: true };
    const rec = await this.opts.teams.getApiKey(keyId);
    return rec ? { keyId: rec.keyId, teamId: rec.teamId, admin: false } : undefined;
  }

  async keyExists(keyId: string): Promise<boolean> {
    return keyId === ADMIN_KEY_ID || !!(await this.opts.teams.getApiKey(keyId));
  }

  /** A token for `subject` acting as `caller`'s key. */
  issueToken(subject: string, caller: Caller | undefined, ttlSec?: number): { token: string; expiresAt: string } {
    return issueWsToken(this.opts.tokenSecret, subject, caller?.keyId ?? ADMIN_KEY_ID, ttlSec);
  }

  /** The caller a token for `subject` was issued to, while its key exists. */
  async fromToken(subject: string, token: string): Promise<Caller | undefined> {
    const keyId = verifyWsToken(this.opts.tokenSecret, subject, token);
    return keyId ? this.fromKeyId(keyId) : undefined;
  }

  private async admin(teamHeader?: string): Promise<Caller> {
    if (!teamHeader) return { keyId: ADMIN_KEY_ID, teamId: ADMIN_TEAM_ID, admin: true };
    if (!(await this.opts.teams.getTeam(teamHeader))) throw notFound(`team '${teamHeader}' not found (X-Team-ID)`);
    return { keyId: ADMIN_KEY_ID, teamId: teamHeader, admin: true, actingAsTeam: true };
  }

  private used(keyId: string) {
    const now = Date.now();
    if (now - (this.lastUsedWrite.get(keyId) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastUsedWrite.set(keyId, now);
    void this.opts.teams.touchApiKey(keyId, now).catch(() => {});
  }
}
