// The dedupe window on both stores: ids are forgotten only when both their event time and their
// arrival are older than DEDUPE_WINDOW_DAYS, never beyond the newest counted id; a late event
// (event time older than the window) with a new id is counted once, and its redelivery is not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cutoffs, retentionPass } from '../src/store/index.js';
import { AT_NOW, DAY, HOUR, isoS, kinds, NOW, SETTINGS } from './support/retention-helpers.js';
import { ev, rows, withDb } from './support/store.js';

const at = (s: number) => ({ now: () => s * 1000 });
const once = (id: string, t: number) => ev(id, 'cliente_uno', 'click', isoS(t));

test('cutoffs: rollups on whole coarser buckets, ids relative to now and to the newest id', () => {
  const c = cutoffs(NOW, SETTINGS, NOW - 3 * DAY);
  assert.equal(c.minute % HOUR, 0);
  assert.ok(c.minute <= NOW - 48 * HOUR && c.minute > NOW - 49 * HOUR);
  assert.equal(c.hour % DAY, 0);
  assert.ok(c.hour <= NOW - 90 * DAY && c.hour > NOW - 91 * DAY);
  assert.equal(c.ids, NOW - 10 * DAY, 'nothing newer than a week before the newest id goes');
  assert.equal(cutoffs(NOW, SETTINGS, undefined).ids, NOW - 7 * DAY);
});

for (const kind of kinds) {
  describe(`dedupe window: ${kind}`, () => {
    test('a late event older than the window with a new id is counted once, and stays deduped', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open(at(NOW));
        const late = once('late-1', NOW - 30 * DAY);
        assert.deepEqual(await store.commit([late]), { counted: 1, duplicates: 0, withoutId: 0 });
        await retentionPass(store, SETTINGS, { now: NOW });
        assert.deepEqual(await store.commit([late]), { counted: 0, duplicates: 1, withoutId: 0 });
        // Six days later, with counting going on, it is still remembered (it arrived at NOW).
        const later = await db.open(at(NOW + 6 * DAY));
        await later.commit([once('fresh-1', NOW + 6 * DAY)]);
        const pass = await retentionPass(later, SETTINGS, { now: NOW + 6 * DAY });
        assert.equal(pass.idsPruned, 0);
        assert.deepEqual(await later.commit([late]), { counted: 0, duplicates: 1, withoutId: 0 });
        const day = Math.floor((NOW - 30 * DAY) / DAY) * DAY;
        assert.deepEqual(rows(await later.report({ from: day, to: day + DAY })), ['cliente_uno/click=1']);
        assert.deepEqual(rows(await later.report({})), ['cliente_uno/click=2']);
      }));

    test('ids go once event time and arrival are both older than the window', () =>
      withDb(kind, AT_NOW, async (db) => {
        const old = once('old', NOW - 10 * DAY);
        const recent = once('recent', NOW - 3 * DAY);
        const late = once('late', NOW - 20 * DAY);
        const fresh = once('fresh', NOW - HOUR);
        await (await db.open(at(NOW - 10 * DAY))).commit([old]);
        await (await db.open(at(NOW - 3 * DAY))).commit([recent]);
        const store = await db.open(at(NOW));
        await store.commit([late, fresh]);

        const pass = await retentionPass(store, SETTINGS, { now: NOW });
        assert.equal(pass.idsPruned, 1);
        const ids = await db.sql(store, 'SELECT id FROM seen_ids ORDER BY id');
        assert.deepEqual(
          ids.map((r) => r.id),
          ['fresh', 'late', 'recent'],
        );
        assert.deepEqual(await store.commit([recent, late, fresh]), {
          counted: 0,
          duplicates: 3,
          withoutId: 0,
        });
        // Past the window an id is new again: a retry that late is counted (README says so).
        assert.deepEqual(await store.commit([old]), { counted: 1, duplicates: 0, withoutId: 0 });
      }));

    test('while nothing is counted, the window does not advance past the newest id', () =>
      withDb(kind, AT_NOW, async (db) => {
        const before = await db.open(at(NOW - 10 * DAY));
        const last = once('last-before-outage', NOW - 10 * DAY);
        await before.commit([once('earlier', NOW - 12 * DAY), last]);
        // Analytics was down for 10 days; a pass now (or a year later) keeps the last ids.
        for (const now of [NOW, NOW + 365 * DAY]) {
          const pass = await retentionPass(before, SETTINGS, { now });
          assert.equal(pass.idsPruned, 0, `pass at ${isoS(now)}`);
        }
        assert.deepEqual(await before.commit([last]), { counted: 0, duplicates: 1, withoutId: 0 });
        // Counting resumes: from then on the window is relative to now again.
        const after = await db.open(at(NOW));
        await after.commit([once('first-after', NOW)]);
        const pass = await retentionPass(after, SETTINGS, { now: NOW });
        assert.equal(pass.idsPruned, 2);
      }));
  });
}
