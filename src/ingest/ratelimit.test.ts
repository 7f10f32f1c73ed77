import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WarrenError } from '../errors.js';
import { RateLimiter } from './ratelimit.js';

const take = (rl: RateLimiter, counts: Record<string, number>, now: number) =>
  rl.take(new Map(Object.entries(counts)), now);

function refused(fn: () => void): WarrenError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WarrenError);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.status, 429);
    return err;
  }
  assert.fail('expected a 429');
}

test('a bucket holds RATE_BURST and refills at RATE_LIMIT per second', () => {
  const rl = new RateLimiter(10, 20);
  take(rl, { a: 20 }, 0);
  assert.equal(refused(() => take(rl, { a: 5 }, 0)).retryAfterS, 1);
  take(rl, { a: 5 }, 500); // 0.5 s × 10/s = 5 tokens
  const err = refused(() => take(rl, { a: 20 }, 500));
  assert.equal(err.retryAfterS, 2, 'seconds until 20 tokens are back');
  take(rl, { a: 20 }, 2500);
});

test('burst 0 means the same as the rate; rate 0 turns the limit off', () => {
  const same = new RateLimiter(3, 0);
  take(same, { a: 3 }, 0);
  refused(() => take(same, { a: 1 }, 0));
  const off = new RateLimiter(0, 0);
  assert.equal(off.enabled, false);
  for (let i = 0; i < 100; i++) take(off, { a: 1000 }, 0);
});

test('all or nothing across clients, and a request larger than the burst says so', () => {
  const rl = new RateLimiter(1, 5);
  take(rl, { a: 5 }, 0);
  refused(() => take(rl, { b: 2, a: 1 }, 0));
  take(rl, { b: 5 }, 0); // b lost nothing to the refused request
  assert.match(refused(() => take(rl, { c: 6 }, 0)).message, /RATE_BURST/);
});
