/**
 * The telemetry repository: what the control plane records as it goes — sandbox logs, metric samples and template
 * build logs — appended, queried by range and pruned. Implemented by sqlite-telemetry.ts and postgres-telemetry.ts.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One line of a build's log; `seq` (0, 1, 2, … per build) is the offset clients page with. */
export interface BuildLogEntry {
  templateId: string;
  buildId: string;
  seq: number;
  timestamp: number;
  level: LogLevel;
  message: string;
  step?: string;
}

export interface LogEntry {
  sandboxId: string;
  /** Epoch ms; with `seq` it orders entries and serves as the cursor. */
  timestamp: number;
  seq: number;
  level: LogLevel;
  message: string;
  fields: Record<string, string>;
}

export interface LogQuery {
  /** Entries after (forward) or before (backward) this timestamp in ms. */
  cursor?: number;
  limit: number;
  direction: 'forward' | 'backward';
  minLevel?: LogLevel;
  search?: string;
}

export interface MetricSample {
  sandboxId: string;
  timestamp: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
}

/** The levels in order; stores keep a level as its index here, so `minLevel` is a comparison. */
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface TelemetryRepository {
  /** Appends a line; its seq is the number of lines the build had before. Returns the stored entry. */
  appendBuildLog(e: Omit<BuildLogEntry, 'seq'>): Promise<BuildLogEntry>;
  /** Lines with seq >= offset, in order, at most `limit`, at or above `minLevel`. */
  queryBuildLogs(
    templateId: string,
    buildId: string,
    q: { offset: number; limit: number; minLevel?: LogLevel },
  ): Promise<BuildLogEntry[]>;

  appendLog(e: Omit<LogEntry, 'seq'>): Promise<void>;
  queryLogs(sandboxId: string, q: LogQuery): Promise<LogEntry[]>;
  /** Deletes log entries older than `before` (ms) of sandboxes that no longer exist. */
  pruneLogs(before: number): Promise<void>;

  /** Appends a sample; a second one of the same sandbox and time replaces the first. */
  appendMetric(m: MetricSample): Promise<void>;
  /** Samples with startMs <= timestamp <= endMs, oldest first. */
  queryMetrics(sandboxId: string, startMs: number, endMs: number): Promise<MetricSample[]>;
  /** The newest sample of each of the sandboxes that has one. */
  latestMetrics(sandboxIds: string[]): Promise<MetricSample[]>;
  /** Deletes samples older than `before` (ms), and every sample of sandboxes that no longer exist. */
  pruneMetrics(before: number): Promise<void>;
}
