/**
 * Connection options shared by every call: where the server is and how to authenticate.
 */

export interface ConnectionOpts {
  /** Control-plane URL, e.g. `https://app.tos.run` or `http://127.0.0.1:3000`. Default: env `TENSOR_BOX_DOMAIN`. */
  domain?: string;
  /** API key (`e2b_…`). Default: env `TENSOR_BOX_API_KEY`. */
  apiKey?: string;
  /** Timeout of each control-plane request in ms (default 60 000; 0 = none). */
  requestTimeoutMs?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

export interface ResolvedConnection {
  apiUrl: string;
  apiKey: string;
  requestTimeoutMs: number;
  headers: Record<string, string>;
}

const env = (name: string): string | undefined =>
  typeof process !== 'undefined' && process.env ? process.env[name] || undefined : undefined;

/** Turns `domain` (URL or bare host) into the API base URL: bare local hosts get http, others https. */
export function apiUrlFromDomain(domain: string): string {
  if (/^https?:\/\//.test(domain)) return domain.replace(/\/+$/, '');
  const host = domain.replace(/\/+$/, '');
  const local = /^(localhost|127\.|\[::1\]|0\.0\.0\.0)/.test(host) || /^\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(host);
  return `${local ? 'http' : 'https'}://${host}`;
}

export function resolveConnection(opts: ConnectionOpts = {}): ResolvedConnection {
  const domain = opts.domain ?? env('TENSOR_BOX_DOMAIN') ?? 'http://127.0.0.1:3000';
  const apiKey = opts.apiKey ?? env('TENSOR_BOX_API_KEY') ?? '';
  return {
    apiUrl: apiUrlFromDomain(domain),
    apiKey,
    requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    headers: opts.headers ?? {},
  };
}
