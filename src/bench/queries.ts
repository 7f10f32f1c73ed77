// Stage 6, queries over a big store: a SQLite file of the run's own is filled directly through
// the store's commit() (the consumer's own transaction, in big batches) with `events` events from
// `clients` clients and `types` event types spread over the last 24 h of event time; then an
// analytics child serves it and each query is timed from this process, one request at a time:
// as a dashboard sees it while nothing is committed (repeated: served from the report cache);
// live (one event published to analytics and committed by it before every request: the kept
// answer brought up to date with that commit, as a dashboard sees it while events flow); and
// cold (one event committed to the file through a connection of this process before every
// request: a change analytics did not make, so the answer is computed from the store).
import http from 'node:http';
import { eventProperties } from '../broker/index.js';
import { WarrenError } from '../errors.js';
import { type Event, type ParsedEvent, serialize } from '../event.js';
import { createStore } from '../store/index.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { connectBroker, freePort, percentile, round, sleep, sortedCopy } from './util.js';

export interface Percentiles {
  p50: number;
  p95: number;
}

/** As served (a repeated query is answered from the report cache until the next commit), live and cold. */
export interface QueryFigures extends Percentiles {
  /** The first ask after analytics committed one event: the kept answer brought up to date. */
  live: Percentiles;
  /** The first ask after another connection committed one event: computed from the store. */
  cold: Percentiles;
}

export interface QueriesResult {
  events: number;
  clients: number;
  types: number;
  requests: number;
  fillSeconds: number;
  reporte: QueryFigures;
  report: QueryFigures;
  timeseries: QueryFigures;
}

const DAY_MS = 86_400_000;
const FILL_BATCH = 50_000;

export async function fill(url: string, events: number, clients: number, types: number, progress: Progress) {
  const store = createStore(url);
  await store.migrate();
  const now = Date.now();
  try {
    for (let done = 0; done < events; ) {
      const n = Math.min(FILL_BATCH, events - done);
      const batch: ParsedEvent[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const k = done + i;
        const ms = now - Math.floor(Math.random() * DAY_MS);
        batch[i] = {
          id: `fill-${k}`,
          cliente: `cliente_${String(k % clients).padStart(5, '0')}`,
          evento: `evento_${String(Math.floor(k / clients) % types).padStart(2, '0')}`,
          timestamp: new Date(ms).toISOString(),
          ms,
        };
      }
      await store.commit(batch);
      done += n;
      progress.update(`filled ${done.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} events`);
    }
  } finally {
    await store.close();
  }
}

// The timed requests go through node:http on one keep-alive connection: fetch's web streams
// cost the client itself 10-30 ms to take in a 3.3 MB answer on a 2-core machine (curl reads the
// same cached answer in about 3 ms), which would be measured as if it were the server's.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function timeRequests(
  url: string,
  requests: number,
  before?: () => Promise<void>,
): Promise<Percentiles> {
  const times: number[] = [];
  // One warm-up request (statement preparation, page cache), not counted.
  for (let i = 0; i <= requests; i++) {
    await before?.();
    const t0 = performance.now();
    const res = await get(url);
    if (res.status !== 200) throw new WarrenError('internal', `${url} answered ${res.status}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  const sorted = sortedCopy(times);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)) };
}

async function timeQuery(
  url: string,
  requests: number,
  commitOne: () => Promise<void>,
  commitLive: () => Promise<void>,
): Promise<QueryFigures> {
  const cold = await timeRequests(url, requests, commitOne);
  const live = await timeRequests(url, requests, commitLive);
  return { ...(await timeRequests(url, requests)), live, cold };
}

export async function runQueries(
  env: BenchEnv,
  progress: Progress,
  size: { events: number; clients: number; types: number; requests: number },
): Promise<QueriesResult> {
  const url = await env.storeUrl('queries');
  const t0 = performance.now();
  await fill(url, size.events, size.clients, size.types, progress);
  const fillSeconds = (performance.now() - t0) / 1000;
  const names = env.names('queries');
  env.track(names);
  const port = await freePort();
  const analytics = await spawnWarren({
    name: 'analytics-queries',
    command: 'analytics',
    port,
    dir: env.dir,
    env: env.childEnv(names, { ANALYTICS_PORT: String(port), DATABASE_URL: url }),
  });
  // The cold requests' commits: a connection of this process on the same file (the way a second
  // analytics process or `warren prune` changes it), one new event a minute ago each time.
  const writer = createStore(url);
  await writer.migrate();
  let extra = 0;
  const commitOne = async () => {
    const ms = Date.now() - 60_000;
    await writer.commit([
      {
        id: `cold-${extra++}`,
        cliente: 'cliente_00000',
        evento: 'evento_00',
        timestamp: new Date(ms).toISOString(),
        ms,
      },
    ]);
  };
  // The live requests' commits: one event published to the queue analytics consumes, waited for
  // until analytics reports it processed (its batch is committed).
  const conn = await connectBroker(env.config.amqpUrls[0]!);
  const ch = await conn.createConfirmChannel();
  const processed = async () =>
    ((await (await fetch(`${analytics.url}/api/v1/status`)).json()) as { processed: number }).processed;
  let live = 0;
  const commitLive = async () => {
    const event: Event = {
      id: `live-${live++}`,
      cliente: 'cliente_00001',
      evento: 'evento_01',
      timestamp: new Date(Date.now() - 60_000).toISOString(),
    };
    const want = (await processed()) + 1;
    ch.publish(names.exchange, '', serialize(event), eventProperties(event));
    await ch.waitForConfirms();
    const deadline = Date.now() + 10_000;
    while ((await processed()) < want) {
      if (Date.now() > deadline)
        throw new WarrenError('internal', 'analytics did not commit the published event within 10 s');
      await sleep(2);
    }
  };
  try {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    const from = new Date(to.getTime() - DAY_MS - 60_000);
    const range = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const run = async (label: string, url: string) => {
      progress.update(label);
      return timeQuery(url, size.requests, commitOne, commitLive);
    };
    const reporte = await run('/reporte', `${analytics.url}/reporte`);
    const report = await run('/api/v1/report', `${analytics.url}/api/v1/report?${range}`);
    const timeseries = await run(
      '/api/v1/timeseries',
      `${analytics.url}/api/v1/timeseries?bucket=minute&${range}`,
    );
    return { ...size, fillSeconds, reporte, report, timeseries };
  } finally {
    await analytics.stop();
    await writer.close();
    await conn.close().catch(() => undefined);
  }
}
