// `warren prune` as a user runs it (the built CLI as a child): one pass on the store at
// DATABASE_URL, what it did on stdout (text or --json), progress on stderr, totals unchanged.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Store } from '../src/store/index.js';
import { maintenanceOf } from '../src/store/index.js';
import { warren } from './support/helpers.js';
import { AT_NOW, commitAll, DAY, HOUR, isoS, kinds, random } from './support/retention-helpers.js';
import { ev, rows, withDb } from './support/store.js';

// The CLI runs on the real clock, so the data is placed relative to it.
function spread(n: number, seed: number) {
  const rnd = random(seed);
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => {
    const age = i % 3 === 0 ? Math.floor(rnd() * 24 * HOUR) : 3 * DAY + Math.floor(rnd() * 150 * DAY);
    return ev(`p-${seed}-${i}`, `cliente_${i % 5}`, i % 2 ? 'click' : 'view', isoS(now - age));
  });
}

async function levelRows(store: Store) {
  const s = await maintenanceOf(store).sizes();
  return [s.counts_minute, s.counts_hour, s.counts_day];
}

for (const kind of kinds) {
  describe(`warren prune: ${kind}`, () => {
    test('runs one pass, says what it rolled up, and changes no total', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open({});
        await commitAll(store, spread(900, 31));
        const totals = rows(await store.report({}));
        const since = Math.floor(Date.now() / 1000) - 400 * DAY;
        const levels = rows(await store.report({ from: since }));
        const [minutesBefore] = await levelRows(store);

        const p = warren(['prune'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
        assert.equal(await p.exited, 0, p.output());
        const out = p.stdout();
        const rolled = Number(/minute rows rolled into hours: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, ''));
        const [minutesAfter, hours, days] = await levelRows(store);
        assert.equal(rolled, minutesBefore! - minutesAfter!, out);
        assert.ok(rolled > 0 && hours! > 0 && days! > 0, out);
        assert.match(out, /hour rows rolled into days: +[\d,]+ \(buckets before \d{4}-\d\d-\d\dT00:00:00Z\)/);
        assert.match(out, /ids forgotten: +0 /);
        assert.match(out, /dedupe horizon: +none \(no id forgotten yet\)/);
        assert.match(p.output().replace(out, ''), /prune: /, 'progress on stderr');
        assert.deepEqual(rows(await store.report({})), totals);
        assert.deepEqual(rows(await store.report({ from: since })), levels);

        const again = warren(['prune', '--json'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
        assert.equal(await again.exited, 0, again.output());
        const r = JSON.parse(again.stdout());
        assert.deepEqual([r.skipped, r.idsPruned, r.minuteRows, r.hourRows], [false, 0, 0, 0]);
        assert.equal(r.rows.counts_minute, minutesAfter);
        assert.equal(r.horizon, null);
      }));
  });
}

test('warren prune while another runner holds the PostgreSQL lock says it skipped', () =>
  withDb('postgres', AT_NOW, async (db) => {
    const store = await db.open({});
    await commitAll(store, spread(50, 32));
    await maintenanceOf(store).exclusive(async () => {
      const p = warren(['prune'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
      assert.equal(await p.exited, 0, p.output());
      assert.match(p.stdout(), /^skipped: another process holds the retention lock/);
    });
  }));
