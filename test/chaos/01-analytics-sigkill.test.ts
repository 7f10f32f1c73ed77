// Scenario 1: `warren analytics` is killed with SIGKILL at random moments (6 times, started again
// each time) while 4 simulated clients, 2 HTTP clients (Idempotency-Key retries) and the SDK send.
// A kill between a commit and its ack makes the broker redeliver a counted batch: it must change
// nothing. Small batches make that window come up often.
import { test } from 'node:test';
import { getJson } from '../helpers.js';
import { between, SCALE, size, sleep } from './knobs.js';
import { mixedLoad, SdkLoad } from './load.js';
import { finish, recorded } from './report.js';
import { Scenario } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '1. analytics SIGKILLed at random moments',
  test: 'chaos 1: analytics SIGKILLed at random moments',
  file: import.meta.filename,
};
const KILLS = 6;

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    const s = await Scenario.open('kill', 'sqlite', { BATCH_SIZE: '100', PREFETCH: '1000' });
    try {
      const analytics = await s.analytics();
      const ingest = await s.ingest();
      await Promise.all([analytics.start(), ingest.start()]);
      const seconds = Math.max(20, 30 * SCALE);
      const fast = size(25_000, 500);
      const paced = size(15_000, 300);
      const { clients, http, simPlanned } = mixedLoad(s, {
        prefix: 'k',
        ingestBase: ingest.base,
        fast,
        paced,
        httpEvents: size(15_000, 400),
        seconds,
      });
      const sdk = new SdkLoad(ingest.base, 'k_sdk', size(10_000, 200), size(10_000, 200) / seconds).start();

      const kills: Record<string, unknown>[] = [];
      for (let k = 0; k < KILLS; k++) {
        await sleep(between(300, 3000));
        const st = await getJson<{ processed: number; duplicates: number }>(
          `${analytics.base}/api/v1/status`,
        );
        const q = await s.queueState();
        await analytics.kill9();
        kills.push({
          at_s: (Date.now() - started) / 1000,
          processed: st.body.processed,
          duplicates_skipped: st.body.duplicates,
          queue: q.messages,
        });
        await analytics.start();
      }

      const ledger = new Ledger();
      for (const c of clients) ledger.addSim(c.name, await c.done);
      await Promise.all([http.done, sdk.done]);
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.addIds(sdk.cliente, sdk.ids);
      ledger.sent = simPlanned + http.planned + sdk.planned;

      // Known ids skipped: redeliveries of batches committed but not acked when the kill came.
      const last = await getJson<{ duplicates: number }>(`${analytics.base}/api/v1/status`);
      const skipped = kills.reduce((n, k) => n + Number(k.duplicates_skipped), 0) + last.body.duplicates;
      const settled = await settle(s, [analytics], ledger, { timeoutMs: size(300_000, 90_000) });
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ingest],
        faults: `${KILLS} × SIGKILL analytics`,
        faultsInjected: KILLS,
        note: `${skipped.toLocaleString('en-US')} redelivered known ids skipped; ${http.retries + sdk.retries} HTTP retries`,
        details: {
          kills,
          known_ids_skipped: skipped,
          http_retries: http.retries,
          http_failures: http.failures,
          sdk_retries: sdk.retries,
          load_seconds: seconds,
        },
      });
    } finally {
      await s.close();
    }
  }),
);
