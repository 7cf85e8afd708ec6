/**
 * Short-lived signed tokens: for browser WebSockets (which cannot set the X-API-Key header) and for signed upload
 * links. `<expiresUnix>.<keyId>.<hmac>` where the HMAC (SHA-256, keyed with the server's token secret) covers the
 * subject (e.g. a sandbox ID), the expiry and the API key that asked for it. Whoever verifies one acts as that key,
 * and only while it exists: revoking a key voids every token it produced.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const mac = (secret: string, subject: string, keyId: string, exp: number) =>
  createHmac('sha256', secret).update(`${subject}:${keyId}:${exp}`);

export function issueWsToken(
  secret: string,
  subject: string,
  keyId: string,
  ttlSec = 300,
): { token: string; expiresAt: string } {
  const exp = Math.floor(Date.now() / 1000) + ttlSec;
  return {
    token: `${exp}.${keyId}.${mac(secret, subject, keyId, exp).digest('base64url')}`,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/** The key ID a valid, unexpired token for `subject` was issued to; undefined otherwise. */
export function verifyWsToken(secret: string, subject: string, token: string): string | undefined {
  const [expStr, keyId, sig] = token.split('.');
  const exp = Number(expStr);
  if (!sig || !keyId || !Number.isFinite(exp) || exp < Date.now() / 1000) return undefined;
  const want = mac(secret, subject, keyId, exp).digest();
  const got = Buffer.from(sig, 'base64url');
  return got.length === want.length && timingSafeEqual(got, want) ? keyId : undefined;
}
