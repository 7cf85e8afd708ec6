/**
 * Monitoring tab: CPU %, memory and disk of the last 15 minutes as live charts, polled every 2 s from
 * `GET /sandboxes/{id}/metrics` (the server samples each running sandbox; a paused one has no new samples).
 */
import { useMemo } from 'react';
import { Sandbox } from 'tensor-box';
import { conn } from '../../lib/api';
import { usePoll } from '../../lib/use-poll';
import { bytes } from '../../lib/format';
import { Card, ErrorMessage, Loading, Notice } from '../../components/ui';
import { LineChart } from '../../components/chart';

const WINDOW_MS = 15 * 60_000;

export function MonitoringTab({ sandboxId, running }: { sandboxId: string; running: boolean }) {
  const metrics = usePoll(() => Sandbox.getMetrics(sandboxId, { ...conn(), start: new Date(Date.now() - WINDOW_MS) }), 2000, [sandboxId]);
  const m = metrics.data;
  const series = useMemo(() => {
    const list = m ?? [];
    return {
      xs: list.map((x) => x.timestamp.getTime() / 1000),
      cpu: [list.map((x) => x.cpuUsedPct)],
      mem: [list.map((x) => x.memUsed)],
      disk: [list.map((x) => x.diskUsed)],
    };
  }, [m]);
  if (!m) return metrics.error ? <ErrorMessage error={metrics.error} /> : <Loading label="Loading metrics…" />;
  const last = m.at(-1);
  return (
    <>
      <ErrorMessage error={metrics.error} />
      {!running && <Notice>The sandbox is paused: no new samples until it resumes.</Notice>}
      <div className="stats">
        <Stat label="CPU" value={last ? `${last.cpuUsedPct.toFixed(1)} %` : '—'} sub={last ? `${last.cpuCount} vCPU` : ''} />
        <Stat label="Memory" value={last ? bytes(last.memUsed) : '—'} sub={last ? `of ${bytes(last.memTotal)}` : ''} />
        <Stat label="Disk" value={last ? bytes(last.diskUsed) : '—'} sub={last ? `of ${bytes(last.diskTotal)}` : ''} />
        <Stat label="Samples" value={String(m.length)} sub="last 15 minutes" />
      </div>
      <div className="charts">
        <Card title="CPU usage">
          <LineChart testId="chart-cpu" xs={series.xs} ys={series.cpu} series={[{ label: 'CPU %', color: '#4f46e5', fill: true }]} format={(v) => `${v.toFixed(v < 10 ? 1 : 0)}%`} minTop={5} />
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
        <Card title={`Disk${last ? ` (size ${bytes(last.diskTotal)})` : ''}`}>
          <LineChart
            testId="chart-disk"
            xs={series.xs}
            ys={series.disk}
            series={[{ label: 'used', color: '#d97706', fill: true }]}
            format={bytes}
          />
        </Card>
      </div>
    </>
  );
}

function Stat({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div className="stat">
      <span className="muted small">{label}</span>
      <strong>{value}</strong>
      {sub && <span className="muted small">{sub}</span>}
    </div>
  );
}
