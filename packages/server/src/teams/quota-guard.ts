/**
 * Applies the team quotas where resources are made: `claimRun` before a sandbox starts (create, snapshot start, fork,
 * resume — one store transaction counts and reserves, see TeamStore.claimRun), `checkDisk` before a pause or snapshot
 * writes an image, `checkVolumes` before a volume is made, `checkTemplates` before a template is registered or
 * committed.
 */
import { randomUUID } from 'node:crypto';
import { notFound } from '../errors.js';
import type { TeamStore } from '../store/teams.js';
import { diskBytes } from './disk-usage.js';
import { effectiveQuotas, quotaError, runBreach, type Quotas } from './quotas.js';
import { ADMIN_TEAM_ID } from './caller.js';

const NO_LIMIT = 1_000_000_000;
const UNLIMITED: Quotas = {
  maxRunningSandboxes: NO_LIMIT,
  maxVcpus: NO_LIMIT,
  maxMemoryMB: NO_LIMIT,
  maxDiskMB: NO_LIMIT,
  maxTemplates: NO_LIMIT,
};

export class QuotaGuard {
  constructor(
    private teams: TeamStore,
    private defaults: Quotas,
    private nodeId: string,
  ) {}

  async quotas(teamId: string): Promise<Quotas> {
    const team = await this.teams.getTeam(teamId);
    if (!team) throw notFound(`team '${teamId}' not found`);
    // The admin team is the operator's (and owns what an install had before teams existed): no limits unless set,
    // so an existing install keeps working unchanged whatever its size.
    return effectiveQuotas(teamId === ADMIN_TEAM_ID ? UNLIMITED : this.defaults, team.quotas);
  }

  /** Reserves a running slot for a sandbox of `need`, or throws 429. Returns the release (call once it runs/failed). */
  async claimRun(teamId: string, need: { cpuCount: number; memoryMB: number }): Promise<() => Promise<void>> {
    const q = await this.quotas(teamId);
    const claimId = randomUUID();
    const breach = await this.teams.claimRun(
      { claimId, teamId, cpuCount: need.cpuCount, memoryMB: need.memoryMB, nodeId: this.nodeId, createdAt: Date.now() },
      (usage) => runBreach(q, usage, need),
    );
    if (breach) throw quotaError(teamId, breach);
    return () => this.teams.releaseRun(claimId).catch(() => {});
  }

  /** Disk used by the team's paused images and snapshots, in MiB. */
  async diskMB(teamId: string): Promise<number> {
    return Math.ceil((await diskBytes(await this.teams.imageDirs(teamId))) / 1048576);
  }

  /** 429 when the team's images already fill its disk quota (the next image's size is not known before it is taken). */
  async checkDisk(teamId: string): Promise<void> {
    const q = await this.quotas(teamId);
    const used = await this.diskMB(teamId);
    if (used >= q.maxDiskMB) throw quotaError(teamId, { quota: 'maxDiskMB', limit: q.maxDiskMB, wanted: used });
  }

  /**
   * 429 unless the team's images plus `volumesMB` (the size limits of all its volumes, a new one included) fit its
   * disk quota: a volume's whole size counts (it can fill up at any time).
   */
  async checkVolumes(teamId: string, volumesMB: number): Promise<void> {
    const q = await this.quotas(teamId);
    const wanted = (await this.diskMB(teamId)) + volumesMB;
    if (wanted > q.maxDiskMB) throw quotaError(teamId, { quota: 'maxDiskMB', limit: q.maxDiskMB, wanted });
  }

  async checkTemplates(teamId: string): Promise<void> {
    const q = await this.quotas(teamId);
    const n = (await this.teams.usage(teamId, Date.now())).templates;
    if (n + 1 > q.maxTemplates)
      throw quotaError(teamId, { quota: 'maxTemplates', limit: q.maxTemplates, wanted: n + 1 });
  }
}
