/** `metricsSeries`: the one source of the monitoring tab's cards and charts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SandboxMetrics } from 'tensor-box';
import { metricsSeries } from './metrics-series.js';

const sample = (s: number, memUsed: number): SandboxMetrics => ({
  timestamp: new Date(s * 1000),
  cpuCount: 1,
  cpuUsedPct: 0,
  memUsed,
  memTotal: 512 << 20,
  diskUsed: 1,
  diskTotal: 40 << 30,
});

describe('metricsSeries', () => {
  it(
    'orders by time, keeps one point a second (the later ' + "sample), and the card value is the chart's last point",
    () => {
      const s = metricsSeries([sample(12, 112 << 20), sample(10, 9 << 20), sample(11, 8 << 20), sample(11, 10 << 20)]);
      assert.deepEqual(s.xs, [10, 11, 12]);
      assert.deepEqual(s.mem, [9 << 20, 10 << 20, 112 << 20]);
      assert.equal(s.last?.memUsed, s.mem.at(-1));
      assert.equal(metricsSeries([]).last, undefined);
    },
  );
});
