/**
 * The PostgreSQL TeamStore (its tables come from migration 4 in migrations.ts). A claim locks the team's row
 * (`SELECT … FOR UPDATE`) for the transaction that counts usage and inserts the claim, so two nodes claiming for one
 * team at once take turns and the second sees the first's claim.
 */
import type pg from 'pg';
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
import { inTransaction, rowTo } from './postgres-rows.js';

type Row = Record<string, any>;

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

async function runUsage(db: Queryable, teamId: string, now: number): Promise<RunUsage> {
  const sum = 'COUNT(*)::int AS n, COALESCE(SUM(cpu_count), 0)::int AS cpu, COALESCE(SUM(memory_mb), 0)::bigint AS mem';
  const s = (await db.query(`SELECT ${sum} FROM sandboxes WHERE team_id = $1 AND ${HOLDS_RUN_SLOT}`, [teamId])).rows[0];
  const c = (
    await db.query(`SELECT ${sum} FROM run_claims WHERE team_id = $1 AND created_at > $2`, [teamId, now - CLAIM_TTL_MS])
  ).rows[0];
  return { runningSandboxes: s.n + c.n, vcpus: s.cpu + c.cpu, memoryMB: Number(s.mem) + Number(c.mem) };
}

export class PostgresTeamStore implements TeamStore {
  constructor(private pool: pg.Pool) {}

  private async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, args)).rows;
  }

  async insertTeam(t: TeamRecord): Promise<void> {
    await this.q('INSERT INTO teams (team_id, name, created_at, quotas) VALUES ($1, $2, $3, $4)', [
      t.teamId,
      t.name,
      t.createdAt,
      JSON.stringify(t.quotas),
    ]);
  }

  async getTeam(teamId: string): Promise<TeamRecord | undefined> {
    const [r] = await this.q('SELECT * FROM teams WHERE team_id = $1', [teamId]);
    return r ? rowTo.team(r) : undefined;
  }

  async listTeams(): Promise<TeamRecord[]> {
    return (await this.q('SELECT * FROM teams ORDER BY created_at, team_id')).map(rowTo.team);
  }

  async setTeamQuotas(teamId: string, quotas: Partial<Quotas>): Promise<void> {
    await this.q('UPDATE teams SET quotas = $1 WHERE team_id = $2', [JSON.stringify(quotas), teamId]);
  }

  async deleteTeam(teamId: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM api_keys WHERE team_id = $1', [teamId]);
      await c.query('DELETE FROM run_claims WHERE team_id = $1', [teamId]);
      await c.query('DELETE FROM teams WHERE team_id = $1', [teamId]);
    });
  }

  async insertApiKey(k: ApiKeyRecord): Promise<void> {
    await this.q(
      'INSERT INTO api_keys (key_id, team_id, name, key_hash, mask, created_at, last_used_at) ' +
        'VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [k.keyId, k.teamId, k.name, k.keyHash, k.mask, k.createdAt, k.lastUsedAt ?? null],
    );
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const [r] = await this.q('SELECT * FROM api_keys WHERE key_hash = $1', [keyHash]);
    return r ? rowTo.apiKey(r) : undefined;
  }

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const [r] = await this.q('SELECT * FROM api_keys WHERE key_id = $1', [keyId]);
    return r ? rowTo.apiKey(r) : undefined;
  }

  async listApiKeys(teamId: string): Promise<ApiKeyRecord[]> {
    return (await this.q('SELECT * FROM api_keys WHERE team_id = $1 ORDER BY created_at, key_id', [teamId])).map(
      rowTo.apiKey,
    );
  }

  async renameApiKey(keyId: string, name: string): Promise<void> {
    await this.q('UPDATE api_keys SET name = $1 WHERE key_id = $2', [name, keyId]);
  }

  async deleteApiKey(keyId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM api_keys WHERE key_id = $1', [keyId])).rowCount ?? 0) > 0;
  }

  async touchApiKey(keyId: string, at: number): Promise<void> {
    await this.q('UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2', [at, keyId]);
  }

  async claimRun(
    claim: RunClaim,
    breach: (usage: RunUsage) => QuotaBreach | undefined,
  ): Promise<QuotaBreach | undefined> {
    let found: QuotaBreach | undefined;
    await inTransaction(this.pool, async (c) => {
      await c.query('SELECT 1 FROM teams WHERE team_id = $1 FOR UPDATE', [claim.teamId]);
      found = breach(await runUsage(c, claim.teamId, claim.createdAt));
      if (found) return;
      await c.query(
        'INSERT INTO run_claims (claim_id, team_id, cpu_count, memory_mb, node_id, created_at) ' +
          'VALUES ($1, $2, $3, $4, $5, $6)',
        [claim.claimId, claim.teamId, claim.cpuCount, claim.memoryMB, claim.nodeId, claim.createdAt],
      );
    });
    return found;
  }

  async releaseRun(claimId: string): Promise<void> {
    await this.q('DELETE FROM run_claims WHERE claim_id = $1', [claimId]);
  }

  async releaseNodeClaims(nodeId: string): Promise<void> {
    await this.q('DELETE FROM run_claims WHERE node_id = $1', [nodeId]);
  }

  async usage(teamId: string, now: number): Promise<TeamUsage> {
    const count = async (sql: string) => Number((await this.q(sql, [teamId]))[0].n);
    return {
      ...(await runUsage(this.pool, teamId, now)),
      pausedSandboxes: await count(
        `SELECT COUNT(*) AS n FROM sandboxes WHERE team_id = $1 AND state IN ('paused', 'resuming')`,
      ),
      snapshots: await count('SELECT COUNT(*) AS n FROM snapshots WHERE team_id = $1'),
      templates: await count('SELECT COUNT(*) AS n FROM templates WHERE team_id = $1'),
    };
  }

  async ensureSetting(key: string, value: string): Promise<string> {
    await this.q('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.q('SELECT value FROM settings WHERE key = $1', [key]))[0].value;
  }

  async deleteSetting(key: string): Promise<void> {
    await this.q('DELETE FROM settings WHERE key = $1', [key]);
  }

  async imageDirs(teamId: string): Promise<string[]> {
    const rows = await this.q(
      'SELECT paused_image AS d FROM sandboxes WHERE team_id = $1 AND paused_image IS NOT NULL ' +
        'UNION ALL SELECT image_dir FROM snapshots WHERE team_id = $1',
      [teamId],
    );
    return rows.map((r) => r.d as string);
  }

  async volumesMB(teamId: string): Promise<number> {
    const [row] = await this.q('SELECT COALESCE(SUM(size_mb), 0) AS mb FROM volumes WHERE team_id = $1', [teamId]);
    return Number(row?.mb ?? 0);
  }
}
