/**
 * The edge route table: the routes that are not REST operations of spec/openapi.yaml — proxied file transfers, raw
 * volume content, WebSocket upgrades, Prometheus — declared like the REST rows (typed-route.ts): a method, a path in
 * the spec's `{param}` syntax, and who may call it (`EdgeAuth`), as data (api/edge-routes.ts). app.ts binds one
 * handler to each row by name (`EdgeHandlers`: a missing handler, or one reading a parameter its path lacks or a
 * caller its auth does not give, is a compile error) and runs the row's auth check (`authorizeEdge`) before it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../errors.js';
import type { Authenticator } from '../teams/authenticate.js';
import type { Caller } from '../teams/caller.js';
import { compilePath, type Route } from './router.js';

/**
 * Who may call an edge route. The first three are checked by `authorizeEdge` before the handler runs; the last two
 * name a credential only the handler can check, and it does so first.
 * - `admin`: the admin API key (401 without a valid key, 403 for a team's key).
 * - `key-or-token`: a token from `POST /sandboxes/{id}/ws-token` for this sandbox (`?token=`), else an API key (401).
 * - `key-token-or-agent`: a `?token=` as above (401 when it is not valid) or an `X-API-Key` (401 when not valid);
 *   with neither, no caller: the sandbox's agent checks its own access token or the URL's signature.
 * - `signed-url`: no key; the URL's signature, made with the sandbox's access token (ingress/signed-files.ts).
 * - `volume-token`: the volume's token (`Bearer`) or an API key (api/volume-content-routes.ts).
 */
export type EdgeAuth = 'admin' | 'key-or-token' | 'key-token-or-agent' | 'signed-url' | 'volume-token';

/** One row: `http` requests, or `upgrade` requests (WebSockets); `method` '*' matches any. */
export interface EdgeRow<P extends string = string, A extends EdgeAuth = EdgeAuth> {
  kind: 'http' | 'upgrade';
  method: Route['method'] | '*';
  path: P;
  auth: A;
}

/** The `{name}` parameters of a path template, as strings. */
export type PathParams<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? { [K in N]: string } & PathParams<Rest>
  : unknown;

/** The caller a handler receives: checked before it runs, possibly absent, or none (the handler checks). */
type CallerFor<A extends EdgeAuth> = A extends 'admin' | 'key-or-token'
  ? Caller
  : A extends 'key-token-or-agent'
    ? Caller | undefined
    : undefined;

/** What a handler receives: its path's parameters (`PathParams`), the caller its auth check found, the request. */
export interface EdgeContext<Params, A extends EdgeAuth> {
  params: Params;
  caller: CallerFor<A>;
  url: URL;
  req: IncomingMessage;
}

/** The handler a row takes: it answers on `res` (http) or takes over the socket (upgrade). */
export type EdgeHandler<R> =
  R extends EdgeRow<infer P, infer A>
    ? R['kind'] extends 'upgrade'
      ? (c: EdgeContext<PathParams<P>, A>, socket: Duplex, head: Buffer) => Promise<void>
      : (c: EdgeContext<PathParams<P>, A>, res: ServerResponse) => Promise<void>
    : never;

export type EdgeHandlers<T extends Record<string, EdgeRow>> = { [K in keyof T]: EdgeHandler<T[K]> };

/** A row of the table; `kind` literal so that `EdgeHandler` picks the handler's shape. */
export function edgeRow<K extends EdgeRow['kind'], P extends string, A extends EdgeAuth>(
  kind: K,
  method: EdgeRow['method'],
  path: P,
  auth: A,
): EdgeRow<P, A> & { kind: K } {
  return { kind, method, path, auth };
}

/** A sandbox ID in a path (`{sandboxID}`); anything else does not match the row. */
const SANDBOX_ID = /^[a-z][a-z0-9]+$/;

type AnyHandler = (
  c: EdgeContext<Record<string, string>, EdgeAuth>,
  io: ServerResponse | Duplex,
  head?: Buffer,
) => Promise<void>;

export interface EdgeMatch {
  row: EdgeRow;
  params: Record<string, string>;
  handler: AnyHandler;
}

export class EdgeTable<T extends Record<string, EdgeRow>> {
  private rows: Array<EdgeMatch & { regex: RegExp; names: string[] }>;

  constructor(rows: T, handlers: EdgeHandlers<T>) {
    this.rows = Object.entries(rows).map(([name, row]) => ({
      row,
      params: {},
      handler: handlers[name] as unknown as AnyHandler,
      ...compilePath(row.path),
    }));
  }

  /** The first row of `kind` for this method and path, in table order. */
  match(kind: EdgeRow['kind'], method: string, pathname: string): EdgeMatch | undefined {
    for (const r of this.rows) {
      if (r.row.kind !== kind || (r.row.method !== '*' && r.row.method !== method)) continue;
      const m = r.regex.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = m[i + 1]));
      if (params.sandboxID !== undefined && !SANDBOX_ID.test(params.sandboxID)) continue;
      return { row: r.row, params, handler: r.handler };
    }
    return undefined;
  }
}

/** The caller a request's `X-API-Key` names (401 when it is no key); none without the header. */
export async function headerKeyCaller(auth: Authenticator, req: IncomingMessage): Promise<Caller | undefined> {
  // Only X-API-Key: an Authorization header on sandbox traffic belongs to the app in the sandbox.
  return req.headers['x-api-key'] ? auth.fromRequest(req, { headerOnly: true }) : undefined;
}

/** Runs a row's auth check (`EdgeAuth`); the caller it returns is the handler's `caller`. */
export async function authorizeEdge(
  auth: Authenticator,
  row: EdgeRow,
  req: IncomingMessage,
  url: URL,
  params: Record<string, string>,
): Promise<Caller | undefined> {
  const token = url.searchParams.get('token');
  switch (row.auth) {
    case 'admin': {
      const caller = await auth.fromRequest(req);
      if (!caller.admin) throw new ApiError('permission_denied', `only the admin key can read ${row.path}`);
      return caller;
    }
    case 'key-or-token':
      return (token ? await auth.fromToken(params.sandboxID, token) : undefined) ?? (await auth.fromRequest(req));
    case 'key-token-or-agent': {
      if (!token) return headerKeyCaller(auth, req);
      const caller = await auth.fromToken(params.sandboxID, token);
      if (!caller) {
        throw new ApiError('unauthenticated', "the link's token is invalid, expired or its API key was revoked");
      }
      return caller;
    }
    case 'signed-url':
    case 'volume-token':
      return undefined;
  }
}
