/** The API key check, in one place: `X-API-Key` (or `Authorization: Bearer <key>`), compared in constant time. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.js';

export function checkApiKey(req: IncomingMessage, apiKey: string) {
  let given = req.headers['x-api-key'];
  if (Array.isArray(given)) given = given[0];
  const auth = req.headers.authorization;
  if (!given && auth?.startsWith('Bearer ')) given = auth.slice(7);
  if (!given) throw new ApiError('unauthenticated', 'missing API key: send it in the X-API-Key header');
  const a = Buffer.from(given);
  const b = Buffer.from(apiKey);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new ApiError('unauthenticated', 'invalid API key');
}
