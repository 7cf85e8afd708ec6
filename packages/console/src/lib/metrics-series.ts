/**
 * The monitoring tab's one source: the metric samples turned into chart series (oldest first, one point per second,
 * the latest sample winning) and the "latest" sample the cards show — the same point each chart ends with, so a card
 * always equals its chart's last point. Disk: `diskTotal` is the sandbox's disk limit (a sparse file that takes host
 * space only as it is written), so it is labelled as a limit, never as allocated space.
 */
import type { SandboxMetrics } from 'tensor-box';

export interface MetricsSeries {
  /** Seconds since the epoch (uPlot's x unit), ascending, unique. */
  xs: number[];
  cpu: number[];
  mem: number[];
  disk: number[];
  /** The sample every chart ends with (undefined when there is none). */
  last?: SandboxMetrics;
}

export function metricsSeries(samples: SandboxMetrics[]): MetricsSeries {
  const bySecond = new Map<number, SandboxMetrics>();
  for (const s of samples) bySecond.set(Math.floor(s.timestamp.getTime() / 1000), s);
  const points = [...bySecond.entries()].sort((a, b) => a[0] - b[0]);
  return {
    xs: points.map(([x]) => x),
    cpu: points.map(([, s]) => s.cpuUsedPct),
    mem: points.map(([, s]) => s.memUsed),
    disk: points.map(([, s]) => s.diskUsed),
    last: points.at(-1)?.[1],
  };
}
