// Stages 3 and 4, the HTTP paths through Traefik (two ingest instances behind it) with autocannon
// (keep-alive connections, fixed concurrency), in this process. Two checks, or the stage fails:
// analytics counts exactly what the ingest instances say they accepted (their
// warren_ingest_events_accepted_total: nothing lost, nothing counted twice), and at least every
// event answered 202 (a timed run also stops with requests in flight: their events are
// accepted and counted, but the client never sees their 202; they are reported as `unanswered`).
import type { Instance, Result } from 'autocannon';
import { WarrenError } from '../errors.js';
import type { Stage } from './stage.js';
import { type HostCpu, sleep } from './util.js';
import { processed } from './watch.js';

export interface HttpResult {
  /** 202 answers per second while the load ran. */
  rps: number;
  /** Events committed per second, from the first request to the last commit. */
  eps: number;
  requests: number;
  accepted: number;
  failed: number;
  /** Events accepted by ingest whose 202 the load generator did not wait for (in flight at the stop). */
  unanswered: number;
  eventsPerRequest: number;
  connections: number;
  seconds: number;
  latencyMs: { p50: number; p99: number };
  cpu: Record<string, number>;
  /** The machine's cores meanwhile, by kind (util.ts, HostCpu): where the rest of its CPU went. */
  host: HostCpu | undefined;
  /** CPU time of the ingest processes per request answered, in µs (`ingest_cpu_us_per_request`). */
  ingestCpuUsPerRequest: number;
}

interface Load {
  path: '/events' | '/send';
  body: string;
  headers?: Record<string, string>;
  eventsPerRequest: number;
  connections: number;
  /** A number of requests, or a duration in seconds. */
  amount?: number;
  duration?: number;
  what: string;
}

export async function autocannon(): Promise<typeof import('autocannon').default> {
  try {
    return (await import('autocannon')).default;
  } catch (err) {
    throw new WarrenError('config', 'autocannon is missing; run `npm ci` (it is a development dependency)', {
      cause: err,
    });
  }
}

function metric(text: string, name: string, who: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
  if (!m) throw new WarrenError('internal', `${who}'s /metrics has no ${name}`);
  return Number(m[1]);
}

/**
 * Events the ingest instances accepted (broker-confirmed) so far, once none is waiting for a
 * confirm any more (requests cut off at the end of a timed run finish publishing meanwhile).
 */
async function ingestAccepted(stage: Stage): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    let accepted = 0;
    let pending = 0;
    for (const c of stage.ingest) {
      const text = await (await fetch(`${c.url}/metrics`)).text();
      accepted += metric(text, 'warren_ingest_events_accepted_total', c.name);
      pending += metric(text, 'warren_ingest_pending_events', c.name);
    }
    if (pending === 0 || attempt >= 100) return accepted;
    await sleep(100);
  }
}

/**
 * Requests cut off at the end of the run may still be confirmed and counted after the watcher's
 * figure: compares the two sides (ingest accepted, analytics counted) until they agree or the
 * stage's deadline passes, and fails the stage if they never do.
 */
async function reconcile(
  stage: Stage,
  at: { before: number; acceptedBefore: number; answered202: number; events: number },
  what: string,
): Promise<{ counted: number; accepted2: number }> {
  const { before, acceptedBefore, answered202 } = at;
  const deadline = Date.now() + stage.timeoutMs(at.events);
  let counted: number;
  let accepted2: number;
  for (;;) {
    counted = (await processed(stage.analytics.url)) - before;
    accepted2 = (await ingestAccepted(stage)) - acceptedBefore;
    if ((counted === accepted2 && counted >= answered202) || Date.now() > deadline) break;
    await sleep(200);
  }
  if (counted !== accepted2 || counted < answered202) {
    throw new WarrenError(
      'internal',
      `${what}: ingest accepted ${accepted2} events (${answered202} answered 202) but analytics counted ${counted}`,
    );
  }
  return { counted, accepted2 };
}

async function run(stage: Stage, load: Load): Promise<HttpResult> {
  const { watcher, progress } = stage;
  const cannon = await autocannon();
  const base = watcher.total;
  const before = await processed(stage.analytics.url);
  const acceptedBefore = await ingestAccepted(stage);
  const meter = stage.cpuMeter();
  const t0 = performance.now();
  const instance: Instance = cannon({
    url: `${stage.proxyUrl}${load.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...load.headers },
    body: load.body,
    connections: load.connections,
    ...(load.amount ? { amount: load.amount } : { duration: load.duration ?? 5 }),
    timeout: 30,
  });
  let answered = 0;
  instance.on('response', () => {
    answered++;
    if (answered % 50 === 0) progress.update(`${answered.toLocaleString('en-US')} requests answered`);
  });
  const result: Result = await instance;
  const tLoad = performance.now();
  const accepted = result.statusCodeStats['202']?.count ?? 0;
  const failed = result.requests.total - accepted + result.errors;
  const answered202 = accepted * load.eventsPerRequest;
  const events = (await ingestAccepted(stage)) - acceptedBefore;
  progress.update(`${accepted.toLocaleString('en-US')} × 202; waiting for the commits`);
  const tEnd = await watcher.until(base + events, stage.timeoutMs(events), load.what);
  const cpu = meter.read();
  const host = meter.host();
  const ingestCpuS = Object.entries(meter.cpuSeconds())
    .filter(([k]) => k.startsWith('ingest'))
    .reduce((sum, [, v]) => sum + v, 0);
  const { counted, accepted2 } = await reconcile(
    stage,
    { before, acceptedBefore, answered202, events },
    load.what,
  );
  return {
    rps: accepted / ((tLoad - t0) / 1000),
    eps: counted / ((tEnd - t0) / 1000),
    requests: result.requests.total,
    accepted,
    failed,
    unanswered: accepted2 - answered202,
    eventsPerRequest: load.eventsPerRequest,
    connections: load.connections,
    seconds: (tEnd - t0) / 1000,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    cpu,
    host,
    ingestCpuUsPerRequest: (ingestCpuS * 1e6) / Math.max(1, result.requests.total),
  };
}

/** Stage 3: arrays of `batch` events per POST /events, `events` in all. */
export function runHttpBatch(stage: Stage, events: number, batch: number, connections: number) {
  const body = JSON.stringify(
    Array.from({ length: batch }, (_, i) => ({
      cliente: 'bench_http_batch',
      evento: ['click', 'view', 'purchase'][i % 3],
    })),
  );
  return run(stage, {
    path: '/events',
    body,
    eventsPerRequest: batch,
    connections,
    amount: Math.ceil(events / batch),
    what: 'HTTP batch path',
  });
}

/** Stage 4: one event per request, for `seconds`, on POST /events or the seed's POST /send. */
export function runHttpSingle(stage: Stage, path: '/events' | '/send', seconds: number, connections: number) {
  const body =
    path === '/send'
      ? JSON.stringify({ message: 'mensaje de prueba' })
      : JSON.stringify({ cliente: 'bench_http_single', evento: 'click' });
  return run(stage, {
    path,
    body,
    headers: path === '/send' ? { 'x-client-name': 'bench_http_send' } : {},
    eventsPerRequest: 1,
    connections,
    duration: seconds,
    what: `HTTP single path (${path})`,
  });
}
