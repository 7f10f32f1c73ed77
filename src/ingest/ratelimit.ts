// Per-client token buckets (RATE_LIMIT events/s, RATE_BURST events). State is local to this
// process: with N ingest instances behind Traefik a client may reach N times the rate.
import { WarrenError } from '../errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Beyond this many tracked clients, full (idle) buckets are forgotten: memory stays bounded. */
const MAX_TRACKED = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;

  constructor(
    private readonly rate: number,
    burst: number,
  ) {
    this.burst = burst > 0 ? burst : rate;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  private bucket(cliente: string, now: number): Bucket {
    let b = this.buckets.get(cliente);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(cliente, b);
      return b;
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    return b;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
  }

  /**
   * Takes `n` tokens from each client's bucket, all or nothing, or throws 429 with the seconds
   * until the request would fit.
   */
  take(counts: Map<string, number>, now = Date.now()): void {
    if (!this.enabled) return;
    let waitS = 0;
    let over: string | undefined;
    for (const [cliente, n] of counts) {
      if (n > this.burst) {
        throw new WarrenError(
          'rate_limited',
          `${n} events for ${cliente} in one request exceed the burst of ${this.burst} (RATE_BURST); send smaller batches.`,
          {
            status: 429,
            retryAfterS: Math.ceil(n / this.rate),
            details: [{ cliente, events: n, burst: this.burst }],
          },
        );
      }
      const b = this.bucket(cliente, now);
      if (b.tokens < n) {
        const s = (n - b.tokens) / this.rate;
        if (s > waitS) [waitS, over] = [s, cliente];
      }
    }
    if (over !== undefined) {
      throw new WarrenError(
        'rate_limited',
        `Client ${over} is over its rate of ${this.rate} events/s (RATE_LIMIT); retry after the time in Retry-After.`,
        {
          status: 429,
          retryAfterS: Math.max(1, Math.ceil(waitS)),
          details: [{ cliente: over, rate: this.rate }],
        },
      );
    }
    for (const [cliente, n] of counts) this.bucket(cliente, now).tokens -= n;
  }
}
