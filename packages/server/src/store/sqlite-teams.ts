/**
 * The SQLite TeamStore (its tables come from migration 4 in migrations.ts). Claims are taken in a `BEGIN IMMEDIATE`
 * transaction, which holds SQLite's write lock from its first statement, so two processes on one file take turns.
 */
import type Database from 'better-sqlite3';
import type { QuotaBreach, Quotas, RunUsage } from '../teams/quotas.js';
import { HOLDS_RUN_SLOT } from './columns.js';
import {
  CLAIM_TTL_MS,
  type ApiKeyRecord,
  type RunClaim,
  type TeamRecord,
  type TeamStore,
  type TeamUsage,
} from './teams.js';
import { rowTo } from './sqlite-rows.js';

type Row = Record<string, any>;

const SUMS = 'COUNT(*) AS n, COALESCE(SUM(cpu_count), 0) AS cpu, COALESCE(SUM(memory_mb), 0) AS mem';

export class SqliteTeamStore implements TeamStore {
  constructor(private db: Database.Database) {}

  async insertTeam(t: TeamRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO teams (team_id, name, created_at, quotas) VALUES (?, ?, ?, ?)')
      .run(t.teamId, t.name, t.createdAt, JSON.stringify(t.quotas));
  }

  async getTeam(teamId: string): Promise<TeamRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM teams WHERE team_id = ?').get(teamId) as Row | undefined;
    return r ? rowTo.team(r) : undefined;
  }

  async listTeams(): Promise<TeamRecord[]> {
    return (this.db.prepare('SELECT * FROM teams ORDER BY created_at, team_id').all() as Row[]).map(rowTo.team);
  }

  async setTeamQuotas(teamId: string, quotas: Partial<Quotas>): Promise<void> {
    this.db.prepare('UPDATE teams SET quotas = ? WHERE team_id = ?').run(JSON.stringify(quotas), teamId);
  }

  async deleteTeam(teamId: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM api_keys WHERE team_id = ?').run(teamId);
      this.db.prepare('DELETE FROM run_claims WHERE team_id = ?').run(teamId);
      this.db.prepare('DELETE FROM teams WHERE team_id = ?').run(teamId);
    })();
  }

  async insertApiKey(k: ApiKeyRecord): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO api_keys (key_id, team_id, name, key_hash, mask, created_at, last_used_at) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(k.keyId, k.teamId, k.name, k.keyHash, k.mask, k.createdAt, k.lastUsedAt ?? null);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash) as Row | undefined;
    return r ? rowTo.apiKey(r) : undefined;
  }

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE key_id = ?').get(keyId) as Row | undefined;
    return r ? rowTo.apiKey(r) : undefined;
  }

  async listApiKeys(teamId: string): Promise<ApiKeyRecord[]> {
    return (
      this.db.prepare('SELECT * FROM api_keys WHERE team_id = ? ORDER BY created_at, key_id').all(teamId) as Row[]
    ).map(rowTo.apiKey);
  }

  async renameApiKey(keyId: string, name: string): Promise<void> {
    this.db.prepare('UPDATE api_keys SET name = ? WHERE key_id = ?').run(name, keyId);
  }

  async deleteApiKey(keyId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM api_keys WHERE key_id = ?').run(keyId).changes > 0;
  }

  async touchApiKey(keyId: string, at: number): Promise<void> {
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE key_id = ?').run(at, keyId);
  }

  private runUsage(teamId: string, now: number): RunUsage {
    const s = this.db
      .prepare(`SELECT ${SUMS} FROM sandboxes WHERE team_id = ? AND ${HOLDS_RUN_SLOT}`)
      .get(teamId) as Row;
    const c = this.db
      .prepare(`SELECT ${SUMS} FROM run_claims WHERE team_id = ? AND created_at > ?`)
      .get(teamId, now - CLAIM_TTL_MS) as Row;
    return { runningSandboxes: s.n + c.n, vcpus: s.cpu + c.cpu, memoryMB: s.mem + c.mem };
  }

  async claimRun(
    claim: RunClaim,
    breach: (usage: RunUsage) => QuotaBreach | undefined,
  ): Promise<QuotaBreach | undefined> {
    const tx = this.db.transaction(() => {
      const found = breach(this.runUsage(claim.teamId, claim.createdAt));
      if (found) return found;
      this.db
        .prepare(
          'INSERT INTO run_claims (claim_id, team_id, cpu_count, memory_mb, node_id, created_at) ' +
            'VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(claim.claimId, claim.teamId, claim.cpuCount, claim.memoryMB, claim.nodeId, claim.createdAt);
      return undefined;
    });
    return tx.immediate();
  }

  async releaseRun(claimId: string): Promise<void> {
    this.db.prepare('DELETE FROM run_claims WHERE claim_id = ?').run(claimId);
  }

  async releaseNodeClaims(nodeId: string): Promise<void> {
    this.db.prepare('DELETE FROM run_claims WHERE node_id = ?').run(nodeId);
  }

  async usage(teamId: string, now: number): Promise<TeamUsage> {
    const count = (sql: string) => (this.db.prepare(sql).get(teamId) as Row).n as number;
    return {
      ...this.runUsage(teamId, now),
      pausedSandboxes: count(
        `SELECT COUNT(*) AS n FROM sandboxes WHERE team_id = ? AND state IN ('paused', 'resuming')`,
      ),
      snapshots: count('SELECT COUNT(*) AS n FROM snapshots WHERE team_id = ?'),
      templates: count('SELECT COUNT(*) AS n FROM templates WHERE team_id = ?'),
    };
  }

  async ensureSetting(key: string, value: string): Promise<string> {
    this.db.prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)').run(key, value);
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as Row).value;
  }

  async deleteSetting(key: string): Promise<void> {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  async imageDirs(teamId: string): Promise<string[]> {
    const rows = this.db
      .prepare(
        'SELECT paused_image AS d FROM sandboxes WHERE team_id = ? AND paused_image IS NOT NULL ' +
          'UNION ALL SELECT image_dir FROM snapshots WHERE team_id = ?',
      )
      .all(teamId, teamId) as Row[];
    return rows.map((r) => r.d as string);
  }

  async volumesMB(teamId: string): Promise<number> {
    const row = this.db.prepare('SELECT COALESCE(SUM(size_mb), 0) AS mb FROM volumes WHERE team_id = ?').get(teamId) as
      | Row
      | undefined;
    return Number(row?.mb ?? 0);
  }
}
