// The equation and its verdict (pure): which rows balance, when a shortfall is only in flight, and
// that a report is read strictly (anything else on the control queue is dropped, not applied).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReport } from '../broker/index.js';
import type { LedgerRow } from '../store/index.js';
import { copiesCounted, type DeadLetterLedger, reconcile } from './reconcile.js';

const T = 1_744_545_600; // 2025-04-13T12:00:00Z
const row = (p: Partial<LedgerRow>): LedgerRow => ({
  cliente: 'c1',
  t: T,
  attempted: 0,
  accepted: 0,
  counted: 0,
  unreported: 0,
  duplicates: 0,
  ...p,
});
const noDead: DeadLetterLedger = { rows: new Map(), unscanned: 0, tagged: [] };
const settled = { events: 0, reports: 0 };

test('a row balances when accepted ≤ counted + duplicates + dead_valid ≤ accepted + uncertain', () => {
  const ok = reconcile({}, [row({ attempted: 3, accepted: 2, counted: 1, duplicates: 1 })], noDead, settled);
  assert.equal(ok.status, 'balanced');
  assert.deepEqual(ok.rows[0], {
    cliente: 'c1',
    t: '2025-04-13T12:00:00Z',
    accepted: 2,
    uncertain: 1,
    counted: 1,
    duplicates: 1,
    dead_valid: 0,
    dead_invalid: 0,
    unreported: 0,
    balanced: true,
  });
  // An uncertain event may have been counted too: still balanced.
  assert.equal(
    reconcile({}, [row({ attempted: 3, accepted: 2, counted: 3 })], noDead, settled).balanced,
    true,
  );
  // Counted beyond what was attempted, or short of what was accepted: not balanced.
  const over = reconcile({}, [row({ attempted: 2, accepted: 2, counted: 3 })], noDead, settled);
  assert.deepEqual([over.balanced, over.status, over.rows[0]!.balanced], [false, 'unbalanced', false]);
  const short = reconcile({}, [row({ attempted: 2, accepted: 2, counted: 1 })], noDead, settled);
  assert.deepEqual([short.balanced, short.status], [false, 'unbalanced']);
});

test('a shortfall that events in flight can explain is in_flight, not unbalanced; a bigger one is', () => {
  const short = [row({ attempted: 5, accepted: 5, counted: 2 })];
  assert.equal(reconcile({}, short, noDead, { events: 3, reports: 0 }).status, 'in_flight');
  assert.equal(reconcile({}, short, noDead, { events: 2, reports: 0 }).status, 'unbalanced');
  const over = [row({ counted: 1 })];
  assert.equal(reconcile({}, over, noDead, { events: 0, reports: 1 }).status, 'in_flight');
});

test('dead letters join their minute; unknown ones only when no range or client is asked; unscanned ones unbalance', () => {
  const dead: DeadLetterLedger = {
    rows: new Map([
      ['a', { cliente: 'c1', t: T, dead_valid: 1, dead_invalid: 2, unreported: 0 }],
      ['b', { cliente: null, t: null, dead_valid: 0, dead_invalid: 1, unreported: 0 }],
    ]),
    unscanned: 0,
    tagged: [],
  };
  const all = reconcile({}, [row({ attempted: 1, accepted: 1 })], dead, settled);
  assert.equal(all.status, 'balanced');
  assert.deepEqual(
    all.rows.map((r) => [r.cliente, r.t, r.dead_valid, r.dead_invalid]),
    [
      [null, null, 0, 1],
      ['c1', '2025-04-13T12:00:00Z', 1, 2],
    ],
  );
  assert.deepEqual(
    reconcile({ cliente: 'c1' }, [], dead, settled).rows.map((r) => r.cliente),
    ['c1'],
  );
  assert.deepEqual(reconcile({ from: T + 60 }, [], dead, settled).rows, []);
  assert.equal(reconcile({}, [], { ...dead, unscanned: 1 }, settled).balanced, false);
});

test('a valid dead letter that is a copy of a publish already counted is not dead_valid', async () => {
  const dead: DeadLetterLedger = {
    rows: new Map(),
    unscanned: 0,
    tagged: [
      { cliente: 'c1', id: 'a', pub: 'r.1', t: T }, // counted from this very publish: a copy
      { cliente: 'c1', id: 'a', pub: 'r.2', t: T }, // a client's retry: dead_valid (a duplicate once replayed)
      { cliente: 'c1', id: 'b', pub: 'r.3', t: T }, // never counted: dead_valid
    ],
  };
  const settledDead = await copiesCounted(dead, async (keys) => {
    assert.equal(keys.length, 3);
    return new Map([['c1\u0000a', 'r.1']]);
  });
  assert.equal(settledDead.copies, 1);
  const a = reconcile({}, [row({ attempted: 3, accepted: 3, counted: 1 })], settledDead, settled);
  assert.deepEqual([a.rows[0]!.dead_valid, a.dead_letters_already_counted, a.status], [2, 1, 'balanced']);
});

test('a report is read strictly; anything else is not one', () => {
  const body = { v: 1, reporter: 'ab12', seq: 7, rows: [{ cliente: 'c1', t: T, attempted: 2, accepted: 1 }] };
  assert.deepEqual(parseReport(Buffer.from(JSON.stringify(body))), { id: 'ab12.7', rows: body.rows });
  const bad = [
    'not json',
    '[]',
    JSON.stringify({ ...body, v: 2 }),
    JSON.stringify({ ...body, seq: 0 }),
    JSON.stringify({ ...body, reporter: 'a b' }),
    JSON.stringify({ ...body, rows: [{ ...body.rows[0], t: T + 1 }] }),
    JSON.stringify({ ...body, rows: [{ ...body.rows[0], accepted: -1 }] }),
    JSON.stringify({ ...body, rows: [{ ...body.rows[0], cliente: '' }] }),
  ];
  for (const b of bad) assert.equal(parseReport(Buffer.from(b)), undefined, b);
});
