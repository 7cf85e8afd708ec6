/** KeyWatch and RateLimiter on their own: local revocation closes at once, another node's within one poll; buckets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyWatch } from './key-watch.js';
import { RateLimited, RateLimiter } from './rate-limit.js';

describe('KeyWatch', () => {
  it('closes a revoked key’s connections at once and forgets closed ones', () => {
    const w = new KeyWatch(async () => true);
    let closed = 0;
    w.track('k1', () => closed++);
    const untrack = w.track('k1', () => closed++);
    untrack();
    w.track('k2', () => (closed += 10));
    w.revoked('k1');
    assert.equal(closed, 1);
    assert.equal(w.count('k2'), 1);
    w.stop();
  });

  it('a key deleted elsewhere (the store says it is gone) closes within one poll', async () => {
    const alive = new Set(['k1']);
    const w = new KeyWatch(async (id) => alive.has(id), 50);
    const closed = new Promise<void>((resolve) => w.track('k1', resolve));
    alive.delete('k1');
    const t0 = Date.now();
    const keepAlive = setTimeout(() => {}, 5000); // the watch's own timer does not hold the process open
    await closed;
    clearTimeout(keepAlive);
    assert.ok(Date.now() - t0 < 500);
    w.stop();
  });
});

describe('RateLimiter', () => {
  it('allows the burst, then refills at the rate; Retry-After in whole seconds', () => {
    const r = new RateLimiter({ ratePerSec: 2, burst: 3 });
    for (let i = 0; i < 3; i++) r.take('k', 1000);
    assert.throws(
      () => r.take('k', 1000),
      (e: unknown) => e instanceof RateLimited && e.retryAfterSec === 1 && e.status === 429,
    );
    r.take('k', 1500); // one token back after 0.5 s
    assert.throws(() => r.take('k', 1500), RateLimited);
    r.take('other', 1500); // per key
  });
});
