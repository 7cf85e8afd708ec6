/**
 * Who may send traffic into a sandbox through the ingress, decided before anything reaches it (or wakes it):
 * - user ports of a sandbox created with `network.allowPublicTraffic: false` need the header `e2b-traffic-access-token`
 *   with the sandbox's traffic access token (E2B's rule); public ones are open, like E2B's;
 * - the agent port of a secure sandbox needs its access token (`X-Access-Token`) or, for `/files`, a signature (the
 *   agent verifies both again; here they only decide whether the request may wake a paused sandbox or reach the agent).
 * Tokens are compared in constant time. Also applies `network.maskRequestHost` to the forwarded Host header.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { ENVD_PORT } from '../constants.js';
import { ApiError } from '../errors.js';
import type { SandboxRecord } from '../store/store.js';
import type { IngressTarget } from './route.js';

export const TRAFFIC_TOKEN_HEADER = 'e2b-traffic-access-token';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time string equality (length is not secret: tokens have a fixed length). */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Throws unless the request may reach `target` of sandbox `s`. `url` is the request's path and query. */
export function admitTraffic(s: SandboxRecord, target: IngressTarget, headers: IncomingHttpHeaders, url: string): void {
  if (target.port === ENVD_PORT) {
    if (!s.envdAccessToken) return;
    if (sameToken(header(headers, 'x-access-token'), s.envdAccessToken)) return;
    // Signed file URLs carry no token: the agent checks the signature.
    if (/^\/files\?/.test(url) && new URLSearchParams(url.slice(url.indexOf('?'))).has('signature')) return;
    if (/^\/health(\?|$)/.test(url)) return;
    throw new ApiError('unauthenticated', `sandbox ${s.sandboxId} requires its access token (X-Access-Token header)`);
  }
  const token = s.network?.trafficAccessToken;
  if (s.network?.allowPublicTraffic !== false || !token) return;
  if (!sameToken(header(headers, TRAFFIC_TOKEN_HEADER), token)) {
    throw new ApiError(
      'permission_denied',
      `sandbox ${s.sandboxId} does not allow public traffic: send its traffic access token in the ` +
        `${TRAFFIC_TOKEN_HEADER} header`,
    );
  }
}

/** Forwarded headers for the sandbox: without the traffic token, with the Host the sandbox asked for (`${PORT}`). */
export function sandboxHeaders(
  s: SandboxRecord,
  target: IngressTarget,
  headers: OutgoingHttpHeaders,
): OutgoingHttpHeaders {
  delete headers[TRAFFIC_TOKEN_HEADER];
  const mask = s.network?.maskRequestHost;
  if (mask && target.port !== ENVD_PORT) headers.host = mask.replaceAll('${PORT}', String(target.port));
  return headers;
}
