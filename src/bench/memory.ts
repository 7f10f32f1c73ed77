// Stage 7, memory under a backlog: `events` distinct events are published into a queue of the
// run's own while no analytics runs; then an analytics child starts on it and drains it. Its
// resident memory is sampled from /proc/<pid>/status while it works, and the kernel's own peak
// (VmHWM) is read before it stops. The drain rate is a by-product: analytics' speed with a full queue.
import { WarrenError } from '../errors.js';
import { serialize } from '../event.js';
import { publishConfirmed } from './ceiling.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { connectBroker, freePort, procSample, round, sleep } from './util.js';
import { processed } from './watch.js';

export interface MemoryResult {
  backlog: number;
  peakRssMb: number;
  idleRssMb: number;
  drainEps: number;
  drainSeconds: number;
  publishSeconds: number;
}

async function buildBacklog(env: BenchEnv, exchange: string, events: number, progress: Progress) {
  const conn = await connectBroker(env.config.amqpUrls[0]!);
  try {
    const ch = await conn.createConfirmChannel();
    const timestamp = new Date().toISOString();
    const evento = ['click', 'view', 'purchase'];
    await publishConfirmed(
      ch,
      exchange,
      events,
      1000,
      (i) =>
        serialize({
          id: `${env.id}-mem-${i}`,
          cliente: `bench_mem_${i % 10}`,
          evento: evento[i % 3]!,
          timestamp,
        }),
      (n) =>
        progress.update(
          `backlog: ${n.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} published`,
        ),
    );
  } finally {
    await conn.close();
  }
}

export async function runMemory(env: BenchEnv, progress: Progress, events: number): Promise<MemoryResult> {
  const names = env.names('memory');
  await env.declare(names);
  const t0 = performance.now();
  await buildBacklog(env, names.exchange, events, progress);
  const publishSeconds = (performance.now() - t0) / 1000;
  const port = await freePort();
  const databaseUrl = await env.storeUrl('memory');
  const analytics = await spawnWarren({
    name: 'analytics-memory',
    command: 'analytics',
    port,
    dir: env.dir,
    env: env.childEnv(names, {
      ANALYTICS_PORT: String(port),
      DATABASE_URL: databaseUrl,
    }),
  });
  try {
    const idleRssMb = procSample(analytics.pid)?.rssMb ?? Number.NaN;
    // Timed from readiness: start-up is not draining (what it took before then is subtracted).
    const tStart = performance.now();
    const n0 = await processed(analytics.url);
    let peak = 0;
    const deadline = Date.now() + Math.max(120_000, (events / 300) * 1000);
    for (;;) {
      const s = procSample(analytics.pid);
      if (s) peak = Math.max(peak, s.hwmMb, s.rssMb);
      const n = await processed(analytics.url);
      progress.update(
        `drained ${n.toLocaleString('en-US')} of ${events.toLocaleString('en-US')}, RSS ${fmtMb(s?.rssMb)}`,
      );
      if (n >= events) break;
      if (Date.now() > deadline) {
        throw new WarrenError(
          'internal',
          `analytics drained ${n} of ${events} backlog events before the deadline; its log ends with:\n${analytics.tail()}`,
        );
      }
      await sleep(100);
    }
    const drainSeconds = (performance.now() - tStart) / 1000;
    const last = procSample(analytics.pid);
    if (last) peak = Math.max(peak, last.hwmMb);
    return {
      backlog: events,
      peakRssMb: round(peak),
      idleRssMb: round(idleRssMb),
      drainEps: (events - n0) / drainSeconds,
      drainSeconds,
      publishSeconds,
    };
  } finally {
    await analytics.stop();
  }
}

function fmtMb(mb: number | undefined): string {
  return mb === undefined ? '-' : `${Math.round(mb)} MB`;
}
