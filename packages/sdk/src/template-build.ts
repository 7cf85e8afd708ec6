/**
 * Following a template build: its status (building/waiting/ready/error, with the failing step and exit code), its log
 * read incrementally by offset, and `waitForBuild`, which polls both until the build ends. Used by `Template` and by
 * `sandbox.commitAsTemplate`.
 */
import { apiClient, unwrap } from './api/client.js';
import { resolveConnection, type ConnectionOpts } from './connection.js';
import { BuildError, TimeoutError } from './errors.js';
import type { components } from './api/schema.gen.js';

export type BuildStatus = components['schemas']['BuildStatus'];
export type LogLevel = components['schemas']['LogLevel'];

/**
 * One line of a build's log. `step` names the build step it belongs to (the server logs `[i/n] TYPE …` at each
 * start).
 */
export interface BuildLogEntry {
  timestamp: Date;
  level: LogLevel;
  message: string;
  step?: string;
}

/** Why a build failed. */
export interface BuildStatusReason {
  message: string;
  /** The failing step's name. */
  step?: string;
  /** The failing command's exit code. */
  exitCode?: number;
  /** The last lines of the log. */
  logEntries?: BuildLogEntry[];
}

export interface TemplateBuildStatus {
  templateID: string;
  buildID: string;
  status: BuildStatus;
  /** Log lines from `logsOffset` on, as text. */
  logs: string[];
  /** The same lines with level, time and step. */
  logEntries: BuildLogEntry[];
  reason?: BuildStatusReason;
}

export interface BuildStatusOpts extends ConnectionOpts {
  /** Number of log entries already seen (default 0). */
  logsOffset?: number;
  /** Most log entries to return (1–1000, default 1000). */
  limit?: number;
  /** Minimum log level. */
  level?: LogLevel;
}

export interface BuildLogsOpts extends ConnectionOpts {
  /** Number of entries already seen (default 0). */
  offset?: number;
  /** Most entries to return (1–1000, default 1000). */
  limit?: number;
  level?: LogLevel;
}

export interface WaitForBuildOpts extends ConnectionOpts {
  /** Called with every new log entry, in order. */
  onLog?: (entry: BuildLogEntry) => void;
  /** Pause between polls in ms (default 500). */
  intervalMs?: number;
  /** Give up after this many ms with a `TimeoutError` (default 0 = wait as long as the build runs). */
  timeoutMs?: number;
}

const toEntry = (e: components['schemas']['BuildLogEntry']): BuildLogEntry => ({
  timestamp: new Date(e.timestamp),
  level: e.level,
  message: e.message,
  ...(e.step !== undefined ? { step: e.step } : {}),
});

export function toReason(r: components['schemas']['BuildStatusReason'] | undefined): BuildStatusReason | undefined {
  if (!r) return undefined;
  return { message: r.message, step: r.step, exitCode: r.exitCode, logEntries: r.logEntries?.map(toEntry) };
}

/** A build's status and its log from `logsOffset` on. */
export async function getBuildStatus(
  templateID: string,
  buildID: string,
  opts: BuildStatusOpts = {},
): Promise<TemplateBuildStatus> {
  const r = await apiClient(resolveConnection(opts)).GET('/templates/{templateID}/builds/{buildID}/status', {
    params: {
      path: { templateID, buildID },
      query: { logsOffset: opts.logsOffset, limit: opts.limit, level: opts.level },
    },
  });
  const b = unwrap(r, `status of build ${buildID} of template ${templateID}`);
  return {
    templateID: b.templateID,
    buildID: b.buildID,
    status: b.status,
    logs: b.logs,
    logEntries: b.logEntries.map(toEntry),
    reason: toReason(b.reason),
  };
}

/** A build's log entries from `offset` on, and the offset to ask for next. */
export async function getBuildLogs(
  templateID: string,
  buildID: string,
  opts: BuildLogsOpts = {},
): Promise<{ logs: BuildLogEntry[]; nextOffset: number }> {
  const r = await apiClient(resolveConnection(opts)).GET('/templates/{templateID}/builds/{buildID}/logs', {
    params: { path: { templateID, buildID }, query: { offset: opts.offset, limit: opts.limit, level: opts.level } },
  });
  const b = unwrap(r, `logs of build ${buildID} of template ${templateID}`);
  return { logs: b.logs.map(toEntry), nextOffset: b.nextOffset ?? (opts.offset ?? 0) + b.logs.length };
}

/**
 * Polls a build until it is ready, passing each new log entry to `onLog`. Resolves with the final status (its
 * `logEntries` are every entry seen); throws `BuildError` (with the failing step and exit code) when the build fails.
 */
export async function waitForBuild(
  templateID: string,
  buildID: string,
  opts: WaitForBuildOpts = {},
): Promise<TemplateBuildStatus> {
  const interval = opts.intervalMs ?? 500;
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  const limit = 1000;
  const all: BuildLogEntry[] = [];
  const lines: string[] = [];
  for (;;) {
    const s = await getBuildStatus(templateID, buildID, { ...opts, logsOffset: all.length, limit });
    for (const e of s.logEntries) {
      all.push(e);
      opts.onLog?.(e);
    }
    lines.push(...s.logs);
    const done = s.status === 'ready' || s.status === 'error';
    if (done && s.logEntries.length < limit) {
      const final = { ...s, logs: lines, logEntries: all };
      if (s.status === 'error') throw new BuildError(final.reason ?? { message: 'build failed' }, templateID, buildID);
      return final;
    }
    if (done) continue; // more log to read before the end
    if (Date.now() + interval > deadline)
      throw new TimeoutError(
        `build ${buildID} of template ${templateID} is still ${s.status} after ${opts.timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, interval));
  }
}
