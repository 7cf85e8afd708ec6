/**
 * A tiny router: a table of `{method, path, handler}` where paths use the spec's `{param}` syntax. The route's path is
 * also the key of its operation in spec/openapi.yaml, which validates its body and query; rows are written with `op()`
 * (typed-route.ts), which types each handler by that operation.
 */
import type { IncomingMessage } from 'node:http';

/** A request as the table sees it: validated against the spec, typed per row by typed-route.ts. */
export interface RequestContext {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  req: IncomingMessage;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path template as in the spec, e.g. `/sandboxes/{sandboxID}`. */
  path: string;
  /** Requires the API key (default true). */
  auth?: boolean;
  /** The handler reads the request body itself (uploads); it is not parsed as JSON. */
  rawBody?: boolean;
  handler(ctx: RequestContext): Promise<Reply> | Reply;
}

/** A path template (`/sandboxes/{sandboxID}`) as a regex with one group per parameter, and the parameters' names. */
export function compilePath(path: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}|\{(\w+)\}/g, (_m, a, b) => {
    names.push(a ?? b);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${pattern}$`), names };
}

interface Compiled {
  route: Route;
  regex: RegExp;
  names: string[];
}

export class Router {
  private compiled: Compiled[];

  constructor(routes: Route[]) {
    this.compiled = routes.map((route) => ({ route, ...compilePath(route.path) }));
    // Literal segments win over parameters (`/sandboxes/metrics` before `/sandboxes/{sandboxID}`).
    this.compiled.sort((a, b) => a.names.length - b.names.length);
  }

  /** The route for a method and path; `methodNotAllowed` when the path exists under another method. */
  match(
    method: string,
    pathname: string,
  ): { route: Route; params: Record<string, string> } | 'methodNotAllowed' | undefined {
    let pathMatched = false;
    for (const c of this.compiled) {
      const m = c.regex.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { route: c.route, params };
    }
    return pathMatched ? 'methodNotAllowed' : undefined;
  }
}
