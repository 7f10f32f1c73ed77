// Scenario 4: the PostgreSQL store, and the local PostgreSQL cluster really restarted
// (`pg_ctlcluster --skip-systemctl-redirect <version> main restart`) 3 times during load. Analytics
// keeps the batch it could not commit, backs off and retries it; nothing is acked meanwhile and no
// valid event is dead-lettered. PostgreSQL is up again at the end, even when the scenario fails.
import { test } from 'node:test';
import { getJson, sleep, waitFor } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
import { mixedLoad } from './load.js';
import { ensurePostgresUp, restartPostgres } from './postgres.js';
import { finish, recorded } from './report.js';
import { Scenario } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '4. PostgreSQL restarted during load (PostgreSQL store)',
  test: 'chaos 4: PostgreSQL restarted during load (PostgreSQL store)',
  file: import.meta.filename,
};
const RESTARTS = 3;

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    await ensurePostgresUp();
    const s = await Scenario.open('pg', 'postgres');
    try {
      const analytics = await s.analytics();
      const ingest = await s.ingest();
      await Promise.all([analytics.start(), ingest.start()]);
      const seconds = Math.max(20, 40 * SCALE);
      const fast = size(20_000, 400);
      const paced = size(20_000, 400);
      const { clients, http, simPlanned } = mixedLoad(s, {
        prefix: 'p',
        ingestBase: ingest.base,
        fast,
        paced,
        httpEvents: size(20_000, 400),
        seconds,
      });

      // Each restart lands while analytics is busy: a burst just before it leaves a backlog,
      // so a commit is in flight (at every scale) when the server goes away.
      const burst = 10_000;
      const processed = async () =>
        (await getJson<{ processed: number }>(`${analytics.base}/api/v1/status`)).body.processed;
      const restarts: Record<string, unknown>[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        await sleep(between(1000, 4000));
        const before = await processed();
        clients.push(s.client(`p_burst_${i + 1}`, burst));
        await waitFor(
          'analytics counting the burst',
          async () => (await processed()) > before + 500,
          30_000,
          20,
        );
        const q = await s.queueState();
        const at = (Date.now() - started) / 1000;
        restarts.push({ at_s: at, queue: q.messages, restart_s: await restartPostgres() });
      }

      const ledger = new Ledger();
      for (const c of clients) await ledger.addSim(c);
      await http.done;
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.sent = simPlanned + RESTARTS * burst + http.planned;

      const settled = await settle(s, [analytics], ledger, { timeoutMs: size(300_000, 90_000) });
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ingest],
        faults: `${RESTARTS} × pg_ctlcluster restart`,
        faultsInjected: RESTARTS,
        note: `restart to first answer: ${restarts.map((r) => `${Number(r.restart_s).toFixed(1)} s`).join(', ')}`,
        details: {
          restarts,
          http_retries: http.retries,
          http_failures: http.failures,
          load_seconds: seconds,
        },
      });
    } finally {
      await s.close();
      await ensurePostgresUp();
    }
  }),
);
