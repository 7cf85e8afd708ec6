/**
 * Short-lived tokens for browser WebSockets (which cannot set the X-API-Key header): `<expiresUnix>.<hmac>` where the
 * HMAC (SHA-256, keyed with the API key) covers the sandbox ID and the expiry. Stateless, so restarts keep them valid.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function issueWsToken(apiKey: string, sandboxId: string, ttlSec = 300): { token: string; expiresAt: string } {
  const exp = Math.floor(Date.now() / 1000) + ttlSec;
  const mac = createHmac('sha256', apiKey).update(`${sandboxId}:${exp}`).digest('base64url');
  return { token: `${exp}.${mac}`, expiresAt: new Date(exp * 1000).toISOString() };
}

export function verifyWsToken(apiKey: string, sandboxId: string, token: string): boolean {
  const [expStr, mac] = token.split('.');
  const exp = Number(expStr);
  if (!mac || !Number.isFinite(exp) || exp < Date.now() / 1000) return false;
  const want = createHmac('sha256', apiKey).update(`${sandboxId}:${exp}`).digest();
  const got = Buffer.from(mac, 'base64url');
  return got.length === want.length && timingSafeEqual(got, want);
}
