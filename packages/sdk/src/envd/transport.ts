/**
 * How the SDK reaches a sandbox's agent (envd): through the control plane's ingress at the API URL, routed by the
 * `E2b-Sandbox-Id`/`E2b-Sandbox-Port` headers (so no wildcard DNS is needed), with the sandbox's access token and the
 * acting user.
 */
import { createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import type { DescService } from '@bufbuild/protobuf';

import { ENVD_PORT } from './port.gen.js';

export { ENVD_PORT };

export interface EnvdTarget {
  apiUrl: string;
  sandboxId: string;
  accessToken?: string;
  headers?: Record<string, string>;
}

/** Headers every envd call carries. */
export function envdHeaders(t: EnvdTarget, user?: string): Record<string, string> {
  const h: Record<string, string> = {
    'E2b-Sandbox-Id': t.sandboxId,
    'E2b-Sandbox-Port': String(ENVD_PORT),
    ...(t.headers ?? {}),
  };
  if (t.accessToken) h['X-Access-Token'] = t.accessToken;
  if (user) h.Authorization = `Basic ${btoa(`${user}:`)}`;
  return h;
}

export function envdClient<T extends DescService>(service: T, t: EnvdTarget): Client<T> {
  const headers: Interceptor = (next) => async (req) => {
    for (const [k, v] of Object.entries(envdHeaders(t))) if (!req.header.has(k)) req.header.set(k, v);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: t.apiUrl, useBinaryFormat: false, interceptors: [headers] });
  return createClient(service, transport);
}

/** Header to run an RPC as `user`; none means the sandbox's default user (its template's, `user` for `default`). */
export const userHeader = (user?: string): Record<string, string> =>
  user ? { Authorization: `Basic ${btoa(`${user}:`)}` } : {};
