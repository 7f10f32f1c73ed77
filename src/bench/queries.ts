// Stage 6, queries over a big store: a SQLite file of the run's own is filled directly through
// the store's commit() (the consumer's own transaction, in big batches) with `events` events from
// `clients` clients and `types` event types spread over the last 24 h of event time; then an
// analytics child serves it and each query is timed from this process, one request at a time:
// as a dashboard sees it while nothing is committed (repeated: served from the report cache) and
// cold (one event committed to the file through a connection of this process before every
// request: the first ask after a commit, computed from the store).
import { join } from 'node:path';
import { createStore } from '../analytics/store/index.js';
import type { ParsedEvent } from '../event.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { freePort, percentile, round, sortedCopy } from './util.js';

export interface Percentiles {
  p50: number;
  p95: number;
}

/** As served (a repeated query is answered from the report cache until the next commit), and cold. */
export interface QueryFigures extends Percentiles {
  /** The first ask after a commit: one event is committed before each request. */
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

async function fill(path: string, events: number, clients: number, types: number, progress: Progress) {
  const store = createStore(`sqlite:${path}`);
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
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  const sorted = sortedCopy(times);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)) };
}

async function timeQuery(
  url: string,
  requests: number,
  commitOne: () => Promise<void>,
): Promise<QueryFigures> {
  const cold = await timeRequests(url, requests, commitOne);
  return { ...(await timeRequests(url, requests)), cold };
}

export async function runQueries(
  env: BenchEnv,
  progress: Progress,
  size: { events: number; clients: number; types: number; requests: number },
): Promise<QueriesResult> {
  const path = join(env.dir, 'queries.db');
  const t0 = performance.now();
  await fill(path, size.events, size.clients, size.types, progress);
  const fillSeconds = (performance.now() - t0) / 1000;
  const names = env.names('queries');
  env.track(names);
  const port = await freePort();
  const analytics = await spawnWarren({
    name: 'analytics-queries',
    command: 'analytics',
    port,
    dir: env.dir,
    env: env.childEnv(names, { ANALYTICS_PORT: String(port), DATABASE_URL: `sqlite:${path}` }),
  });
  // The cold requests' commits: a connection of this process on the same file (the way a second
  // analytics process or `warren prune` changes it), one new event a minute ago each time.
  const writer = createStore(`sqlite:${path}`);
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
  try {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    const from = new Date(to.getTime() - DAY_MS - 60_000);
    const range = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const run = async (label: string, url: string) => {
      progress.update(label);
      return timeQuery(url, size.requests, commitOne);
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
  }
}
