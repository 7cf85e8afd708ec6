/**
 * What every command gets: the connection options (flags over env vars), output helpers (data to stdout, messages to
 * stderr), and `key=value` parsing.
 */
import type { ConnectionOpts } from 'tensor-box';
import { UsageError } from './exit-codes.js';

export interface Ctx {
  conn: ConnectionOpts;
  json: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function makeCtx(flags: { domain?: string; 'api-key'?: string; json?: boolean }): Ctx {
  return {
    conn: { domain: flags.domain, apiKey: flags['api-key'] },
    json: !!flags.json,
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  };
}

/** Parses repeated `K=V` flags into a map. */
export function keyValues(values: string[] | undefined, flag: string): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`--${flag} expects KEY=VALUE, got '${v}'`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** A simple aligned table. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
