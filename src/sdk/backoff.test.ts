import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, parseRetryAfter, retryDelayMs, sleep } from './backoff.js';

const opts = { baseMs: 100, maxMs: 5000 };

test('backoff doubles, stays within [half, full] of its step, and is capped', () => {
  assert.equal(
    backoffMs(0, opts, () => 0),
    50,
  );
  assert.equal(
    backoffMs(0, opts, () => 1),
    100,
  );
  assert.equal(
    backoffMs(3, opts, () => 0),
    400,
  );
  assert.equal(
    backoffMs(3, opts, () => 1),
    800,
  );
  assert.equal(
    backoffMs(50, opts, () => 1),
    5000,
  );
  assert.equal(
    backoffMs(50, opts, () => 0),
    2500,
  );
});

test('Retry-After: delay-seconds and HTTP-date (RFC 9110 §10.2.3); garbage is ignored', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(' 0 '), 0);
  const now = Date.parse('2025-04-13T12:00:00Z');
  assert.equal(parseRetryAfter('Sun, 13 Apr 2025 12:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Sun, 13 Apr 2025 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter('-1'), undefined);
  assert.equal(parseRetryAfter(null), undefined);
});

test('a Retry-After is never shortened, only spread by up to 20%', () => {
  assert.equal(
    retryDelayMs(7, 2000, opts, () => 0),
    2000,
  );
  assert.equal(
    retryDelayMs(7, 2000, opts, () => 1),
    2400,
  );
  assert.equal(
    retryDelayMs(0, 60_000, opts, () => 0),
    5000,
    'capped by maxMs',
  );
  assert.equal(
    retryDelayMs(2, undefined, opts, () => 1),
    400,
  );
});

test('sleep ends early with the abort reason', async () => {
  const ac = new AbortController();
  const p = sleep(60_000, ac.signal);
  ac.abort(new Error('closing'));
  await assert.rejects(p, /closing/);
  await assert.rejects(sleep(10, AbortSignal.abort(new Error('already'))), /already/);
});
