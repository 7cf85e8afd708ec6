/**
 * Monitoring tab: CPU %, memory and disk of the last 15 minutes as live charts, polled every 2 s from
 * `GET /sandboxes/{id}/metrics` (the server samples each running sandbox; a paused one has no new samples). Cards and
 * charts come from one series (`metricsSeries`): each card shows its chart's last point.
 */
import { useMemo } from 'react';
import { Sandbox } from 'tensor-box';
import { conn } from '../../lib/api';
import { usePoll } from '../../lib/use-poll';
import { bytes } from '../../lib/format';
import { Card, ErrorMessage, Loading, Notice } from '../../components/ui';
import { LineChart } from '../../components/chart';
import { metricsSeries } from '../../lib/metrics-series';

const WINDOW_MS = 15 * 60_000;

export function MonitoringTab({ sandboxId, running }: { sandboxId: string; running: boolean }) {
  const metrics = usePoll(
    () => Sandbox.getMetrics(sandboxId, { ...conn(), start: new Date(Date.now() - WINDOW_MS) }),
    2000,
    [sandboxId],
  );
  const m = metrics.data;
  const series = useMemo(() => {
    const s = metricsSeries(m ?? []);
    return { ...s, cpu: [s.cpu], mem: [s.mem], disk: [s.disk] };
  }, [m]);
  if (!m) return metrics.error ? <ErrorMessage error={metrics.error} /> : <Loading label="Loading metrics…" />;
  const last = series.last;
  return (
    <>
      <ErrorMessage error={metrics.error} />
      {!running && <Notice>The sandbox is paused: no new samples until it resumes.</Notice>}
      <div className="stats">
        <Stat
          testId="stat-cpu"
          label="CPU"
          value={last ? cpuText(last.cpuUsedPct) : '—'}
          sub={last ? `${last.cpuCount} vCPU` : ''}
        />
        <Stat
          testId="stat-memory"
          label="Memory"
          value={last ? bytes(last.memUsed) : '—'}
          sub={last ? `of ${bytes(last.memTotal)} limit` : ''}
        />
        <Stat
          testId="stat-disk"
          label="Disk"
          value={last ? bytes(last.diskUsed) : '—'}
          sub={last ? `written, of a ${bytes(last.diskTotal)} limit (sparse: space is taken as it is written)` : ''}
        />
        <Stat label="Samples" value={String(series.xs.length)} sub="last 15 minutes" />
      </div>
      <div className="charts">
        <Card title="CPU usage">
          <LineChart
            testId="chart-cpu"
            xs={series.xs}
            ys={series.cpu}
            series={[{ label: 'CPU %', color: '#4f46e5', fill: true }]}
            format={cpuText}
            minTop={5}
          />
        </Card>
        <Card title={`Memory${last ? ` (limit ${bytes(last.memTotal)})` : ''}`}>
          <LineChart
            testId="chart-memory"
            xs={series.xs}
            ys={series.mem}
            series={[{ label: 'used', color: '#0891b2', fill: true }]}
            format={bytes}
          />
        </Card>
        <Card title={`Disk written${last ? ` (limit ${bytes(last.diskTotal)})` : ''}`}>
          <LineChart
            testId="chart-disk"
            xs={series.xs}
            ys={series.disk}
            series={[{ label: 'written', color: '#d97706', fill: true }]}
            format={bytes}
          />
        </Card>
      </div>
    </>
  );
}

const cpuText = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} %`;

function Stat({ label, value, sub, testId }: { label: string; value: string; sub?: string; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <span className="muted small">{label}</span>
      <strong data-testid={testId && `${testId}-value`}>{value}</strong>
      {sub && <span className="muted small">{sub}</span>}
    </div>
  );
}
