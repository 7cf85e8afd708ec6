/**
 * Per-key request rate: a token bucket per API key (refilled at `ratePerSec`, holding at most `burst`), kept in this
 * node's memory — with several nodes each enforces the rate on its own share of the traffic. An empty bucket answers
 * 429 with `Retry-After` (whole seconds until a token is back).
 */
import { ApiError } from '../errors.js';

export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

/** Thrown for a request over the rate; `retryAfterSec` goes into the Retry-After header. */
export class RateLimited extends ApiError {
  constructor(
    readonly retryAfterSec: number,
    limit: RateLimit,
  ) {
    super(
      'resource_exhausted',
      `API key request rate exceeded (${limit.ratePerSec}/s, burst ${limit.burst}); retry in ${retryAfterSec} s`,
    );
  }
}

export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private limit: RateLimit) {}

  /** Takes one token for `keyId` or throws RateLimited. */
  take(keyId: string, now = Date.now()): void {
    const { ratePerSec, burst } = this.limit;
    const b = this.buckets.get(keyId) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
    b.at = now;
    this.buckets.set(keyId, b);
    if (b.tokens < 1) throw new RateLimited(Math.max(1, Math.ceil((1 - b.tokens) / ratePerSec)), this.limit);
    b.tokens -= 1;
    if (this.buckets.size > 10_000) this.prune(now);
  }

  /** Forgets full buckets (they behave exactly like absent ones). */
  private prune(now: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.limit.ratePerSec >= this.limit.burst) this.buckets.delete(k);
  }
}
