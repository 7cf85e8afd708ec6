/**
 * The REST client: openapi-fetch over the types generated from spec/openapi.yaml, with the API key header, request
 * timeouts, and the one mapping of HTTP errors to SDK errors.
 */
import createClient, { type Client } from 'openapi-fetch';
import { AuthenticationError, fromHttp } from '../errors.js';
import type { ResolvedConnection } from '../connection.js';
import type { paths } from './schema.gen.js';

export type ApiClient = Client<paths>;

export function apiClient(conn: ResolvedConnection): ApiClient {
  if (!conn.apiKey) throw new AuthenticationError('no API key: pass apiKey or set TENSOR_BOX_API_KEY');
  return createClient<paths>({
    baseUrl: conn.apiUrl,
    headers: { 'X-API-Key': conn.apiKey, ...conn.headers },
    fetch: (req: Request) =>
      fetch(req, conn.requestTimeoutMs ? { signal: AbortSignal.timeout(conn.requestTimeoutMs) } : {}),
  });
}

/** Unwraps an openapi-fetch result: the data, or the mapped SDK error. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }, context = ''): T {
  if (!r.response.ok) throw fromHttp(r.response.status, r.error, context);
  return r.data as T;
}
