/**
 * The HTTP front door: one listener for the REST API, the sandbox ingress (by header or host name) and the web
 * console. Decides which of those a request is for, authenticates API calls, parses and validates JSON, and turns every
 * thrown error into an E2B-style `{code, message}` body.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from './teams/authenticate.js';
import { withCaller, type Caller } from './teams/caller.js';
import type { KeyWatch } from './teams/key-watch.js';
import { RateLimited } from './teams/rate-limit.js';
import { ApiError, invalid, toHttpError } from './errors.js';
import { OpenApi } from './http/openapi.js';
import { createApiDocs } from './http/api-docs.js';
import { Router, type Route } from './http/router.js';
import { ingressTarget, type IngressTarget } from './ingress/route.js';
import { proxyHttp, proxyUpgrade, type IngressDeps } from './ingress/proxy.js';
import { filesOperation } from './ingress/signed-files.js';
import { VOLUME_CONTENT_PATH } from './api/volume-content-routes.js';
import { EDGE_ROUTES } from './api/edge-routes.js';
import { authorizeEdge, EdgeTable, headerKeyCaller, type EdgeContext, type EdgeMatch } from './http/edge-route.js';
import { ENVD_PORT } from './constants.js';
import { WebSocketServer } from 'ws';
import type { SandboxRecord } from './store/store.js';
import { handlePty } from './ws/pty.js';
import { handleWatch } from './ws/watch.js';
import type { Metrics } from './http/prometheus.js';
import type { StaticSite } from './http/static.js';

/** Largest client frame (terminal input): bigger frames close the socket instead of being buffered. */
const MAX_WS_FRAME = 1 << 20;

const MAX_JSON_BYTES = 1 << 20;

export interface AppOptions {
  /** Turns a request's key or token into the caller (teams/authenticate.ts). */
  auth: Authenticator;
  /** Connections opened with a key, closed when it is revoked. */
  keyWatch: KeyWatch;
  routes: Route[];
  ingress: IngressDeps;
  metrics: Metrics;
  /** The running sandbox for a control-plane WebSocket or a files link of an API caller (throws ApiError otherwise). */
  sandboxForSocket(sandboxId: string): Promise<SandboxRecord>;
  openapi?: OpenApi;
  /**
   * Cluster mode (cluster/gate.ts): sees every request first and serves it by forwarding it to another node (true), or
   * leaves it to this one (false).
   */
  cluster?: {
    http(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean>;
  };
  /** The volume content API (api/volume-content-routes.ts): `/volumecontent/{volumeID}/dir|path|file`. */
  volumeContent?: (req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray) => Promise<void>;
  /** The web console, asked for GET/HEAD requests no API route matches. */
  console?: StaticSite;
  log?: (msg: string) => void;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.destroy();
  if (body === undefined || status === 204) {
    // An explicit empty length: clients (openapi-fetch) then do not try to parse a body.
    res.writeHead(status, status === 204 ? headers : { 'content-length': 0, ...headers });
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res: ServerResponse, err: unknown) {
  const { status, body } = toHttpError(err);
  sendJson(res, status, body, err instanceof RateLimited ? { 'retry-after': String(err.retryAfterSec) } : {});
}

/**
 * Errors on a sandbox host (ingress): like E2B's edge, a sandbox that does not exist, is being killed or is paused
 * answers 502 `{sandboxId, message: "The sandbox was not found", code: 502}` (the stock SDKs read a 502 on the agent's
 * /health as "not running", and Python's match the wording); `error_code` (not_found, failed_precondition) keeps the
 * kind for our SDKs, and the message says what to do about a paused one.
 */
function sendIngressError(res: ServerResponse, err: unknown, sandboxId: string) {
  const { status, body } = toHttpError(err);
  if (body.error_code === 'not_found' || body.error_code === 'failed_precondition') {
    const why = body.error_code === 'not_found' ? '' : `: ${body.message}`;
    return sendJson(res, 502, { ...body, code: 502, sandboxId, message: `The sandbox was not found${why}` });
  }
  sendJson(res, status, body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw invalid(`request body is larger than ${MAX_JSON_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw invalid(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function createApp(opts: AppOptions): http.Server {
  const openapi = opts.openapi ?? new OpenApi();
  const router = new Router(opts.routes);
  const docs = createApiDocs(openapi.yaml, openapi.doc);

  /**
   * The ingress needs no API key (the sandbox's traffic/access tokens guard it), but one that is sent must be valid and
   * scopes the lookup: another team's sandbox then answers exactly as a missing one.
   */
  const ingressCaller = (req: IncomingMessage) => headerKeyCaller(opts.auth, req);

  /** Proxies as `caller` (scoped lookup); a stream it opened ends when its key is revoked. */
  const proxyAs = async (
    req: IncomingMessage,
    res: ServerResponse,
    caller: Caller | undefined,
    fn: () => Promise<void>,
  ) => {
    if (!caller) return fn();
    const untrack = opts.keyWatch.track(caller.keyId, () => {
      req.destroy();
      res.destroy();
    });
    res.once('close', untrack);
    return withCaller(caller, fn);
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (match === 'methodNotAllowed')
      throw new ApiError('invalid_argument', `method ${req.method} is not allowed on ${url.pathname}`);
    if (!match) throw new ApiError('not_found', `no route for ${req.method} ${url.pathname}`);
    const caller = match.route.auth !== false ? await opts.auth.fromRequest(req) : undefined;
    return caller ? withCaller(caller, () => dispatch(req, res, url, match)) : dispatch(req, res, url, match);
  };

  type Matched = Exclude<ReturnType<Router['match']>, 'methodNotAllowed' | undefined>;
  const dispatch = async (req: IncomingMessage, res: ServerResponse, url: URL, match: Matched) => {
    const t0 = performance.now();
    res.once('finish', () =>
      opts.metrics.requests.observe(
        { route: match.route.path, method: match.route.method, status: String(res.statusCode) },
        (performance.now() - t0) / 1000,
      ),
    );
    const op = openapi.operation(match.route.method, match.route.path);
    const query = openapi.validateQuery(op, url.searchParams);
    const bodyless = req.method === 'GET' || (req.method === 'DELETE' && !op.body && !op.bodyRequired);
    const noBody = bodyless || match.route.rawBody;
    const raw = noBody ? undefined : await readJson(req);
    const body = !match.route.rawBody && (op.body || op.bodyRequired) ? openapi.validateBody(op, raw) : raw;
    const reply = await match.route.handler({ params: match.params, query, body, req });
    sendJson(res, reply.status, reply.body, reply.headers);
  };

  /** `/files` with no sandbox named: the sandbox whose token signed the URL (ingress/signed-files.ts), else 401. */
  const proxySignedFiles = async ({ req, url }: EdgeContext<unknown, 'signed-url'>, res: ServerResponse) => {
    const op = filesOperation(req.method);
    const ops: Array<'read' | 'write'> = op ? [op] : req.method === 'OPTIONS' ? ['write', 'read'] : [];
    let sandboxId: string | undefined;
    for (const o of ops) sandboxId ??= await opts.ingress.signedFilesSandbox(url.searchParams, o);
    if (!sandboxId) {
      const why = url.searchParams.has('signature') ? 'invalid signature' : 'missing signature query parameter';
      throw new ApiError('unauthenticated', `${why}: /files without a sandbox ID needs a URL signed by the sandbox`);
    }
    const target = { sandboxId, port: ENVD_PORT };
    await proxyHttp(opts.ingress, target, req, res).catch((err) => {
      if (!(err instanceof ApiError)) throw err;
      sendIngressError(res, err, sandboxId);
    });
  };

  /** The server's own metrics (admin only: the row's auth). */
  const serveMetrics = async (_c: unknown, res: ServerResponse) => {
    const text = await opts.metrics.render();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(text);
  };

  /** `/sandboxes/{id}/files`: signed download/upload URLs that work without DNS set-up; forwarded to the agent. */
  const proxyFilesLink = async (c: EdgeContext<{ sandboxID: string }, 'key-token-or-agent'>, res: ServerResponse) => {
    const { req, url, caller } = c;
    const sandboxId = c.params.sandboxID;
    url.searchParams.delete('token');
    req.url = `/files${url.search}`;
    if (caller) {
      // The caller may use this sandbox (its team's, checked by the lookup): the server vouches for it to the agent.
      const s = await withCaller(caller, () => opts.sandboxForSocket(sandboxId));
      if (s.envdAccessToken) req.headers['x-access-token'] = s.envdAccessToken;
    }
    const target = { sandboxId, port: ENVD_PORT };
    await proxyAs(req, res, caller, () => proxyHttp(opts.ingress, target, req, res));
  };

  /** A control-plane WebSocket (terminal, directory watch) on a running sandbox, for a key or a ws-token. */
  const socketRoute =
    (serve: typeof handlePty | typeof handleWatch) =>
    async (c: EdgeContext<{ sandboxID: string }, 'key-or-token'>, socket: Duplex, head: Buffer) => {
      const { req, url, caller } = c;
      const s = await withCaller(caller, () => opts.sandboxForSocket(c.params.sandboxID));
      wss.handleUpgrade(req, socket, head, (ws) => {
        const untrack = opts.keyWatch.track(caller.keyId, () => {
          ws.close(1008, 'API key revoked');
          setTimeout(() => ws.terminate(), 1000).unref();
        });
        ws.once('close', untrack);
        // Protocol errors (e.g. a frame over MAX_WS_FRAME) close the socket with a code; they must not escape.
        ws.on('error', (err) => opts.log?.(`websocket ${url.pathname}: ${err.message}`));
        void serve(ws, s, url.searchParams);
      });
    };

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_FRAME });
  /** The volume content API (its own auth: the row's `volume-token`); without one configured, no such route. */
  const volumeContent = async ({ req, url }: EdgeContext<unknown, 'volume-token'>, res: ServerResponse) => {
    if (!opts.volumeContent) throw new ApiError('not_found', `no route for ${req.method} ${url.pathname}`);
    await opts.volumeContent(req, res, url, VOLUME_CONTENT_PATH.exec(url.pathname)!);
  };

  const edge = new EdgeTable(EDGE_ROUTES, {
    metrics: serveMetrics,
    signedFiles: proxySignedFiles,
    volumeDir: volumeContent,
    volumePath: volumeContent,
    volumeFile: volumeContent,
    filesLink: proxyFilesLink,
    pty: socketRoute(handlePty),
    watch: socketRoute(handleWatch),
  });
  /** Runs an edge row's auth check, then its handler with the caller it found. */
  const runEdge = async (m: EdgeMatch, req: IncomingMessage, url: URL, io: ServerResponse | Duplex, head?: Buffer) => {
    const caller = await authorizeEdge(opts.auth, m.row, req, url, m.params);
    await m.handler({ params: m.params, caller, url, req }, io, head);
  };

  const server = http.createServer(async (req, res) => {
    try {
      if (opts.cluster && (await opts.cluster.http(req, res))) return;
      const target = ingressTarget(req.headers);
      if (target) {
        return await proxyAs(req, res, await ingressCaller(req), () => proxyHttp(opts.ingress, target, req, res)).catch(
          (err) => {
            if (!(err instanceof ApiError)) throw err;
            sendIngressError(res, err, target.sandboxId);
          },
        );
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const edgeRoute = edge.match('http', req.method ?? 'GET', url.pathname);
      if (edgeRoute) return await runEdge(edgeRoute, req, url, res);
      if (docs.serve(req, res, url.pathname)) return;
      if (
        opts.console &&
        !router.match(req.method ?? 'GET', url.pathname) &&
        (await opts.console.serve(req, res, url.pathname))
      )
        return;
      await handleApi(req, res, url);
    } catch (err) {
      if (!(err instanceof ApiError)) opts.log?.(`error on ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      sendError(res, err);
    }
  });

  server.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (opts.cluster && (await opts.cluster.upgrade(req, socket, head))) return;
      const target: IngressTarget | undefined = ingressTarget(req.headers);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const edgeRoute = target ? undefined : edge.match('upgrade', req.method ?? 'GET', url.pathname);
      if (edgeRoute) return await runEdge(edgeRoute, req, url, socket, head);
      if (!target) throw new ApiError('not_found', `no WebSocket route for ${req.url}`);
      const caller = await ingressCaller(req);
      if (!caller) return await proxyUpgrade(opts.ingress, target, req, socket, head);
      const untrack = opts.keyWatch.track(caller.keyId, () => socket.destroy());
      socket.once('close', untrack);
      await withCaller(caller, () => proxyUpgrade(opts.ingress, target, req, socket, head));
    } catch (err) {
      const { status, body } = toHttpError(err);
      const data = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ` +
          `${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`,
      );
    }
  });

  // Command streams can run for hours: no request timeout; idle keep-alive sockets still close.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  return server;
}
