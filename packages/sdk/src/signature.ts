/**
 * Signed file URLs: `v1_` + unpadded base64(sha256("<path>:<read|write>:<user>:<accessToken>[:<expiresUnix>]")),
 * the format E2B's envd verifies.
 */
export async function fileSignature(path: string, op: 'read' | 'write', user: string, token: string, expiresUnix?: number): Promise<string> {
  const raw = `${path}:${op}:${user}:${token}${expiresUnix ? `:${expiresUnix}` : ''}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(raw)));
  let bin = '';
  for (const b of digest) bin += String.fromCharCode(b);
  return `v1_${btoa(bin).replace(/=+$/, '')}`;
}
