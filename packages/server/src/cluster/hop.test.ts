/**
 * Node-to-node trust (hop.ts): a hop mark or secret header without the right secret is refused; a verified request
 * loses both headers at once (nothing behind the node sees the secret); a client's request passes untouched.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ApiError } from '../errors.js';
import { acceptHop, HOP_HEADER, hopHeaders, SECRET_HEADER } from './hop.js';

const SECRET = 'a-cluster-secret-0123456789';
const req = (headers: Record<string, string>) => ({ headers: { ...headers } }) as unknown as IncomingMessage;

describe('node-to-node trust', () => {
  it('a client request (no hop headers) passes untouched', () => {
    const r = req({ 'x-api-key': 'k' });
    assert.equal(acceptHop(r, SECRET), undefined);
    assert.deepEqual(r.headers, { 'x-api-key': 'k' });
  });

  it('refuses a hop mark without the secret, with a wrong one, a secret without a mark, and any hop alone', () => {
    for (const h of <Array<Record<string, string>>>[
      { [HOP_HEADER]: 'node-1' },
      { [HOP_HEADER]: 'node-1', [SECRET_HEADER]: 'wrong' },
      { [HOP_HEADER]: 'node-1', [SECRET_HEADER]: SECRET.slice(0, -1) },
      { [SECRET_HEADER]: SECRET },
    ]) {
      assert.throws(
        () => acceptHop(req(h), SECRET),
        (e: ApiError) => e.kind === 'unauthenticated',
      );
    }
    // A node without a secret (not in cluster mode) trusts no hop.
    assert.throws(() => acceptHop(req(hopHeaders('node-1', SECRET)), undefined), ApiError);
  });

  it('accepts the right secret, names the forwarding node, and strips both headers', () => {
    const r = req({ ...hopHeaders('node-2', SECRET), 'x-api-key': 'k' });
    assert.equal(acceptHop(r, SECRET), 'node-2');
    assert.deepEqual(r.headers, { 'x-api-key': 'k' });
    assert.equal(acceptHop(r, SECRET), 'node-2', 'asked again: the same answer');
  });
});
