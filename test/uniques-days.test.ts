// Kept day unions (src/store/uniques-days.ts) on both stores: an answer over whole days (the total,
// the points of bucket=day, the users per client of /api/v1/report) is the one the raw rows give,
// whatever is kept; a user added to a kept day, by this store object or by another connection
// (another analytics process), is in the next answer; a rollup changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParsedEvent } from '../src/event.js';
import { type Filter, retentionPass, type SqlStore } from '../src/store/index.js';
import { clientUniques as rawClientUniques, uniques as rawUniques } from '../src/store/uniques.js';
import { kinds, withDb } from './support/store.js';

const DAY = 86_400;
const now = Math.floor(Date.now() / 1000 / 60) * 60;
const start = Math.floor(now / DAY) * DAY - 20 * DAY;

function events(n: number, seed: string, users: number, days = 20): ParsedEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const ms = (start + ((i * 7919) % (days * DAY))) * 1000;
    return {
      id: `${seed}-${i}`,
      cliente: `c${i % 3}`,
      evento: i % 2 ? 'click' : 'view',
      timestamp: new Date(ms).toISOString(),
      ms,
      usuario: `u${(i * 31) % users}`,
    };
  });
}

/** Events without a usuario on the given days: counted, so those days have events but no users. */
function anonymous(days: number[]): ParsedEvent[] {
  return days.map((t, i) => ({
    id: `anon-${i}`,
    cliente: 'c0',
    evento: 'view',
    timestamp: new Date(t * 1000).toISOString(),
    ms: t * 1000,
  }));
}

/** A new user of c1 on a kept day (day 6), committed by `store`. */
function newUser(store: SqlStore, id: string, usuario: string) {
  const day = start + 6 * DAY + 3600;
  const ms = day * 1000;
  return store.commit([
    { id, cliente: 'c1', evento: 'click', timestamp: new Date(ms).toISOString(), ms, usuario },
  ]);
}

for (const kind of kinds) {
  test(`day unions (${kind.name}): same answers as the raw rows, and never stale`, { timeout: 120_000 }, () =>
    withDb(kind, {}, async (db) => {
      const store = (await db.open()) as SqlStore;
      const other = (await db.open()) as SqlStore;
      await store.commit(events(4000, 'a', 3000));
      const ranges = [
        { from: start + 3600 + 60, to: now - 120 },
        { from: start + 5 * DAY, to: start + 9 * DAY + 7200, cliente: 'c1' },
        { from: start + 2 * DAY - 60, to: start + 15 * DAY, evento: 'click' },
        { from: start + DAY, to: start + 4 * DAY, cliente: 'c2', evento: 'view' },
      ];
      const check = async (label: string) => {
        for (const f of ranges) {
          const want = (await rawUniques(store.driver, f)).usuarios;
          assert.equal((await store.uniques(f)).usuarios, want, `${label}: ${JSON.stringify(f)}`);
        }
      };
      await check('cold');
      await check('kept');
      assert.ok(store.dayUnions.hits > 0, 'the second round used kept unions');
      // A new user on a kept day, committed by this store object, then by another connection.
      const before = (await store.uniques(ranges[1]!)).usuarios;
      await newUser(store, 'new-1', 'fresh-user-1');
      assert.equal((await store.uniques(ranges[1]!)).usuarios, before + 1, 'its own commit');
      await newUser(other, 'new-2', 'fresh-user-2');
      assert.equal((await store.uniques(ranges[1]!)).usuarios, before + 2, "another connection's commit");
      await check('after commits');
      // Rolling minutes into hours and days keeps every day's union (and its count).
      await retentionPass(store, { dedupeWindowDays: 30, minuteRetentionHours: 1, hourRetentionDays: 3 });
      await check('after a rollup');
    }),
  );

  test(
    `day unions (${kind.name}): per day and per client as the raw rows, and never stale`,
    { timeout: 120_000 },
    () =>
      withDb(kind, {}, async (db) => {
        const store = (await db.open()) as SqlStore;
        const other = (await db.open()) as SqlStore;
        await store.commit(events(4000, 'b', 3000));
        // Days with events but no users: before the data, and today.
        await store.commit(anonymous([start - 2 * DAY + 600, start + 20 * DAY + 60]));
        const ranges: Filter[] = [
          { from: start + 3600 + 60, to: now - 120 },
          { from: start + 5 * DAY, to: start + 9 * DAY + 7200 },
          { from: start + 2 * DAY - 60, to: start + 15 * DAY, evento: 'click' },
          { from: start + DAY, to: start + 4 * DAY, cliente: 'c1' },
          { from: start + 3 * DAY + 60 },
          { to: start + 12 * DAY - 60, cliente: 'c1', evento: 'click' },
          {},
        ];
        const check = async (label: string) => {
          for (const f of ranges) {
            const at = `${label}: ${JSON.stringify(f)}`;
            assert.deepEqual(await store.uniques(f, 'day'), await rawUniques(store.driver, f, 'day'), at);
            assert.deepEqual(await store.uniques(f), await rawUniques(store.driver, f), at);
            const perClient = [...(await store.clientUniques(f))].sort();
            assert.deepEqual(perClient, [...(await rawClientUniques(store.driver, f))].sort(), at);
          }
        };
        await check('cold');
        const hits = store.dayUnions.hits;
        await check('kept');
        // Every range but the last has whole days; each answer above read them from kept unions.
        assert.ok(
          store.dayUnions.hits - hits >= 3 * ranges.length * 3,
          `${store.dayUnions.hits - hits} hits`,
        );
        // A new user on a kept day, by this store object and by another connection: its day's point
        // and its client's users grow by one each time.
        const f = ranges[1]!;
        const point = async () =>
          (await store.uniques(f, 'day')).points?.find((p) => p.t === start + 6 * DAY);
        const c1 = async () => (await store.clientUniques(f)).get('c1');
        const before = { point: (await point())?.usuarios ?? 0, c1: (await c1()) ?? 0 };
        await newUser(store, 'new-1', 'fresh-user-1');
        assert.equal((await point())?.usuarios, before.point + 1, 'its own commit: the day');
        assert.equal(await c1(), before.c1 + 1, 'its own commit: the client');
        await newUser(other, 'new-2', 'fresh-user-2');
        assert.equal((await point())?.usuarios, before.point + 2, "another connection's commit: the day");
        assert.equal(await c1(), before.c1 + 2, "another connection's commit: the client");
        await check('after commits');
        await retentionPass(store, { dedupeWindowDays: 30, minuteRetentionHours: 1, hourRetentionDays: 3 });
        await check('after a rollup');
      }),
  );
}
