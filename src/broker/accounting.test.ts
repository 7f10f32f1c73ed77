// The publisher's accounting: counts per (cliente, minute of event time) whatever order the
// events come in, each count in exactly one report, and nothing carried over once taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounting, parseReport, type ReportRow } from './accounting.js';

const rowsOf = (bodies: Buffer[]): ReportRow[] =>
  bodies
    .flatMap((b) => parseReport(b)?.rows ?? [])
    .sort((a, b) => a.t - b.t || (a.cliente < b.cliente ? -1 : 1));

test('counts per client and minute, interleaved, and a taken count is never reported again', () => {
  const a = new Accounting();
  const m0 = Date.UTC(2025, 3, 13, 12, 0, 30);
  const m1 = m0 + 60_000;
  for (const [cliente, ms] of [
    ['uno', m0],
    ['uno', m0 + 1],
    ['dos', m0],
    ['uno', m1],
    ['uno', m0 + 2],
  ] as const)
    a.attempted(cliente, ms);
  a.accepted('uno', m0);
  const t0 = Math.floor(m0 / 60_000) * 60;
  assert.deepEqual(rowsOf(a.take()), [
    { cliente: 'dos', t: t0, attempted: 1, accepted: 0 },
    { cliente: 'uno', t: t0, attempted: 3, accepted: 1 },
    { cliente: 'uno', t: t0 + 60, attempted: 1, accepted: 0 },
  ]);
  assert.equal(a.dirty, false);
  assert.deepEqual(a.take(), []);
  // The same client and minute as the last count before the take: a new row, from zero.
  a.accepted('uno', m0 + 2);
  a.accepted('uno', m0 + 3);
  assert.deepEqual(rowsOf(a.take()), [{ cliente: 'uno', t: t0, attempted: 0, accepted: 2 }]);
});
