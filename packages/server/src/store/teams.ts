/**
 * The team half of the store: teams with their quota overrides, API keys (only their SHA-256 is kept), and run claims
 * — the reservation a sandbox start takes before it runs, so that a quota check and the start it allows cannot race
 * past a limit when several nodes share the database. Both stores implement it (`store.teams`); the shared suite
 * `teams-suite.ts` holds them to the same behaviour.
 */
import type { QuotaBreach, Quotas, RunUsage } from '../teams/quotas.js';

export interface TeamRecord {
  teamId: string;
  name: string;
  createdAt: number;
  /** Quotas set for this team; the rest come from the server's defaults. */
  quotas: Partial<Quotas>;
}

export interface ApiKeyRecord {
  keyId: string;
  teamId: string;
  name: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  keyHash: string;
  /** `e2b_…abcd`. */
  mask: string;
  createdAt: number;
  lastUsedAt?: number;
}

/** A start under way (create, resume, fork): counted as running until released. */
export interface RunClaim {
  claimId: string;
  teamId: string;
  cpuCount: number;
  memoryMB: number;
  nodeId: string;
  createdAt: number;
}

/** Claims older than this are left over from a node that died mid-start and no longer count. */
export const CLAIM_TTL_MS = 10 * 60_000;

/** What a team owns, for `GET /teams/{id}`. */
export interface TeamUsage extends RunUsage {
  pausedSandboxes: number;
  snapshots: number;
  templates: number;
}

export interface TeamStore {
  insertTeam(t: TeamRecord): Promise<void>;
  getTeam(teamId: string): Promise<TeamRecord | undefined>;
  listTeams(): Promise<TeamRecord[]>;
  setTeamQuotas(teamId: string, quotas: Partial<Quotas>): Promise<void>;
  /** Deletes the team and its keys (what else it owned stays, visible to the admin). */
  deleteTeam(teamId: string): Promise<void>;

  insertApiKey(k: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Oldest first. */
  listApiKeys(teamId: string): Promise<ApiKeyRecord[]>;
  renameApiKey(keyId: string, name: string): Promise<void>;
  /** Whether a key was deleted. */
  deleteApiKey(keyId: string): Promise<boolean>;
  touchApiKey(keyId: string, at: number): Promise<void>;

  /**
   * In one transaction holding the team's lock: the team's running sandboxes and live claims, `breach(usage)`, and —
   * when it finds none — the claim inserted. Returns the breach, or undefined when the claim was taken.
   */
  claimRun(claim: RunClaim, breach: (usage: RunUsage) => QuotaBreach | undefined): Promise<QuotaBreach | undefined>;
  releaseRun(claimId: string): Promise<void>;
  /** Drops a node's claims (on its start: none of its starts survived the restart). */
  releaseNodeClaims(nodeId: string): Promise<void>;

  usage(teamId: string, now: number): Promise<TeamUsage>;
  /** The setting's stored value; when it has none, stores `value` first (the first of several nodes wins). */
  ensureSetting(key: string, value: string): Promise<string>;
  deleteSetting(key: string): Promise<void>;
  /** Checkpoint directories the team's paused sandboxes and snapshots keep (for the disk quota). */
  imageDirs(teamId: string): Promise<string[]>;
  /** The size limits of the team's volumes, summed, MiB (a volume's whole size counts toward the disk quota). */
  volumesMB(teamId: string): Promise<number>;
}
