/**
 * Samples every running sandbox's resource usage from the runtime (cgroup + writable layer) every few seconds and keeps
 * the series for `retentionMs` (default one hour). CPU % is the CPU time used between two samples over the wall time
 * and the sandbox's CPU count (100 % = all its vCPUs busy).
 */
import type { Drivers } from '../lifecycle/drivers.js';
import type { Isolation, MetricSample, Store } from '../store/store.js';

export interface MetricsSamplerOptions {
  store: Store;
  /** The driver of each sandbox (by its isolation). */
  drivers: Pick<Drivers, 'of'>;
  intervalMs?: number;
  retentionMs?: number;
  /** Sample only sandboxes of this node (several nodes may share one store). */
  nodeId?: string;
}

export class MetricsSampler {
  private last = new Map<string, { at: number; cpuNs: number }>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private inflight = new Set<Promise<unknown>>();
  readonly intervalMs: number;
  readonly retentionMs: number;

  constructor(private opts: MetricsSamplerOptions) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.retentionMs = opts.retentionMs ?? 3600_000;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.sampleAll().catch(() => {}), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and waits for samples under way, so the store can be closed after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** One sample of one sandbox (also used right after create so a series starts at once). */
  sample(s: { sandboxId: string; isolation?: Isolation }): Promise<MetricSample | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const p = this.sampleOnce(s);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  private async sampleOnce(s: { sandboxId: string; isolation?: Isolation }): Promise<MetricSample | undefined> {
    const sandboxId = s.sandboxId;
    let stats;
    try {
      stats = await this.opts.drivers.of(s).stats(sandboxId);
    } catch {
      return undefined;
    }
    const now = Date.now();
    const prev = this.last.get(sandboxId);
    this.last.set(sandboxId, { at: now, cpuNs: stats.cpuUsageNs });
    const wallNs = prev ? (now - prev.at) * 1e6 : 0;
    const pct = prev && wallNs > 0 ? Math.max(0, ((stats.cpuUsageNs - prev.cpuNs) / wallNs / stats.cpuCount) * 100) : 0;
    const m: MetricSample = {
      sandboxId,
      timestamp: now,
      cpuCount: stats.cpuCount,
      cpuUsedPct: Math.round(pct * 100) / 100,
      memUsed: stats.memoryUsedBytes,
      memTotal: stats.memoryLimitBytes,
      memCache: stats.memoryCacheBytes,
      diskUsed: stats.diskUsedBytes,
      diskTotal: stats.diskLimitBytes,
    };
    if (this.stopped) return undefined;
    await this.opts.store.appendMetric(m);
    return m;
  }

  forget(sandboxId: string): void {
    this.last.delete(sandboxId);
  }

  async sampleAll(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const running = await this.opts.store.listSandboxes({ states: ['running'] });
      // Only this node's: another node's sandboxes are not in this node's runtime.
      for (const s of running)
        if (!this.opts.nodeId || !s.nodeId || s.nodeId === this.opts.nodeId) await this.sample(s);
      if (this.stopped) return;
      await this.opts.store.pruneMetrics(Date.now() - this.retentionMs);
    } finally {
      this.running = false;
    }
  }
}
