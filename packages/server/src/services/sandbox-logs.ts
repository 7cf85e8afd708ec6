/**
 * Sandbox logs: lifecycle events (created, timeout, killed, re-adopted…), agent messages and start-command output,
 * kept in the store and served by `GET /v2/sandboxes/{id}/logs`. Writers never throw: a log write must not fail an
 * operation.
 */
import type { LogEntry, LogLevel, Store } from '../store/store.js';

export class SandboxLogs {
  private listeners = new Set<(e: Omit<LogEntry, 'seq'>) => void>();

  constructor(private store: Store) {}

  write(sandboxId: string, level: LogLevel, message: string, fields: Record<string, string> = {}): void {
    const e = { sandboxId, timestamp: Date.now(), level, message, fields };
    this.store.appendLog(e).catch(() => {});
    for (const l of this.listeners) l(e);
  }

  /** Live subscription (log tail over WebSocket). Returns the unsubscribe function. */
  subscribe(fn: (e: Omit<LogEntry, 'seq'>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  query(
    sandboxId: string,
    q: { cursor?: number; limit?: number; direction?: 'forward' | 'backward'; level?: LogLevel; search?: string },
  ) {
    return this.store.queryLogs(sandboxId, {
      cursor: q.cursor,
      limit: q.limit ?? 1000,
      direction: q.direction ?? 'forward',
      minLevel: q.level,
      search: q.search,
    });
  }
}
