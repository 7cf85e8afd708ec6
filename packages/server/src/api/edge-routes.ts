/**
 * The routes beside the REST table (api/routes.ts) — not operations of spec/openapi.yaml: file transfers proxied to
 * a sandbox's agent, volume content (raw bytes), the terminal and directory-watch WebSockets, the server's Prometheus
 * metrics. Each row says who may call it (`EdgeAuth`, http/edge-route.ts); app.ts binds a handler to each name and
 * matches these rows, in this order, before the REST table (the sandbox ingress by header or host name comes first).
 */
import { edgeRow } from '../http/edge-route.js';

export const EDGE_ROUTES = {
  /** Prometheus text of the server's own metrics: they span every team. */
  metrics: edgeRow('http', 'GET', '/metrics', 'admin'),
  /** E2B's signed file URLs without a sandbox in the path: the signature names it (ingress/signed-files.ts). */
  signedFiles: edgeRow('http', '*', '/files', 'signed-url'),
  volumeDir: edgeRow('http', '*', '/volumecontent/{volumeID}/dir', 'volume-token'),
  volumePath: edgeRow('http', '*', '/volumecontent/{volumeID}/path', 'volume-token'),
  volumeFile: edgeRow('http', '*', '/volumecontent/{volumeID}/file', 'volume-token'),
  /** Download/upload links that work without DNS set-up, forwarded to the agent's /files. */
  filesLink: edgeRow('http', '*', '/sandboxes/{sandboxID}/files', 'key-token-or-agent'),
  pty: edgeRow('upgrade', '*', '/sandboxes/{sandboxID}/pty', 'key-or-token'),
  watch: edgeRow('upgrade', '*', '/sandboxes/{sandboxID}/files/watch', 'key-or-token'),
};
