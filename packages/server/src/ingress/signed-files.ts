/**
 * Signed file URLs that name no sandbox. With `E2B_SANDBOX_URL` set, the stock SDKs' `downloadUrl`/`uploadUrl` are
 * `<E2B_SANDBOX_URL>/files?path=…&username=…&signature=v1_…[&signature_expiration=…]`: a plain URL (for a
 * browser or curl) without the routing headers. The signature is sha256 over the path, the operation, the user, the
 * sandbox's agent token and the expiry, so exactly one sandbox's token makes it: the sandbox is the running one whose
 * token reproduces the signature (constant-time compare). Nothing is reachable without a valid signature, and the agent
 * checks it again (and the expiry) when the request arrives.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface SignedCandidate {
  sandboxId: string;
  envdAccessToken?: string;
}

/** E2B's signature: "v1_" + unpadded base64(sha256("<path>:<op>:<user>:<token>[:<expiration>]")). */
export function fileSignature(path: string, op: 'read' | 'write', user: string, token: string, expiration?: string) {
  const raw = [path, op, user, token, ...(expiration !== undefined ? [expiration] : [])].join(':');
  return 'v1_' + createHash('sha256').update(raw).digest('base64').replace(/=+$/, '');
}

/** The operation a /files request needs a signature for; undefined for other methods. */
export function filesOperation(method: string | undefined): 'read' | 'write' | undefined {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST') return 'write';
  return undefined;
}

/** The sandbox whose token made the URL's signature, if any. */
export function signedFilesSandbox(
  query: URLSearchParams,
  op: 'read' | 'write',
  candidates: SignedCandidate[],
): string | undefined {
  const sig = query.get('signature');
  if (!sig) return undefined;
  const given = Buffer.from(sig);
  const path = query.get('path') ?? '';
  const user = query.get('username') ?? '';
  const exp = query.get('signature_expiration') ?? undefined;
  let found: string | undefined;
  for (const c of candidates) {
    if (!c.envdAccessToken) continue;
    const want = Buffer.from(fileSignature(path, op, user, c.envdAccessToken, exp));
    // Every candidate is compared in full, so the time taken says nothing about which one (if any) matched.
    if (want.length === given.length && timingSafeEqual(want, given)) found ??= c.sandboxId;
  }
  return found;
}
