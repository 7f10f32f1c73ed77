// Stage 6, queries over a big store: a SQLite file of the run's own is filled directly through
// the store's commit() (the consumer's own transaction, in big batches) with `events` events from
// `clients` clients and `types` event types spread over the last 24 h of event time; then an
// analytics child serves it and each query is timed from this process, one request at a time.
import { join } from 'node:path';
import { createStore } from '../analytics/store/index.js';
import type { ParsedEvent } from '../event.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { freePort, percentile, round, sortedCopy } from './util.js';

export interface QueryFigures {
  p50: number;
  p95: number;
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

async function timeQuery(url: string, requests: number): Promise<QueryFigures> {
  const times: number[] = [];
  // One warm-up request (statement preparation, page cache), not counted.
  for (let i = 0; i <= requests; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  const sorted = sortedCopy(times);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)) };
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
  try {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    const from = new Date(to.getTime() - DAY_MS - 60_000);
    const range = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const run = async (label: string, url: string) => {
      progress.update(label);
      return timeQuery(url, size.requests);
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
  }
}
