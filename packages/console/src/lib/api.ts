/**
 * How the console talks to the server: the `tensor-box` SDK for what it wraps (sandboxes, files, commands, metrics,
 * logs, snapshots) and a typed REST client (types generated from spec/openapi.yaml, exported by the SDK) for the rest
 * (templates and builds, WebSocket tokens, lifecycle details). Same origin as the server, so agent calls go through its
 * header routing. REST errors become the SDK's error classes (its `fromHttp`).
 */
import createClient from 'openapi-fetch';
import { Sandbox, SandboxError, fromHttp, type ApiComponents, type ApiPaths, type ConnectionOpts } from 'tensor-box';
import { getApiKey } from './auth';

export type Schemas = ApiComponents['schemas'];

/** SDK connection options for the signed-in key. */
export function conn(): ConnectionOpts {
  return { domain: location.origin, apiKey: getApiKey() ?? '', requestTimeoutMs: 60_000 };
}

/** The REST client (X-API-Key on every call). */
export function rest() {
  return createClient<ApiPaths>({ baseUrl: location.origin, headers: { 'X-API-Key': getApiKey() ?? '' } });
}

/** Unwraps an openapi-fetch result or throws the error the server described. */
export function ok<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (!r.response.ok) throw fromHttp(r.response.status, r.error);
  return r.data as T;
}

/**
 * A handle on a running sandbox for agent calls (files, commands, getHost). `timeoutMs: 0` so that looking at a
 * sandbox never extends its life: connect only ever extends, and now + 0 is never later than its end.
 */
export async function attach(sandboxId: string): Promise<Sandbox> {
  return Sandbox.connect(sandboxId, { ...conn(), timeoutMs: 0 });
}

/** A short-lived token for the terminal WebSocket (browsers cannot send X-API-Key on an upgrade). */
export async function wsToken(sandboxId: string): Promise<string> {
  const r = await rest().POST('/sandboxes/{sandboxID}/ws-token', { params: { path: { sandboxID: sandboxId } } });
  return ok(r).token;
}

/** Message of any error, for the page. */
export function errorMessage(err: unknown): string {
  if (err instanceof SandboxError || err instanceof Error) return err.message;
  return String(err);
}
