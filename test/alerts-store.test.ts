// Alerts in the store, on both stores: migration 007 upgrades a database at 006; the commit keeps
// the last arrival per (cliente, evento) (never moved back); an episode opens and closes once
// however many stores (processes) race to do it; and the outbox hands each unpublished message to
// one claimer at a time until it is marked published.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlertMessage, verify } from '../src/alert.js';
import type { Rule } from '../src/alert-rule.js';
import {
  alertsOf,
  type NewFiring,
  type PostgresStore,
  readMigrations,
  SqliteStore,
  type Store,
} from '../src/store/index.js';
import { ev, kinds, withDb } from './support/store.js';

async function exec(store: Store, sql: string): Promise<void> {
  if (store instanceof SqliteStore) store.db.exec(sql);
  else await (store as PostgresStore).pool.query(sql);
}

async function migratedTo(store: Store, last: number): Promise<void> {
  await exec(store, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)');
  for (const m of await readMigrations(store.kind)) {
    if (m.version > last) continue;
    await exec(store, m.sql);
    await exec(store, `INSERT INTO schema_migrations (version) VALUES (${m.version})`);
  }
}

const rule = (id: string): Rule => ({
  id,
  kind: 'silence',
  cliente: 'cliente_uno',
  minutes: 5,
  webhook: 'https://hooks.example/x',
  format: 'json',
  secret: 'secret-123',
  created: 1_000,
});

const firing = (r: string, start: number, state: 'fired' | 'resolved'): NewFiring => ({
  id: `${r}:${new Date(start).toISOString()}:${state}`,
  rule: r,
  kind: 'silence',
  state,
  episodeStart: start,
  at: start + 1,
  summary: `${state} at ${start}`,
  message: JSON.stringify({ state, start }),
});

for (const kind of kinds) {
  describe(`alerts store (${kind.name})`, () => {
    it('upgrades a database at 006 and keeps the last arrival per client and event, never moved back', () => {
      let clock = 1_700_000_000_000;
      return withDb(kind, { now: () => clock }, async (db) => {
        await migratedTo(db.connect(), 6);
        const store = await db.open();
        const done = await db.sql(store, 'SELECT MAX(version) AS v FROM schema_migrations');
        const last = (await readMigrations(store.kind)).at(-1)?.version;
        assert.ok(last !== undefined && last >= 7);
        assert.equal(Number(done[0]?.v), last);
        const a = alertsOf(store)!;
        assert.equal(await a.lastSeen('cliente_uno'), undefined);
        await store.commit([ev('e1', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
        assert.equal(await a.lastSeen('cliente_uno'), clock);
        assert.equal(await a.lastSeen('cliente_uno', 'click'), clock);
        assert.equal(await a.lastSeen('cliente_uno', 'view'), undefined);
        clock += 5_000;
        await store.commit([ev('e2', 'cliente_uno', 'view', '2025-04-13T12:00:00Z')]);
        assert.equal(await a.lastSeen('cliente_uno'), clock);
        assert.equal(await a.lastSeen('cliente_uno', 'click'), clock - 5_000);
        // A duplicate is no arrival of a new event; a clock behind (another process) never moves it back.
        clock -= 60_000;
        await store.commit([ev('e1', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
        await store.commit([ev('e3', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
        assert.equal(await a.lastSeen('cliente_uno', 'click'), clock + 55_000);
        assert.equal(
          await a.windowCount('cliente_uno', 'click', Date.parse('2025-04-13T12:00:00Z') / 1000),
          2,
        );
      });
    });

    it('opens an episode once among racing stores, closes it once, and keeps rules and firings', () =>
      withDb(kind, {}, async (db) => {
        const stores = [await db.open(), await db.open(), await db.open(), await db.open()];
        const [a] = stores.map((s) => alertsOf(s)!);
        await a!.addRule(rule('r1'));
        const opened = await Promise.all(
          stores.map((s) => alertsOf(s)!.open(firing('r1', 100_000, 'fired'))),
        );
        assert.equal(opened.filter(Boolean).length, 1, `one open: ${opened}`);
        // A later start while it is open opens nothing (the episode holds).
        assert.equal(await a!.open(firing('r1', 200_000, 'fired')), false);
        assert.equal((await a!.rules())[0]?.openSince, 100_000);
        // Closing an episode that is not the open one changes nothing.
        assert.equal(await a!.resolve(firing('r1', 999, 'resolved')), false);
        const closed = await Promise.all(
          stores.map((s) => alertsOf(s)!.resolve(firing('r1', 100_000, 'resolved'))),
        );
        assert.equal(closed.filter(Boolean).length, 1, `one close: ${closed}`);
        assert.equal((await a!.rules())[0]?.openSince, undefined);
        const f = await a!.firings(10);
        assert.deepEqual(
          f.map((x) => `${x.state}@${x.episodeStart}`),
          ['resolved@100000', 'fired@100000'],
        );
        assert.equal(await a!.removeRule('r1'), true);
        assert.equal(await a!.removeRule('r1'), false);
        assert.equal((await a!.firings(10)).length, 2, 'its firings stay in the history');
        // The rule is gone: nothing opens for it any more.
        assert.equal(await a!.open(firing('r1', 300_000, 'fired')), false);
      }));

    it('removing a firing rule records its resolution (once, among racing removals); removing a quiet one records none', () =>
      withDb(kind, {}, async (db) => {
        const stores = [await db.open(), await db.open(), await db.open()];
        const [a] = stores.map((s) => alertsOf(s)!);
        await a!.addRule(rule('r1'));
        await a!.addRule(rule('r2'));
        assert.equal(await a!.open(firing('r1', 100_000, 'fired')), true);
        const removed = await Promise.all(stores.map((s) => alertsOf(s)!.removeRule('r1', 500_000)));
        assert.equal(removed.filter(Boolean).length, 1, `one removal: ${removed}`);
        const f = await a!.firings(10);
        assert.deepEqual(
          f.map((x) => x.id),
          ['r1:1970-01-01T00:01:40.000Z:resolved', 'r1:1970-01-01T00:01:40.000Z:fired'],
          'the open episode ends with a resolution of the same episode',
        );
        assert.equal(f[0]!.at, 500_000);
        // It goes out like any resolution: unpublished, with a body signed by the rule's secret.
        const out = await a!.claim(10, 600_000, 700_000);
        const m = JSON.parse(out.find((x) => x.id.endsWith(':resolved'))!.message) as AlertMessage;
        assert.equal(m.alert.state, 'resolved');
        assert.equal(m.alert.episode_start, '1970-01-01T00:01:40.000Z');
        assert.match(m.alert.summary, /removed/);
        assert.equal(m.url, 'https://hooks.example/x');
        assert.ok(verify(m.body, m.signature, 'secret-123'), 'signed with the rule secret');
        assert.equal(await a!.removeRule('r2', 500_000), true);
        assert.equal((await a!.firings(10)).length, 2, 'a rule that was not firing ends with nothing sent');
      }));

    it('hands each unpublished message to one claimer until its lease ends, and never after it is published', () =>
      withDb(kind, {}, async (db) => {
        const s1 = await db.open();
        const s2 = await db.open();
        const a1 = alertsOf(s1)!;
        const a2 = alertsOf(s2)!;
        await a1.addRule(rule('r1'));
        await a1.open(firing('r1', 100, 'fired'));
        await a1.resolve(firing('r1', 100, 'resolved'));
        const [c1, c2] = await Promise.all([a1.claim(10, 1000, 2000), a2.claim(10, 1000, 2000)]);
        assert.equal(c1.length + c2.length, 2, 'two messages, each claimed once');
        const mine = c1.length ? c1 : c2;
        assert.deepEqual(
          mine.map((m) => m.id.split(':').pop()),
          ['fired', 'resolved'],
          'oldest first',
        );
        assert.equal((await a2.claim(10, 1500, 3000)).length, 0, 'leased');
        const again = await a2.claim(10, 2500, 4000);
        assert.equal(again.length, 2, 'the lease ended: anyone may publish them');
        await a2.markPublished([again[0]!.id], 2600);
        await a2.release([again[1]!.id]);
        const left = await a1.claim(10, 2700, 5000);
        assert.deepEqual(
          left.map((m) => m.id),
          [again[1]!.id],
        );
        assert.equal((await a1.firings(10)).filter((x) => x.publishedAt !== undefined).length, 1);
      }));
  });
}
