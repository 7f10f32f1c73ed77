// Scenario 5: competing consumers on one queue and one fresh PostgreSQL database. Two analytics
// start at the same moment against the empty database (concurrent migrations) and share the
// stream; a third joins; then one of the three is SIGKILLed while it holds unacked deliveries
// and the queue has a backlog. The survivors take over its deliveries: some were committed but
// not acked, so they see known ids, which must change nothing.
import { test } from 'node:test';
import type { Status } from '../../src/analytics/index.js';
import { getJson, sleep, waitFor } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
import { HttpLoad } from './load.js';
import { finish, recorded } from './report.js';
import { Scenario, type Service } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '5. 2 then 3 analytics on one queue, one SIGKILLed (PostgreSQL)',
  test: 'chaos 5: 2 then 3 analytics share the queue, one SIGKILLed (PostgreSQL store)',
  file: import.meta.filename,
};

/** What one consumer counted and skipped. */
type Share = Pick<Status, 'processed' | 'duplicates'>;
async function status(a: Service): Promise<Share> {
  const { processed, duplicates } = (await getJson<Status>(`${a.base}/api/v1/status`)).body;
  return { processed, duplicates };
}

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    // Small batches and prefetch: more interleaving, and the killed one dies holding deliveries.
    const s = await Scenario.open('comp', 'postgres', { PREFETCH: '300', BATCH_SIZE: '100' });
    try {
      const [a, b, c] = [await s.analytics(), await s.analytics(), await s.analytics()];
      const ingest = await s.ingest();
      await Promise.all([a.start(), b.start(), ingest.start()]);
      const seconds = Math.max(20, 40 * SCALE);
      const paced = size(20_000, 400);
      const burst = size(20_000, 5000);
      const clients = [
        s.client('c_paced_1', paced, Math.ceil(paced / seconds)),
        s.client('c_paced_2', paced, Math.ceil(paced / seconds)),
      ];
      const httpEvents = size(20_000, 400);
      const http = new HttpLoad({
        targets: () => [ingest.base],
        senders: 2,
        perRequest: 50,
        events: httpEvents,
        rate: httpEvents / seconds,
        prefix: 'c_http',
        keyPrefix: s.te.id,
      }).start();

      await waitFor(
        'a and b both counting',
        async () => (await status(a)).processed > 0 && (await status(b)).processed > 0,
        60_000,
      );
      await sleep(between(1000, 3000));
      await c.start();
      await waitFor('c counting', async () => {
        const sc = await status(c);
        return sc.processed + sc.duplicates > 0;
      });
      const victim = [a, b, c][between(0, 3)]!;
      const before = await status(victim);
      // A burst from a fast publisher: more than three consumers take at once, so when the kill
      // lands the victim holds a full prefetch of unacked deliveries and more wait behind them.
      clients.push(s.client('c_burst', burst));
      const atKill = await waitFor(
        'the victim busy with a backlog behind it',
        async () => {
          const sv = (
            await getJson<Status & { queue: { messages: number | null } }>(`${victim.base}/api/v1/status`)
          ).body;
          const busy = sv.processed + sv.duplicates > before.processed + before.duplicates;
          return busy && (sv.queue.messages ?? 0) > 0 ? { queue: sv.queue.messages } : undefined;
        },
        60_000,
        10,
      );
      const last = await status(victim);
      await victim.kill9();
      const survivors = [a, b, c].filter((x) => x !== victim);

      const ledger = new Ledger();
      for (const cl of clients) await ledger.addSim(cl);
      await http.done;
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.sent = 2 * paced + burst + http.planned;

      // What each survivor counted and skipped (known ids: the victim's committed, unacked work).
      const shares: Record<string, Share> = {};
      const settled = await settle(s, survivors, ledger, {
        timeoutMs: size(300_000, 90_000),
        beforeStop: async () => {
          for (const x of survivors) shares[x.port] = await status(x);
        },
      });
      const skipped = Object.values(shares).reduce((n, x) => n + x.duplicates, 0);
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [a, b, c, ingest],
        faults: 'SIGKILL 1 of 3 consumers mid-stream',
        faultsInjected: 1,
        note: `killed with ${atKill.queue} messages ready; survivors skipped ${skipped} known ids`,
        details: {
          victim: victim.port,
          victim_counted_before_kill: last,
          queue_at_kill: atKill.queue,
          survivors: shares,
          http_retries: http.retries,
          load_seconds: seconds,
        },
      });
    } finally {
      await s.close();
    }
  }),
);
