/** Small statistics and table helpers for the benchmark scripts. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

export const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

export interface Row {
  what: string;
  n: number;
  p50: number;
  p95: number;
  baseline: string;
  baseP50: number;
  baseP95: number;
  target?: string;
}

export function markdownTable(rows: Row[], unit = 'ms'): string {
  const lines = [
    `| measurement | runs | p50 (${unit}) | p95 (${unit}) | baseline (same run) | baseline p50 | baseline p95 | ` +
      `ratio p50 | target |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.what} | ${r.n} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${r.baseline} | ${fmt(r.baseP50)} | ${fmt(r.baseP95)} ` +
        `| ${(r.p50 / r.baseP50).toFixed(2)}× | ${r.target ?? ''} |`,
    );
  }
  return lines.join('\n');
}

export async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
