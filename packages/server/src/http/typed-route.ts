/**
 * Typed rows of the REST route table, from the generated OpenAPI `paths` (@tensor-box/generated/api):
 * `op('POST', '/sandboxes/{sandboxID}/timeout', (c) => …)` compiles only if spec/openapi.yaml has that path and
 * method, and its handler gets the spec's types for the path parameters, the query and the JSON body — what app.ts
 * validated against the same spec before calling it. A route the spec lacks, or a handler reading a field the spec
 * does not define, is a compile error instead of an `any` (typed-route.test.ts runs the compiler on such rows).
 */
import type { paths } from '@tensor-box/generated/api';
import type { Reply, RequestContext, Route } from './router.js';

type Method = Route['method'];
type Path = keyof paths;

/** The spec's operation for a path and method (`never` when the spec has none). */
type Operation<P extends Path, M extends Method> =
  Lowercase<M> extends keyof paths[P] ? Exclude<paths[P][Lowercase<M>], undefined> : never;

/** Paths that have an operation for method M. */
export type PathsFor<M extends Method> = { [P in Path]: [Operation<P, M>] extends [never] ? never : P }[Path];

type JsonOf<C> = C extends { 'application/json': infer B } ? B : unknown;
/** The JSON body: required when the spec says so, else possibly undefined; `undefined` when it has none. */
type BodyOf<O> = O extends { requestBody: { content: infer C } }
  ? JsonOf<C>
  : O extends { requestBody?: { content: infer C } }
    ? JsonOf<C> | undefined
    : undefined;
type Part<O, K extends string> = O extends { parameters: { [k in K]?: infer X } }
  ? [X] extends [never]
    ? Record<string, never>
    : NonNullable<X>
  : Record<string, never>;

/** What a handler of `M P` receives. */
export interface OpContext<P extends Path, M extends Method> {
  params: Part<Operation<P, M>, 'path'>;
  query: Part<Operation<P, M>, 'query'>;
  body: BodyOf<Operation<P, M>>;
  req: RequestContext['req'];
}

export type OpHandler<P extends Path, M extends Method> = (c: OpContext<P, M>) => Promise<Reply> | Reply;

/** One row of the route table, checked against the spec. */
export function op<M extends Method, P extends PathsFor<M>>(
  method: M,
  path: P,
  handler: OpHandler<P, M>,
  opts: { auth?: boolean; rawBody?: boolean } = {},
): Route {
  // The one place the typed handler meets the untyped request: app.ts validated params, query and body by this
  // operation of the spec before calling, so the context has the shape the handler was typed with.
  return { method, path, ...opts, handler: (c) => handler(c as unknown as OpContext<P, M>) };
}
