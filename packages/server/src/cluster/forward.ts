/**
 * Forwarding one request to the node that should serve it: the request as it came (method, path, headers — the
 * caller's API key included, the owner checks it — and body) plus the hop headers (hop.ts), the answer relayed as it
 * comes (streams included). Upgrades (WebSockets: terminal, watch, a sandbox's own) are relayed byte for byte once the
 * owner answered 101. A node that does not answer is a 503 naming it.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, toHttpError } from '../errors.js';
import { hopHeaders } from './hop.js';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface ForwardTarget {
  nodeId: string;
  /** The node's internal URL (`http://10.0.0.2:3000`). */
  address: string;
}

export interface Forwarder {
  /** This node's ID (the hop mark). */
  nodeId: string;
  secret: string;
}

function requestTo(from: Forwarder, to: ForwardTarget, req: IncomingMessage, extra: http.OutgoingHttpHeaders = {}) {
  const url = new URL(to.address);
  return http.request({
    host: url.hostname,
    port: url.port || 80,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, ...extra, ...hopHeaders(from.nodeId, from.secret) },
    agent: extra.upgrade ? false : agent,
  });
}

const unreachable = (to: ForwardTarget, err: Error) =>
  new ApiError('unavailable', `node '${to.nodeId}' (${to.address}) did not answer: ${err.message}`);

/** Forwards an HTTP request and relays the answer; resolves when the answer is complete or either side went away. */
export function forwardHttp(from: Forwarder, to: ForwardTarget, req: IncomingMessage, res: ServerResponse) {
  return new Promise<void>((resolve) => {
    const upstream = requestTo(from, to, req);
    upstream.on('response', (up) => {
      const headers = { ...up.headers };
      delete headers.connection;
      delete headers['keep-alive'];
      delete headers['transfer-encoding'];
      res.writeHead(up.statusCode ?? 502, headers);
      res.flushHeaders();
      up.pipe(res);
      up.on('end', resolve);
      up.on('error', () => (res.destroy(), resolve()));
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        const { status, body } = toHttpError(unreachable(to, err));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      } else res.destroy();
      resolve();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      resolve();
    });
    req.pipe(upstream);
  });
}

function head(res: IncomingMessage, status: number): string {
  const lines = [`HTTP/1.1 ${status} ${res.statusMessage ?? http.STATUS_CODES[status] ?? ''}`];
  for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Forwards an upgrade request; after the owner's 101 bytes flow both ways until either side closes. */
export function forwardUpgrade(from: Forwarder, to: ForwardTarget, req: IncomingMessage, socket: Duplex, buf: Buffer) {
  const upstream = requestTo(from, to, req, {
    connection: 'Upgrade',
    upgrade: req.headers.upgrade ?? 'websocket',
  });
  socket.on('error', () => upstream.destroy());
  upstream.on('upgrade', (res, upSocket, upHead) => {
    upSocket.setNoDelay(true);
    socket.write(head(res, 101));
    if (upHead.length) socket.write(upHead);
    if (buf.length) upSocket.write(buf);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    const both = () => (upSocket.destroy(), socket.destroy());
    upSocket.on('error', both);
    upSocket.on('close', both);
    socket.on('close', both);
  });
  upstream.on('response', (res) => {
    // Refused by the owner: relay its answer and close (bytes after the head are never forwarded).
    const lines = head(res, res.statusCode ?? 502).replace(/\r\n\r\n$/, '\r\nconnection: close\r\n\r\n');
    socket.write(lines);
    res.pipe(socket);
  });
  upstream.on('error', (err) => {
    const { status, body } = toHttpError(unreachable(to, err));
    const data = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ` +
        `${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`,
    );
  });
  upstream.end();
}
