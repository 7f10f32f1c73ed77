// The alert evaluator over a real store (both stores) on a settable clock (README "Alerts"):
// threshold rules above and below fire once when the sliding window crosses, hold without
// repeating, and resolve once; a silence episode that ended and began again between two passes
// is resolved and a new one fired; each recorded message is signed with the rule's secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertMessageSchema, verify } from '../src/alert.js';
import { newRule, ruleInputSchema } from '../src/alert-rule.js';
import { AlertEvaluator } from '../src/analytics/alerts.js';
import { createLogger } from '../src/log.js';
import { alertsOf, type Store } from '../src/store/index.js';
import { ev, kinds, withDb } from './support/store.js';

const T0 = Date.parse('2025-04-13T12:00:30Z');

function evaluator(store: Store, now: () => number): AlertEvaluator {
  return new AlertEvaluator({
    store: () => store,
    queueStatus: async () => ({ name: 'q', messages: 0, consumers: 0, deadLetters: 0 }),
    evalMs: 1000,
    log: createLogger('silent'),
    recorded: () => undefined,
    now,
  });
}

async function add(store: Store, input: unknown, created: number) {
  const rule = newRule(ruleInputSchema.parse(input), created);
  await alertsOf(store)!.addRule(rule);
  return rule;
}

async function states(store: Store, rule: string): Promise<string[]> {
  const f = await alertsOf(store)!.firings(100);
  return f
    .filter((x) => x.rule === rule)
    .reverse()
    .map((x) => `${x.state}@${new Date(x.episodeStart).toISOString()}`);
}

for (const kind of kinds) {
  describe(`alert evaluator (${kind.name})`, () => {
    it('threshold above and below: fire once on crossing, no repeat while it holds, resolve once', () => {
      let clock = T0;
      return withDb(kind, { now: () => clock }, async (db) => {
        const store = await db.open();
        const e = evaluator(store, () => clock);
        const hook = { webhook: 'http://h/x', secret: 'the-secret-1' };
        const up = await add(
          store,
          { kind: 'threshold', cliente: 'c', evento: 'click', minutes: 1, above: 2, ...hook },
          T0,
        );
        const down = await add(
          store,
          { kind: 'threshold', cliente: 'd', evento: 'buy', minutes: 1, below: 2, ...hook },
          T0,
        );
        await e.evaluate();
        assert.deepEqual(await states(store, up.id), [], 'no events: not above');
        assert.deepEqual(
          await states(store, down.id),
          ['fired@2025-04-13T12:00:30.000Z'],
          'no events: below',
        );
        await store.commit(['1', '2', '3'].map((i) => ev(`c${i}`, 'c', 'click', '2025-04-13T12:00:10Z')));
        await store.commit(['1', '2'].map((i) => ev(`d${i}`, 'd', 'buy', '2025-04-13T12:00:10Z')));
        clock += 1000;
        for (let i = 0; i < 3; i++) await e.evaluate();
        assert.deepEqual(await states(store, up.id), ['fired@2025-04-13T12:00:31.000Z'], '3 > 2, once');
        assert.deepEqual(await states(store, down.id), [
          'fired@2025-04-13T12:00:30.000Z',
          'resolved@2025-04-13T12:00:30.000Z',
        ]);
        clock += 3 * 60_000; // the window slides past the events
        for (let i = 0; i < 3; i++) await e.evaluate();
        assert.deepEqual(await states(store, up.id), [
          'fired@2025-04-13T12:00:31.000Z',
          'resolved@2025-04-13T12:00:31.000Z',
        ]);
        assert.deepEqual(await states(store, down.id), [
          'fired@2025-04-13T12:00:30.000Z',
          'resolved@2025-04-13T12:00:30.000Z',
          'fired@2025-04-13T12:03:31.000Z',
        ]);
        // Every recorded message is ready to send: signed with the rule's secret.
        const out = await alertsOf(store)!.claim(100, clock, clock + 1000);
        assert.equal(out.length, 5);
        for (const m of out) {
          const msg = alertMessageSchema.parse(JSON.parse(m.message));
          assert.equal(msg.alert.id, m.id);
          assert.ok(verify(msg.body, msg.signature, 'the-secret-1'));
        }
      });
    });

    it('silence: a client back and quiet again between two passes ends one episode and starts the next', () => {
      let clock = T0;
      return withDb(kind, { now: () => clock }, async (db) => {
        const store = await db.open();
        const e = evaluator(store, () => clock);
        const rule = await add(
          store,
          { kind: 'silence', cliente: 'c', minutes: 1, webhook: 'http://h/x' },
          T0,
        );
        await store.commit([ev('a', 'c', 'click', '2025-04-13T12:00:00Z')]); // arrives at T0
        clock = T0 + 59_000;
        assert.equal(await e.evaluate(), T0 + 60_000, 'due when the minute is up');
        assert.deepEqual(await states(store, rule.id), []);
        clock = T0 + 60_000;
        await e.evaluate();
        await e.evaluate();
        assert.deepEqual(await states(store, rule.id), ['fired@2025-04-13T12:01:30.000Z']);
        clock = T0 + 70_000;
        await store.commit([ev('b', 'c', 'view', '2025-04-13T12:00:00Z')]); // back at T0 + 70 s
        clock = T0 + 200_000; // and quiet again, unseen by any pass
        await e.evaluate();
        await e.evaluate();
        assert.deepEqual(await states(store, rule.id), [
          'fired@2025-04-13T12:01:30.000Z',
          'resolved@2025-04-13T12:01:30.000Z',
          'fired@2025-04-13T12:02:40.000Z',
        ]);
      });
    });

    it('silence with a window of a fraction of a millisecond: whole-millisecond episode starts; slack bodies', () => {
      let clock = T0;
      return withDb(kind, { now: () => clock }, async (db) => {
        const store = await db.open();
        const e = evaluator(store, () => clock);
        const rule = await add(
          store,
          { kind: 'silence', cliente: 'c', minutes: 0.0000123, webhook: 'http://h/x' },
          T0,
        );
        clock = T0 + 5;
        await e.evaluate();
        assert.deepEqual(await states(store, rule.id), ['fired@2025-04-13T12:00:30.001Z']);
      });
    });
  });
}
