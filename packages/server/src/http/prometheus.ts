/**
 * A minimal Prometheus registry (text exposition format 0.0.4) for the control plane's own `/metrics`: histograms of
 * request and lifecycle-operation latencies, and gauges computed at scrape time (sandboxes by state).
 */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Labels = Record<string, string>;
const key = (l: Labels) =>
  Object.entries(l)
    .sort()
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');

class Histogram {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(labels: Labels, seconds: number) {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => seconds <= b && s!.counts[i]++);
    s.sum += seconds;
    s.count++;
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      const l = key(s.labels);
      BUCKETS.forEach((b, i) => out.push(`${this.name}_bucket{${l}${l ? ',' : ''}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${l}${l ? ',' : ''}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum{${l}} ${s.sum}`, `${this.name}_count{${l}} ${s.count}`);
    }
    return out.join('\n');
  }
}

export class Metrics {
  readonly requests = new Histogram(
    'tensor_box_http_request_duration_seconds',
    'API request latency by route, method and status',
  );
  readonly operations = new Histogram(
    'tensor_box_lifecycle_operation_duration_seconds',
    'Sandbox lifecycle operation latency by operation and outcome',
  );
  private gauges: Array<() => Promise<string>> = [];

  /** Registers a gauge family rendered at scrape time. */
  gauge(name: string, help: string, read: () => Promise<Array<[Labels, number]>>) {
    this.gauges.push(async () => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
      for (const [l, v] of await read()) lines.push(`${name}{${key(l)}} ${v}`);
      return lines.join('\n');
    });
  }

  /** Times an async operation into the operations histogram. */
  async time<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.operations.observe({ operation, outcome: 'ok' }, (performance.now() - t0) / 1000);
      return r;
    } catch (err) {
      this.operations.observe({ operation, outcome: 'error' }, (performance.now() - t0) / 1000);
      throw err;
    }
  }

  async render(): Promise<string> {
    const parts = [
      this.requests.render(),
      this.operations.render(),
      ...(await Promise.all(this.gauges.map((g) => g()))),
    ];
    return parts.join('\n') + '\n';
  }
}
