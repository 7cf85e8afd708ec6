/**
 * Which sandbox port a request is for. Three spellings are accepted:
 *  - headers `E2b-Sandbox-Id` + `E2b-Sandbox-Port` (E2B's SDKs, and ours, when the API URL is an IP or localhost);
 *  - host `<sandboxId>-<port>.<domain>` (the seeds' getHost);
 *  - host `<port>-<sandboxId>.<domain>` (E2B's getHost).
 * Sandbox IDs start with a letter, so the port side (all digits) is unambiguous.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { invalid } from '../errors.js';
import { ENVD_HTTP_ROUTES, ENVD_RPC_SERVICES } from '../envd/spec.gen.js';

export interface IngressTarget {
  sandboxId: string;
  port: number;
}

const ID = /^[a-z][a-z0-9]{3,63}$/;
const PORT = /^\d{1,5}$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A TCP port a sandbox can listen on; anything else (0, 99999, words) is the caller's mistake (400). */
function sandboxPort(text: string): number {
  const port = PORT.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw invalid(`sandbox port '${text}' is not a TCP port (1-65535)`);
  return port;
}

/** The sandbox port a request is for, or undefined when it is not for a sandbox; throws 400 for a bad port. */
export function ingressTarget(headers: IncomingHttpHeaders): IngressTarget | undefined {
  const id = header(headers, 'e2b-sandbox-id');
  const port = header(headers, 'e2b-sandbox-port');
  if (id && port !== undefined) return { sandboxId: id, port: sandboxPort(port) };

  const host = header(headers, 'host');
  if (!host) return undefined;
  const label = host.split('.')[0];
  if (label === host || !label.includes('-')) return undefined;
  const dash = label.indexOf('-');
  const a = label.slice(0, dash);
  const b = label.slice(dash + 1);
  if (ID.test(a) && PORT.test(b)) return { sandboxId: a, port: sandboxPort(b) };
  if (PORT.test(a) && ID.test(b)) return { sandboxId: b, port: sandboxPort(a) };
  return undefined;
}

/**
 * The agent-port paths that may be reached from outside, generated from spec/envd (envd/spec.gen.ts): envd's HTTP
 * paths not marked `x-internal` (any method: envd answers 405 itself; the generator refuses a path whose methods
 * differ in this) and its Connect-RPC services. Everything else on the agent port — /init, /quiesce, and any path
 * the spec does not list — is internal: default deny.
 */
const publicPaths = new Set(ENVD_HTTP_ROUTES.filter((r) => !r.internal).map((r) => r.path));
const ENVD_PUBLIC: readonly RegExp[] = [
  ...ENVD_RPC_SERVICES.map((svc) => new RegExp(`^/${escape(svc)}/`)),
  ...[...publicPaths].map((p) => new RegExp(`^${escape(p)}(\\?|$)`)),
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function isPublicEnvdPath(url: string): boolean {
  return ENVD_PUBLIC.some((r) => r.test(url));
}
