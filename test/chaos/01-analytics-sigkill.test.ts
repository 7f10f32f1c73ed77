// Scenario 1: `warren analytics` is killed with SIGKILL at random moments (6 times, started again
// each time) while 4 simulated clients, 2 HTTP clients (Idempotency-Key retries) and the SDK send.
// A kill between a commit and its ack makes the broker redeliver a counted batch: it must change
// nothing. Small batches make that window come up often.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, sleep, waitFor } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
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
const MORE_KILLS = 10;

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
      let skippedSoFar = 0;
      let morePlanned = 0;
      // At least KILLS kills, and more (up to MORE_KILLS) until one landed between a commit and its
      // ack, which the next process shows as known ids skipped: the window must be exercised.
      for (let k = 0; k < KILLS + MORE_KILLS; k++) {
        await sleep(between(300, 3000));
        const st = await getJson<{ processed: number; duplicates: number }>(
          `${analytics.base}/api/v1/status`,
        );
        skippedSoFar += st.body.duplicates;
        if (k >= KILLS && skippedSoFar > 0) break;
        // Past the planned kills the load may be over: keep a stream going for the next kill.
        if (k >= KILLS && clients.every((c) => c.proc.child.exitCode !== null)) {
          clients.push(s.client(`k_more_${k}`, size(20_000, 3000)));
          morePlanned += size(20_000, 3000);
          await waitFor(
            'the extra client counted',
            async () =>
              (await getJson<{ processed: number }>(`${analytics.base}/api/v1/status`)).body.processed >
              st.body.processed + 100,
            120_000,
            20,
          );
        }
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
      for (const c of clients) await ledger.addSim(c);
      await Promise.all([http.done, sdk.done]);
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.addIds(sdk.cliente, sdk.ids);
      ledger.sent = simPlanned + morePlanned + http.planned + sdk.planned;

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
        faults: `${kills.length} × SIGKILL analytics`,
        faultsInjected: kills.length,
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
      assert.ok(skipped > 0, `no kill landed between a commit and its ack in ${kills.length} kills`);
    } finally {
      await s.close();
    }
  }),
);
