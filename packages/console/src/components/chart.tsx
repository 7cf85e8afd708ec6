/**
 * A live line chart (uPlot): made once, fed new data with `setData` (no re-creation, so it updates smoothly), sized to
 * its box. The y axis spans 0 to the data's own maximum (computed here from the props, so it never lags the data).
 * `data-points` on the box says how many samples it shows, `data-last` (`-raw`) its first series' last value formatted
 * (raw), `data-y-max` the top of the y scale uPlot drew (the end-to-end test compares them with the card beside it).
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  color: string;
  fill?: boolean;
  dash?: number[];
}

export function LineChart({
  xs,
  ys,
  series,
  format,
  minTop = 1,
  height = 180,
  testId,
}: {
  xs: number[];
  ys: number[][];
  series: ChartSeries[];
  format: (v: number) => string /** The y axis reaches at least this high. */;
  minTop?: number;
  height?: number;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>(undefined);
  const formatRef = useRef(format);
  formatRef.current = format;
  const maxRef = useRef(0);
  maxRef.current = ys.reduce((m, y) => y.reduce((a, v) => (v != null && v > a ? v : a), m), 0);

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      padding: [10, 28, 0, 0], // room for the last time label
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      // What the chart really drew up to, for the end-to-end test (the scale uPlot used, not the props).
      hooks: { draw: [(u) => void (el.dataset.yMax = String(u.scales.y.max ?? ''))] },
      scales: { x: { time: true }, y: { range: () => [0, Math.max(minTop, maxRef.current * 1.15)] } },
      axes: [
        {
          stroke: '#6b7280',
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { stroke: '#e5e7eb' },
          font: '11px Inter Variable, sans-serif',
          space: 70,
          // Whole seconds at least (samples can be sub-second apart), as wall-clock times.
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
          values: (_u, vals) =>
            vals.map((v) =>
              new Date(v * 1000).toLocaleTimeString(undefined, {
                hour12: false,
                hour: '2-digit',
                minute: '2-digit',
                second: '2-digit',
              }),
            ),
        },
        {
          stroke: '#6b7280',
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { show: false },
          size: 64,
          font: '11px Inter Variable, sans-serif',
          values: (_u, vals) => vals.map((v) => formatRef.current(v)),
        },
      ],
      series: [
        { value: (_u, v) => (v == null ? '—' : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false })) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dash,
          fill: s.fill ? `${s.color}1f` : undefined,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : formatRef.current(v)),
        })),
      ],
    };
    plot.current = new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) plot.current?.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [height, minTop]);

  useEffect(() => {
    plot.current?.setData([xs, ...ys] as uPlot.AlignedData);
  }, [xs, ys]);

  const last = ys[0]?.at(-1);
  return (
    <div
      className="chart"
      ref={box}
      data-points={xs.length}
      data-last={last == null ? '' : format(last)}
      data-last-raw={last ?? ''}
      data-testid={testId}
    />
  );
}
