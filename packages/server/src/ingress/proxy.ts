/**
 * The sandbox ingress: forwards HTTP requests (including streams) and WebSocket/upgrade connections to a port inside a
 * sandbox, at the address the runtime reported, over the sandbox's pooled connections (envd/connections.ts).
 *
 * Requests never carry the caller's API key into the sandbox, and the agent's internal routes are refused.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../errors.js';
import type { SandboxRecord } from '../store/store.js';
import { ENVD_PORT } from '../constants.js';
import { isConnectStream, relayConnectStream } from './connect-stream.js';
import { isPublicEnvdPath, type IngressTarget } from './route.js';
import { admitTraffic, sandboxHeaders } from './access.js';
import { sandboxConnections } from '../envd/connections.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-api-key',
]);

export interface IngressDeps {
  /**
   * Finds the running sandbox for a target, or throws an ApiError. `admit` sees the record first and throws when the
   * caller may not reach it; only an admitted request wakes a paused sandbox (when policy allows and `wake` is not
   * false).
   */
  lookup(target: IngressTarget, opts: { wake?: boolean; admit: (s: SandboxRecord) => void }): Promise<SandboxRecord>;
  /** Activity hook (inactivity timeout). */
  touch(s: SandboxRecord): void;
  /** The running sandbox of this node whose agent token signed a `/files` URL (signed-files.ts), if any. */
  signedFilesSandbox(query: URLSearchParams, op: 'read' | 'write'): Promise<string | undefined>;
}

/** The sandbox's pooled connections (envd/connections.ts): its lifecycle ends them, a resumed sandbox gets new ones. */
function agentFor(s: SandboxRecord): http.Agent | false {
  return sandboxConnections.agent({ sandboxId: s.sandboxId, ...s.runtime! });
}

/** @deprecated Pools follow the driver's lifecycle calls now (envd/driver-watch.ts); kept for old callers. */
export function forgetAddress(address: string): void {
  sandboxConnections.forgetAddress(address);
}

function checkPath(target: IngressTarget, url: string) {
  if (target.port === ENVD_PORT && !isPublicEnvdPath(url)) {
    throw new ApiError('permission_denied', `path ${url.split('?')[0]} of the sandbox agent is internal`);
  }
}

function forwardHeaders(req: IncomingMessage): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  out['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  return out;
}

/** E2B's edge answer for a running sandbox whose port does not accept connections (the SDKs match the wording). */
function portClosed(target: IngressTarget, detail: string) {
  return {
    code: 502,
    sandboxId: target.sandboxId,
    port: target.port,
    message: `The sandbox is running but port is not open (port ${target.port}: ${detail})`,
    error_code: 'unavailable',
  };
}

export async function proxyHttp(
  deps: IngressDeps,
  target: IngressTarget,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  checkPath(target, req.url ?? '/');
  // Liveness probes (isRunning) are not activity: they neither keep an idle sandbox from timing out nor wake a paused
  // one.
  const probe = target.port === ENVD_PORT && /^\/health(\?|$)/.test(req.url ?? '');
  const s = await deps.lookup(target, {
    wake: !probe,
    admit: (rec) => admitTraffic(rec, target, req.headers, req.url ?? '/'),
  });
  if (!probe) deps.touch(s);
  const address = s.runtime!.address;
  await new Promise<void>((resolve) => {
    const upstream = http.request(
      {
        host: address,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: sandboxHeaders(s, target, forwardHeaders(req)),
        agent: agentFor(s),
      },
      (up) => {
        const headers = { ...up.headers };
        delete headers.connection;
        delete headers['keep-alive'];
        delete headers['transfer-encoding'];
        res.writeHead(up.statusCode ?? 502, headers);
        res.flushHeaders();
        if (target.port === ENVD_PORT && isConnectStream(up.headers['content-type'])) {
          void relayConnectStream(up, res, target.sandboxId).then(resolve);
          return;
        }
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify(portClosed(target, err.message)));
      } else res.destroy();
      resolve();
    });
    // A client that goes away aborts the upstream request, so the sandbox sees the disconnect (envd keeps the process).
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
}

/**
 * Forwards an upgrade request (WebSocket or other). The request goes upstream as an ordinary HTTP request; raw bytes
 * flow both ways only after the sandbox answered `101 Switching Protocols`. Any other answer is relayed as a response
 * and the connection is closed — so bytes a client sends after the head (e.g. a second, smuggled request to an
 * internal route) never reach the sandbox on a connection that was not upgraded.
 */
export async function proxyUpgrade(
  deps: IngressDeps,
  target: IngressTarget,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  checkPath(target, req.url ?? '/');
  const s = await deps.lookup(target, { admit: (rec) => admitTraffic(rec, target, req.headers, req.url ?? '/') });
  deps.touch(s);
  const headers = sandboxHeaders(s, target, forwardHeaders(req));
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? 'websocket';
  const upstream = http.request({
    host: s.runtime!.address,
    port: target.port,
    method: req.method,
    path: req.url,
    headers,
    agent: agentFor(s),
  });
  const close = () => socket.destroy();
  socket.on('error', close);
  upstream.on('upgrade', (res, upSocket, upHead) => {
    upSocket.setNoDelay(true);
    socket.write(responseHead(res, 101));
    if (upHead.length) socket.write(upHead);
    if (head.length) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    const both = () => {
      upSocket.destroy();
      socket.destroy();
    };
    upSocket.on('error', both);
    upSocket.on('close', both);
    socket.on('close', both);
  });
  upstream.on('response', (res) => {
    // Not upgraded: relay the answer, then close; nothing the client sent beyond the request head is forwarded.
    socket.write(responseHead(res, res.statusCode ?? 502, true));
    res.pipe(socket);
    res.on('error', close);
  });
  upstream.on('error', (err) => {
    const body = JSON.stringify(portClosed(target, err.message));
    socket.end(
      `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ` +
        `${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  upstream.end();
}

/** The status line and headers of an upstream answer, as raw bytes for the client's socket. */
function responseHead(res: IncomingMessage, status: number, closing = false): string {
  const lines = [`HTTP/1.1 ${status} ${res.statusMessage || http.STATUS_CODES[status] || ''}`];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i].toLowerCase();
    if (closing && (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding')) continue;
    lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  }
  if (closing) lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}
