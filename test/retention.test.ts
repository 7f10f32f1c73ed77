// Retention on both stores, at an injected "now": rollups never change a total or the sum of an
// aligned range (checked against an oracle before and after), buckets end up in the level their
// age asks for, and a second pass has nothing left to do.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  complementIsSmaller,
  type Filter,
  maintenanceOf,
  retentionPass,
  type Store,
} from '../src/store/index.js';
import {
  AT_NOW,
  CUT,
  commitAll,
  DAY,
  dataset,
  expected,
  kinds,
  NOW,
  RANGES,
  SETTINGS,
} from './support/retention-helpers.js';
import { type Db, lines, rows, withDb } from './support/store.js';

async function snapshot(store: Store) {
  const out: Record<string, string[]> = {};
  for (const [name, f] of Object.entries(RANGES)) out[name] = rows(await store.report(f));
  const days = await store.timeseries({ from: NOW - 400 * DAY }, 'day');
  out['daily series'] = days.map((p) => `${Number(p.t)}=${Number(p.count)}`);
  return out;
}

async function bounds(db: Db, store: Store, table: string) {
  const [r] = await db.sql(
    store,
    `SELECT MIN(t) AS lo, MAX(t) AS hi, COALESCE(SUM(count), 0) AS n FROM ${table}`,
  );
  return {
    lo: r!.lo === null ? null : Number(r!.lo),
    hi: r!.hi === null ? null : Number(r!.hi),
    n: Number(r!.n),
  };
}

test('the ranges exercise both ways of answering a range report (inside, or totals minus outside)', () => {
  const events = dataset(3000);
  const inside = (f: Filter) =>
    expected(events, { from: f.from, to: f.to }).reduce((n, r) => n + Number(r.split('=')[1]), 0);
  const ranged = Object.entries(RANGES).filter(([, f]) => f.from !== undefined || f.to !== undefined);
  const complement = ranged
    .filter(([, f]) => complementIsSmaller(inside(f), events.length))
    .map(([name]) => name);
  assert.deepEqual(complement, [
    'all time (levels)',
    'across all three',
    'one client across',
    'one event across',
    'most, from only',
    'most, both ends',
    'most, one client',
    'most, one event, to only',
  ]);
  assert.equal(ranged.length - complement.length, 5, 'the others read the inside');
});

for (const kind of kinds) {
  describe(`retention rollups: ${kind}`, () => {
    test('totals and range sums are identical before and after; levels hold what their age asks', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        const events = dataset(3000);
        await commitAll(store, events);
        for (const [name, f] of Object.entries(RANGES)) {
          assert.deepEqual(rows(await store.report(f)), expected(events, f), `before: ${name}`);
          assert.deepEqual(lines(await store.clientReport(f)), expected(events, f), `lines before: ${name}`);
        }
        const before = await snapshot(store);

        // Small batches: every bucket takes several transactions, as a busy store would.
        const r = await retentionPass(store, SETTINGS, { now: NOW, batch: 7 });
        assert.equal(r.skipped, false);
        assert.ok(r.minuteRows > 0 && r.hourRows > 0, JSON.stringify(r));

        assert.deepEqual(await snapshot(store), before);
        for (const [name, f] of Object.entries(RANGES)) {
          assert.deepEqual(rows(await store.report(f)), expected(events, f), `after: ${name}`);
          assert.deepEqual(lines(await store.clientReport(f)), expected(events, f), `lines after: ${name}`);
        }
        const minute = await bounds(db, store, 'counts_minute');
        const hour = await bounds(db, store, 'counts_hour');
        const day = await bounds(db, store, 'counts_day');
        assert.ok(minute.lo! >= CUT.minute, 'no minute bucket older than MINUTE_RETENTION_HOURS');
        assert.ok(hour.lo! >= CUT.hour && hour.hi! < CUT.minute, 'hours only between the two cutoffs');
        assert.ok(day.hi! < CUT.hour, 'days only before HOUR_RETENTION_DAYS');
        assert.equal(minute.n + hour.n + day.n, events.length, 'each count lives in exactly one level');
        const [hourAligned] = await db.sql(
          store,
          'SELECT COUNT(*) AS n FROM counts_hour WHERE t % 3600 <> 0',
        );
        const [dayAligned] = await db.sql(store, 'SELECT COUNT(*) AS n FROM counts_day WHERE t % 86400 <> 0');
        assert.equal(Number(hourAligned!.n) + Number(dayAligned!.n), 0, 'coarser rows start on their bucket');

        const again = await retentionPass(store, SETTINGS, { now: NOW });
        assert.deepEqual([again.idsPruned, again.minuteRows, again.hourRows], [0, 0, 0]);
      }));

    test('a late event for an hour already rolled up lands in minutes, then joins its hour', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        const events = dataset(400, 2);
        await commitAll(store, events);
        await retentionPass(store, SETTINGS, { now: NOW });
        const late = dataset(50, 3).filter((e) => e.ms / 1000 < CUT.minute);
        await commitAll(store, late);
        const all = [...events, ...late];
        const pass = await retentionPass(store, SETTINGS, { now: NOW });
        assert.ok(pass.minuteRows > 0);
        for (const [name, f] of Object.entries(RANGES)) {
          assert.deepEqual(rows(await store.report(f)), expected(all, f), name);
        }
        assert.equal(
          (await maintenanceOf(store).sizes()).counts_minute,
          (await bounds(db, store, 'counts_minute')).n,
        );
      }));

    test('one runner at a time: a pass while another holds the lock is skipped', () =>
      withDb(kind, AT_NOW, async (db) => {
        const a = await db.open();
        const b = await db.open();
        await commitAll(a, dataset(100, 4));
        const inner = await maintenanceOf(a).exclusive(() => retentionPass(b, SETTINGS, { now: NOW }));
        assert.equal(inner?.skipped, true);
        assert.equal(inner?.minuteRows, 0);
        const after = await retentionPass(b, SETTINGS, { now: NOW });
        assert.equal(after.skipped, false);
        assert.ok(after.minuteRows > 0);
      }));

    test('a stopped pass ends at a step boundary and leaves sums intact', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        const events = dataset(1500, 5);
        await commitAll(store, events);
        const abort = new AbortController();
        let steps = 0;
        const r = await retentionPass(store, SETTINGS, {
          now: NOW,
          batch: 5,
          signal: abort.signal,
          onProgress: () => {
            if (++steps === 3) abort.abort();
          },
        });
        assert.equal(r.aborted, true);
        for (const [name, f] of Object.entries(RANGES)) {
          assert.deepEqual(rows(await store.report(f)), expected(events, f), name);
        }
        const rest = await retentionPass(store, SETTINGS, { now: NOW });
        assert.ok(rest.minuteRows + rest.hourRows > 0, 'the next pass finishes the work');
        assert.ok((await bounds(db, store, 'counts_minute')).lo! >= CUT.minute);
      }));
  });
}
