// Stage 7, counting under read load: an analytics process of its own serves a big store (filled
// as in stage 6); the AMQP path (stage 2) and publish → visible latency (stage 5) are measured
// against it twice: alone, then while `connections` clients keep asking 24 h reports with a
// random `from` (every answer computed from the store: none is in the report cache). Reports
// run in read worker processes (src/analytics/read-process.ts; their CPU counts as analytics'),
// so counting should barely notice: the goal is the loaded rate >= 0.8x the unloaded one and the
// loaded latency p99 <= 250 ms.
import http from 'node:http';
import { WarrenError } from '../errors.js';
import { runAmqpPath } from './amqp.js';
import { findBrokerPid } from './broker-proc.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import { runLatency } from './latency.js';
import type { Progress } from './progress.js';
import { fill } from './queries.js';
import type { Stage } from './stage.js';
import { CpuMeter, freePort, percentile, round, sortedCopy } from './util.js';
import { CommitWatcher } from './watch.js';

export interface CountingFigures {
  amqpEps: number;
  latencyP50: number;
  latencyP99: number;
  /** Cores used per process during the AMQP path. */
  cpu: Record<string, number>;
}

export interface ReadsResult {
  events: number;
  clients: number;
  connections: number;
  alone: CountingFigures;
  loaded: CountingFigures;
  /** Loaded AMQP rate over the unloaded one. */
  ratio: number;
  reports: { ok: number; refused: number; p50: number; p95: number; perSecond: number };
}

export interface ReadsSize {
  events: number;
  clients: number;
  types: number;
  amqpEvents: number;
  amqpClients: number;
  latencySeconds: number;
  connections: number;
}

const DAY_MS = 86_400_000;

/** Clients asking uncached 24 h reports until stopped. */
class ReportLoad {
  private stopped = false;
  private readonly agent: http.Agent;
  private readonly runs: Promise<void>[] = [];
  readonly times: number[] = [];
  ok = 0;
  refused = 0;
  private t0 = 0;
  seconds = 0;

  constructor(
    private readonly url: string,
    private readonly connections: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  }

  start(): void {
    this.t0 = performance.now();
    for (let i = 0; i < this.connections; i++) this.runs.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const to = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
      // A `from` to the millisecond within the first hour of the day: no two asks alike.
      const from = to - DAY_MS + Math.floor(Math.random() * 3_600_000);
      const t0 = performance.now();
      const status = await this.get(
        `${this.url}/api/v1/report?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`,
      );
      if (status === 200) {
        this.ok++;
        this.times.push(performance.now() - t0);
      } else if (status === 503) {
        this.refused++;
        // Retry-After is 1 s: a client that honours it.
        await new Promise((r) => setTimeout(r, 1000));
      } else throw new WarrenError('internal', `a report answered ${status}`);
    }
  }

  private get(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
      http
        .get(url, { agent: this.agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.seconds = (performance.now() - this.t0) / 1000;
    await Promise.all(this.runs);
    this.agent.destroy();
  }
}

async function counting(stage: Stage, size: ReadsSize, rate: number | undefined): Promise<CountingFigures> {
  const amqp = await runAmqpPath(stage, size.amqpEvents, size.amqpClients);
  const latency = await runLatency(
    stage,
    rate ?? Math.max(10, Math.round(amqp.eps / 2)),
    size.latencySeconds,
  );
  return { amqpEps: amqp.eps, latencyP50: latency.p50, latencyP99: latency.p99, cpu: amqp.cpu };
}

/** Counting alone, then at half that rate while the readers ask reports. */
async function measure(stage: Stage, analyticsUrl: string, size: ReadsSize) {
  stage.progress.update('counting alone');
  const alone = await counting(stage, size, undefined);
  const rate = Math.max(10, Math.round(alone.amqpEps / 2));
  const load = new ReportLoad(analyticsUrl, size.connections);
  load.start();
  try {
    stage.progress.update(`counting while ${size.connections} connections ask uncached 24 h reports`);
    const loaded = await counting(stage, size, rate);
    return { alone, loaded, load };
  } finally {
    await load.stop();
  }
}

export async function runReads(env: BenchEnv, progress: Progress, size: ReadsSize): Promise<ReadsResult> {
  const url = await env.storeUrl('reads');
  await fill(url, size.events, size.clients, size.types, progress);
  const names = env.names('reads');
  env.track(names);
  const port = await freePort();
  const analytics = await spawnWarren({
    name: 'analytics-reads',
    command: 'analytics',
    port,
    dir: env.dir,
    env: env.childEnv(names, { ANALYTICS_PORT: String(port), DATABASE_URL: url }),
  });
  env.onCleanup(() => analytics.stop());
  const watcher = await CommitWatcher.open(analytics.url);
  env.onCleanup(async () => watcher.close());
  const pids: Record<string, number> = { analytics: analytics.pid };
  const brokerPid = findBrokerPid(env.config.amqpUrls[0]);
  if (brokerPid !== undefined) pids.rabbitmq = brokerPid;
  const stage: Stage = {
    env,
    names,
    progress,
    analytics,
    ingest: [],
    proxyUrl: '',
    watcher,
    cpuMeter: () => new CpuMeter(pids),
    timeoutMs: (events) => Math.max(60_000, (events / 300) * 1000),
  };
  let measured: Awaited<ReturnType<typeof measure>>;
  try {
    measured = await measure(stage, analytics.url, size);
  } finally {
    // Stopped with its pass: under --repeat the next pass consumes the same queue, and a consumer
    // left from this one would take half of its events (the next pass then waits for them).
    watcher.close();
    await analytics.stop();
  }
  const { alone, loaded, load } = measured;
  const sorted = sortedCopy(load.times);
  return {
    events: size.events,
    clients: size.clients,
    connections: size.connections,
    alone,
    loaded,
    ratio: round(loaded.amqpEps / alone.amqpEps, 3),
    reports: {
      ok: load.ok,
      refused: load.refused,
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      perSecond: round(load.ok / load.seconds, 1),
    },
  };
}
