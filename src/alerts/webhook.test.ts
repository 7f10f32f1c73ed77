// Unit tests of what a webhook answer means and how long the deliverer waits (README "Alerts" >
// "Delivery"): which statuses are retried, Retry-After, the backoff's doubling, cap and jitter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMessage } from '../alert.js';
import { loadConfig } from '../config.js';
import { parseDelivery } from './inbox.js';
import { backoff, prepare, retryAfterMs, retryable, urlHost } from './webhook.js';

const alert = {
  id: 'r1:2026-12-01T10:00:00.000Z:fired',
  state: 'fired' as const,
  rule: { id: 'r1', kind: 'silence' as const },
  episode_start: '2026-12-01T10:00:00.000Z',
  at: '2026-12-01T10:00:00.000Z',
  summary: 's',
  detail: {},
};

describe('webhook answers', () => {
  it('retries 408, 429 and 5xx; any other status is permanent', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(retryable(s), true, String(s));
    for (const s of [301, 302, 400, 401, 403, 404, 410, 422]) assert.equal(retryable(s), false, String(s));
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('7'), 7000);
    const now = Date.parse('2026-12-01T10:00:00Z');
    assert.equal(retryAfterMs('Tue, 01 Dec 2026 10:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });

  it('refuses a request it cannot build, and names only the host of a URL', () => {
    assert.match(
      String(
        (prepare(buildMessage({ ...alert, id: 'a\nb' }, 'http://h/x', 'json', 's')) as { error: string })
          .error,
      ),
      /header/,
    );
    assert.ok('url' in prepare(buildMessage(alert, 'http://h:1/x', 'json', 's')));
    assert.equal(urlHost('https://hooks.slack.com/services/T0/B0/SECRET'), 'hooks.slack.com');
  });

  it('dead-letters what is not an alert message, naming why', () => {
    assert.match((parseDelivery(Buffer.from('{')) as { reason: string }).reason, /^not JSON/);
    assert.match(
      (parseDelivery(Buffer.from('{"url":"x"}')) as { reason: string }).reason,
      /^not an alert message: alert/,
    );
    assert.match((parseDelivery(Buffer.alloc(2 << 20)) as { reason: string }).reason, /^too large/);
    const ok = parseDelivery(Buffer.from(JSON.stringify(buildMessage(alert, 'http://h/x', 'slack', 's'))));
    assert.equal(ok.ok, true);
  });
});

describe('backoff', () => {
  const opts = { baseMs: 1000, maxMs: 300_000 };
  it('doubles from the base up to the cap, each wait between half and all of it', () => {
    assert.equal(
      backoff(1, opts, () => 1),
      1000,
    );
    assert.equal(
      backoff(1, opts, () => 0),
      500,
    );
    assert.equal(
      backoff(4, opts, () => 1),
      8000,
    );
    assert.equal(
      backoff(30, opts, () => 1),
      300_000,
    );
    assert.equal(
      backoff(500, opts, () => 0),
      150_000,
    );
  });

  it("honours the receiver's Retry-After, up to the cap", () => {
    assert.equal(
      backoff(1, { ...opts, retryAfterMs: 20_000 }, () => 0),
      20_000,
    );
    assert.equal(
      backoff(1, { ...opts, retryAfterMs: 3_600_000 }, () => 0),
      300_000,
    );
  });

  it('with the defaults, the waits before the last of 12 attempts add up to 9 to 19 minutes', () => {
    const c = loadConfig({});
    const total = (r: () => number) => {
      let sum = 0;
      for (let n = 1; n < c.alertMaxAttempts; n++)
        sum += backoff(n, { baseMs: c.alertRetryBaseMs, maxMs: c.alertRetryMaxMs }, r);
      return sum / 60_000;
    };
    assert.equal(c.alertMaxAttempts, 12);
    assert.ok(total(() => 0) >= 9 && total(() => 0) < 10, String(total(() => 0)));
    assert.ok(total(() => 1) > 18 && total(() => 1) <= 19, String(total(() => 1)));
  });
});
