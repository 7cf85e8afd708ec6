/**
 * Node-to-node trust: a request one node forwards to another carries two headers — the forwarding node's ID (the
 * hop mark) and the cluster secret (`TENSOR_BOX_CLUSTER_SECRET`, the same on every node). A request with a hop mark
 * but without the right secret is refused (401) before anything else looks at it; a verified request is marked (in
 * memory) and both headers are removed at once, so neither the rest of the server nor a sandbox the request goes on to
 * (ingress) ever sees the secret. The mark grants nothing but "serve this here, do not forward it again": the owner
 * authenticates the original caller's API key or token as for any request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.js';

export const HOP_HEADER = 'x-tensor-box-forwarded-by';
export const SECRET_HEADER = 'x-tensor-box-cluster-secret';

const forwarded = new WeakMap<IncomingMessage, string>();

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `given` is the secret (constant time, whatever their lengths). */
export function secretMatches(secret: string, given: string | string[] | undefined): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(secret), digest(given));
}

/**
 * Checks and strips the node-to-node headers of an incoming request. Returns the forwarding node's ID (undefined:
 * a client's request). Throws 401 for a hop mark or a secret header without the right secret.
 */
export function acceptHop(req: IncomingMessage, secret: string | undefined): string | undefined {
  const known = forwarded.get(req);
  if (known !== undefined) return known;
  const by = req.headers[HOP_HEADER];
  const given = req.headers[SECRET_HEADER];
  delete req.headers[HOP_HEADER];
  delete req.headers[SECRET_HEADER];
  if (by === undefined && given === undefined) return undefined;
  if (!secret || !secretMatches(secret, given) || typeof by !== 'string' || !by) {
    throw new ApiError('unauthenticated', 'a forwarded request needs the cluster secret of this cluster');
  }
  forwarded.set(req, by);
  return by;
}

/** The headers a node adds to a request it forwards. */
export function hopHeaders(nodeId: string, secret: string): Record<string, string> {
  return { [HOP_HEADER]: nodeId, [SECRET_HEADER]: secret };
}
