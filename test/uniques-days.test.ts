// Kept day unions (src/store/uniques-days.ts) on both stores: an answer over whole days is the one
// the raw rows give, whatever is kept; a user added to a kept day, by this store object or by
// another connection (another analytics process), is in the next answer; a rollup changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParsedEvent } from '../src/event.js';
import { retentionPass, type SqlStore } from '../src/store/index.js';
import { uniques as rawUniques } from '../src/store/uniques.js';
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
      const day = start + 6 * DAY + 3600;
      const one = (id: string, usuario: string): ParsedEvent => ({
        id,
        cliente: 'c1',
        evento: 'click',
        timestamp: new Date(day * 1000).toISOString(),
        ms: day * 1000,
        usuario,
      });
      const before = (await store.uniques(ranges[1]!)).usuarios;
      await store.commit([one('new-1', 'fresh-user-1')]);
      assert.equal((await store.uniques(ranges[1]!)).usuarios, before + 1, 'its own commit');
      await other.commit([one('new-2', 'fresh-user-2')]);
      assert.equal((await store.uniques(ranges[1]!)).usuarios, before + 2, "another connection's commit");
      await check('after commits');
      // Rolling minutes into hours and days keeps every day's union (and its count).
      await retentionPass(store, { dedupeWindowDays: 30, minuteRetentionHours: 1, hourRetentionDays: 3 });
      await check('after a rollup');
    }),
  );
}
