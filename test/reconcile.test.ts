// GET /api/v1/reconcile and `warren reconcile` end to end on the shared broker, on both stores:
// Warren's own publisher (the one ingest, `warren client` and `warren replay` use) reports what
// it attempted and got confirmed; the real analytics service counts and applies the reports.
// A clean run balances; a client's retry of an id is accepted twice, counted once, a duplicate
// once; an invalid event shows as dead_invalid; a report delivered twice counts once; a valid
// dead letter is dead_valid until `warren dlq replay` counts it; events
// purged from the queue behind Warren's back leave the minute unbalanced, and the command exits 1.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import amqp from 'amqplib';
import { build as buildAnalytics, type ReconcileAnswer, type ReconcileRow } from '../src/analytics/index.js';
import { publishingEdge } from '../src/broker/index.js';
import { loadConfig } from '../src/config.js';
import { type Event, PUB_HEADER } from '../src/event.js';
import { createLogger } from '../src/log.js';
import { controlQueueName } from '../src/topology.js';
import { AMQP_URL, getJson, testEnv, waitFor, warren } from './support/helpers.js';
import { kinds } from './support/store.js';

const LOG = 'warn';
const minute = (m: number) => `2025-04-13T12:0${m}:00Z`;
const at = (m: number, s: number) => `2025-04-13T12:0${m}:${String(s).padStart(2, '0')}Z`;

function ev(id: string, cliente: string, m: number, s = 0): Event {
  return { id, cliente, evento: 'click', timestamp: at(m, s) };
}

function rowOf(a: ReconcileAnswer, cliente: string | null, t: string | null): ReconcileRow {
  const r = a.rows.find((x) => x.cliente === cliente && x.t === t);
  assert.ok(r, `no row for ${cliente} at ${t}: ${JSON.stringify(a.rows)}`);
  return r;
}

for (const kind of kinds) {
  describe(`reconcile end to end (${kind.name})`, () => {
    it('balances, counts a retry as a duplicate, shows dead letters, applies a report once, and catches a purge', async (t) => {
      const te = testEnv('recon');
      const db = await kind.fresh();
      const env = { ...te.env, DATABASE_URL: db.url, ANALYTICS_PORT: '0', LOG_LEVEL: LOG };
      const config = loadConfig(env);
      const log = createLogger(LOG, 'test');
      let analytics = buildAnalytics(config, createLogger(LOG, 'analytics'));
      const edge = publishingEdge(config, log, { name: 'recon-test', failFast: false });
      const conn = await amqp.connect(AMQP_URL);
      t.after(async () => {
        await edge.publisher.close();
        await edge.broker.close();
        await conn.close().catch(() => undefined);
        await analytics.close();
        await te.cleanup();
        await db.drop();
      });
      let base = `http://127.0.0.1:${await analytics.start()}`;
      edge.broker.start();
      const reconcile = async (query = '') =>
        (await getJson<ReconcileAnswer>(`${base}/api/v1/reconcile${query}`)).body;
      const settled = (what: string, ok: (a: ReconcileAnswer) => boolean): Promise<ReconcileAnswer> =>
        waitFor(
          what,
          async () => {
            const a = await reconcile();
            return a.in_flight.events === 0 && a.in_flight.reports === 0 && ok(a) ? a : undefined;
          },
          30_000,
          100,
        );

      // A clean run: 2 clients, 150 events each, in minute 1.
      const clean = ['c1', 'c2'].flatMap((c) =>
        Array.from({ length: 150 }, (_, i) => ev(`${c}-${i}`, c, 1, i % 60)),
      );
      await edge.publisher.publish(clean);
      let a = await settled('the clean run counted', (x) => x.totals.counted === 300);
      assert.equal(a.status, 'balanced', JSON.stringify(a));
      assert.deepEqual(
        ['c1', 'c2']
          .map((c) => rowOf(a, c, minute(1)))
          .map((r) => [r.accepted, r.uncertain, r.counted, r.duplicates]),
        [
          [150, 0, 150, 0],
          [150, 0, 150, 0],
        ],
      );

      // A client retries one event with the same id: two publishes, one count, one duplicate.
      await edge.publisher.publish([ev('retry-1', 'c1', 2)]);
      await edge.publisher.publish([ev('retry-1', 'c1', 2)]);
      a = await settled('the retry counted', (x) => x.totals.duplicates === 1);
      const retry = rowOf(a, 'c1', minute(2));
      assert.deepEqual([retry.accepted, retry.counted, retry.duplicates, retry.balanced], [2, 1, 1, true]);
      assert.equal(a.status, 'balanced');

      // Invalid events from an AMQP client outside Warren: one with a client and a time, one not.
      const ch = await conn.createConfirmChannel();
      const bad = { cliente: 'c3', evento: 'not valid!', timestamp: at(3, 0) };
      ch.publish(te.exchange, '', Buffer.from(JSON.stringify(bad)));
      ch.publish(te.exchange, '', Buffer.from('not json'));
      // An event tagged as a reporting publisher's publish, and that publisher's report sent twice.
      const tag = { headers: { [PUB_HEADER]: 'feedfeedfeedfeed.1' }, persistent: true };
      ch.publish(te.exchange, '', Buffer.from(JSON.stringify(ev('tagged-1', 'c5', 5))), tag);
      const report = {
        v: 1,
        reporter: 'feedfeedfeedfeed',
        seq: 1,
        rows: [{ cliente: 'c5', t: Date.parse(minute(5)) / 1000, attempted: 1, accepted: 1 }],
      };
      for (let i = 0; i < 2; i++)
        ch.sendToQueue(controlQueueName(config), Buffer.from(JSON.stringify(report)), { persistent: true });
      await ch.waitForConfirms();
      a = await settled(
        'the dead letters and the report',
        (x) => x.totals.dead_invalid === 2 && x.totals.counted === 302,
      );
      assert.equal(rowOf(a, 'c3', minute(3)).dead_invalid, 1);
      assert.equal(rowOf(a, null, null).dead_invalid, 1);
      const c5 = rowOf(a, 'c5', minute(5));
      assert.deepEqual([c5.accepted, c5.counted, c5.balanced], [1, 1, true], 'the report counted once');
      assert.equal(a.status, 'balanced', JSON.stringify(a));
      // A valid event of a reporting publisher waiting in the DLQ (as a crash loop at the delivery
      // limit leaves it) is dead_valid; `warren dlq replay --all` moves it to counted.
      ch.sendToQueue(te.dlq, Buffer.from(JSON.stringify(ev('dead-1', 'c6', 6))), {
        headers: { [PUB_HEADER]: 'feedfeedfeedfeed.2' },
        persistent: true,
      });
      const report2 = {
        ...report,
        seq: 2,
        rows: [{ ...report.rows[0]!, cliente: 'c6', t: Date.parse(minute(6)) / 1000 }],
      };
      ch.sendToQueue(controlQueueName(config), Buffer.from(JSON.stringify(report2)), { persistent: true });
      await ch.waitForConfirms();
      a = await settled(
        'the valid dead letter',
        (x) => x.totals.dead_valid === 1 && x.totals.accepted === 304,
      );
      const dead = rowOf(a, 'c6', minute(6));
      assert.deepEqual([dead.accepted, dead.counted, dead.dead_valid, dead.balanced], [1, 0, 1, true]);
      const replay = warren(['dlq', 'replay', '--all'], env);
      assert.equal(await replay.exited, 0, replay.output());
      a = await settled(
        'the replayed dead letter counted',
        (x) => x.totals.dead_valid === 0 && x.totals.counted === 303,
      );
      const back = rowOf(a, 'c6', minute(6));
      assert.deepEqual([back.accepted, back.counted, back.dead_valid, back.balanced], [1, 1, 0, true]);
      assert.equal(a.status, 'balanced', JSON.stringify(a));
      const cli = warren(['reconcile'], { ...env, ANALYTICS_URL: base });
      assert.equal(await cli.exited, 0, cli.output());
      assert.match(cli.stdout(), /: balanced/);
      // --from (inclusive) and --to (exclusive) pick minutes of event time; --json prints the answer.
      const some = warren(['reconcile', '--json', '--from', minute(3), '--to', minute(6)], {
        ...env,
        ANALYTICS_URL: base,
      });
      assert.equal(await some.exited, 0, some.output());
      const picked = JSON.parse(some.stdout()) as ReconcileAnswer;
      const minutes = new Set(picked.rows.map((r) => r.t));
      assert.ok(minutes.has(minute(3)) && minutes.has(minute(5)), JSON.stringify([...minutes]));
      for (const t of minutes) assert.ok(t !== null && t >= minute(3) && t < minute(6), `row at ${t}`);
      assert.equal(rowOf(picked, 'c5', minute(5)).counted, 1);
      const badTime = warren(['reconcile', '--from', 'yesterday'], { ...env, ANALYTICS_URL: base });
      assert.equal(await badTime.exited, 2, badTime.output());
      assert.match(badTime.output(), /--from/);

      // Events purged from the queue behind Warren's back, while analytics was away.
      await analytics.close();
      await edge.publisher.publish(Array.from({ length: 10 }, (_, i) => ev(`gone-${i}`, 'c4', 4, i)));
      // Ingest's form: the publish resolved only once the reports counting its attempts and its
      // confirms were confirmed: nothing is left to report or waiting for a confirm, and the
      // control queue already holds all 10 as accepted.
      assert.equal(edge.publisher.accounting?.dirty, false, 'every confirm was reported');
      assert.equal(edge.publisher.pending, 0, 'every report was confirmed');
      const peek = await conn.createChannel();
      let reported = 0;
      for (
        let m = await peek.get(controlQueueName(config));
        m;
        m = await peek.get(controlQueueName(config))
      ) {
        const body = JSON.parse(m.content.toString()) as { rows: { cliente: string; accepted: number }[] };
        for (const r of body.rows) if (r.cliente === 'c4') reported += r.accepted;
      }
      await peek.close(); // hands every report back to the queue (none was acked)
      assert.equal(reported, 10);
      await ch.purgeQueue(te.queue);
      analytics = buildAnalytics(config, createLogger(LOG, 'analytics'));
      base = `http://127.0.0.1:${await analytics.start()}`;
      a = await settled('the purge shows', (x) => x.status === 'unbalanced');
      const gone = rowOf(a, 'c4', minute(4));
      assert.deepEqual([gone.accepted, gone.counted, gone.balanced], [10, 0, false]);
      assert.equal(a.balanced, false);
      const filtered = await reconcile(`?cliente=c1&from=${minute(1)}&to=${minute(2)}`);
      assert.deepEqual(
        filtered.rows.map((r) => [r.cliente, r.t]),
        [['c1', minute(1)]],
      );
      assert.equal(filtered.status, 'balanced');
      const unbalanced = warren(['reconcile', '--cliente', 'c4'], { ...env, ANALYTICS_URL: base });
      assert.equal(await unbalanced.exited, 1, unbalanced.output());
      assert.match(unbalanced.stdout(), /UNBALANCED/);
      await ch.close();
    });
  });
}
