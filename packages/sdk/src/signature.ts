/**
 * Signed file URLs: `v1_` + unpadded base64(sha256("<path>:<read|write>:<user>:<accessToken>[:<expiresUnix>]")),
 * the format E2B's envd verifies. Synchronous (a plain SHA-256), so `downloadUrl`/`uploadUrl` return strings.
 */
import { sha256 } from './sha256.js';

export function fileSignature(
  path: string,
  op: 'read' | 'write',
  user: string,
  token: string,
  expiresUnix?: number,
): string {
  const raw = `${path}:${op}:${user}:${token}${expiresUnix ? `:${expiresUnix}` : ''}`;
  let bin = '';
  for (const b of sha256(new TextEncoder().encode(raw))) bin += String.fromCharCode(b);
  return `v1_${btoa(bin).replace(/=+$/, '')}`;
}
