/**
 * API key material: how keys look (`e2b_` + 32 hex digits, what the E2B SDKs accept), how they are stored (SHA-256 of
 * the whole key, hex — keys carry 128 random bits, so a fast hash is enough and lets a lookup be one indexed read),
 * and how they are shown after creation (a mask `e2b_…abcd`). The plaintext exists only in the create response.
 */
import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_FORMAT = /^e2b_[0-9a-f]{32}$/;

/** A new random API key. */
export const generateApiKey = (): string => `e2b_${randomBytes(16).toString('hex')}`;

/** What the store keeps of a key. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** How a key is shown once it has been created: its prefix and last four characters. */
export const maskApiKey = (key: string): string => `e2b_…${key.slice(-4)}`;
