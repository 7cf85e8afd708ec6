/** Identifiers: sandbox and template IDs are lowercase alphanumerics starting with a letter (usable in DNS labels). */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomId(length = 20): string {
  const bytes = randomBytes(length);
  let out = ALPHABET[bytes[0] % 26];
  for (let i = 1; i < length; i++) out += ALPHABET[bytes[i] % ALPHABET.length];
  return out;
}

export const newSandboxId = () => randomId(20);
export const newTemplateId = () => randomId(20);
export const newBuildId = () => crypto.randomUUID();
export const newApiKey = () => `e2b_${randomBytes(16).toString('hex')}`;
export const newAccessToken = () => randomBytes(24).toString('hex');
