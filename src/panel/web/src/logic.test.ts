// The page's pure logic, run in Node: ranges and their buckets, zero-filling, folding clients into
// "others", the refresh throttle and language detection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fold } from './bars.js';
import { detectLanguage } from './i18n.js';
import { throttle } from './live.js';
import { alignUsers, fillSeries, rangeAt } from './range.js';
import { dlqNote } from './tiles.js';

describe('rangeAt', () => {
  it('starts on a bucket boundary and covers the current bucket', () => {
    const now = Date.parse('2025-04-13T12:34:56.789Z');
    const r15 = rangeAt('15m', now);
    assert.equal(r15.fromIso, '2025-04-13T12:20:00.000Z');
    assert.equal(r15.lastS, Date.parse('2025-04-13T12:34:00Z') / 1000);
    assert.equal(r15.bucket, 'minute');
    const r24 = rangeAt('24h', now);
    assert.equal(r24.fromIso, '2025-04-12T13:00:00.000Z');
    assert.equal(r24.bucket, 'hour');
    assert.equal(rangeAt('7d', now).fromIso, '2025-04-06T13:00:00.000Z');
  });
});

describe('fillSeries', () => {
  it('gives every bucket a value, zeros where nothing was counted, later buckets appended', () => {
    const range = rangeAt('15m', Date.parse('2025-04-13T12:14:10Z'));
    const [xs, ys] = fillSeries(
      [
        { t: '2025-04-13T12:02:00Z', count: 3 },
        { t: '2025-04-13T12:14:00Z', count: 1 },
        { t: '2025-04-13T12:16:00Z', count: 2 },
      ],
      range,
    );
    assert.equal(xs.length, 16);
    assert.equal(xs[0], Date.parse('2025-04-13T12:00:00Z') / 1000);
    assert.equal(ys[2], 3);
    assert.equal(ys[14], 1);
    assert.equal(xs[15], Date.parse('2025-04-13T12:16:00Z') / 1000);
    assert.equal(
      ys.reduce((a, b) => a + b, 0),
      6,
    );
  });
});

describe('alignUsers', () => {
  it('puts each bucket’s users on the events line’s buckets, zero where none came, never summed', () => {
    const xs = [0, 60, 120].map((s) => s + Date.parse('2025-04-13T12:00:00Z') / 1000);
    const us = alignUsers(
      [
        { t: '2025-04-13T12:01:00Z', usuarios: 4 },
        { t: '2025-04-13T12:02:00Z', usuarios: 2 },
        { t: '2025-04-13T12:30:00Z', usuarios: 9 },
      ],
      xs,
    );
    assert.deepEqual(us, [0, 4, 2]);
  });
});

describe('fold', () => {
  const clients = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ cliente: `c${i}`, total: 100 - i, eventos: {} }));
  it('keeps every client up to the limit, largest first', () => {
    const rows = fold(clients(3).reverse(), 8);
    assert.deepEqual(
      rows.map((r) => r.label),
      ['c0', 'c1', 'c2'],
    );
  });
  it('gives the "others" row the sum of its clients’ users (users are per client)', () => {
    const list = clients(10).map((c, i) => (i >= 7 && i !== 8 ? { ...c, usuarios: i } : c));
    const rows = fold(list, 8);
    assert.equal(rows[7]?.client, null);
    assert.equal(rows[7]?.usuarios, 7 + 9);
    assert.equal(fold(clients(10), 8)[7]?.usuarios, undefined, 'no users when none of them has any');
  });
  it('folds the rest into one "others" row past the limit, keeping the total', () => {
    const rows = fold(clients(12), 8);
    assert.equal(rows.length, 8);
    assert.equal(rows[7]?.client, null);
    assert.equal(rows[7]?.label, '5 other clients');
    assert.equal(
      rows.reduce((s, r) => s + r.total, 0),
      clients(12).reduce((s, c) => s + c.total, 0),
    );
  });
});

describe('throttle', () => {
  it('runs the first request at once and folds a burst into one trailing run', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const done = new Promise<void>((r) => {
      release = r;
    });
    const request = throttle(async () => {
      runs++;
      if (runs === 2) release();
    }, 30);
    request();
    assert.equal(runs, 1, 'the first one is not delayed');
    for (let i = 0; i < 20; i++) request();
    await done;
    assert.equal(runs, 2);
  });
});

describe('detectLanguage', () => {
  it('prefers a saved choice, then the browser languages, then English', () => {
    assert.equal(detectLanguage('es', ['en-US']), 'es');
    assert.equal(detectLanguage(null, ['es-AR', 'en']), 'es');
    assert.equal(detectLanguage(null, ['fr-FR', 'en-GB']), 'en');
    assert.equal(detectLanguage(null, ['de']), 'en');
    assert.equal(detectLanguage('xx', []), 'en');
  });
});

describe('dlqNote', () => {
  it('shows valid (replayable) dead letters apart from invalid ones', () => {
    const note = dlqNote({ deadLettersDetail: { valid: 3, invalid: 12, unscanned: 0 } });
    assert.match(note, /^3 valid, replayable .*· 12 invalid$/);
    assert.equal(dlqNote({ deadLettersDetail: null }), 'warren dlq list shows why');
    assert.equal(dlqNote(undefined), 'warren dlq list shows why');
  });
});
