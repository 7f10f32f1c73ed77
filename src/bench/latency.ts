// Stage 5, end-to-end latency: one confirmed publisher (src/broker/publisher.ts, what the
// simulated clients use) sends events at a fixed rate, each with timestamp = its send time, and
// the event is "visible" when analytics' SSE stream (/api/v1/stream) announces the committed
// batch that holds it. One publisher channel and one consumer keep the queue's order, so the
// k-th event committed is the k-th sent, and each batch's cumulative count maps back to events.
// Its tail is kept in detail (stalls.ts): the windows of events slower than STALL_MS, with the
// broker's confirm times, beside the moments the local broker's quorum WAL rolled over.
import { BrokerConnection, ConfirmedPublisher } from '../broker/index.js';
import { makeEvent } from '../clients/index.js';
import { createLogger } from '../log.js';
import { findBrokerPid } from './broker-proc.js';
import type { Stage } from './stage.js';
import { type StallWindow, stallWindows, type WalRollover, WalWatch } from './stalls.js';
import { percentile, round, sleep } from './util.js';

export interface LatencyResult {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  rateEps: number;
  events: number;
  seconds: number;
  method: 'sse';
  /**
   * Times the local broker's quorum WAL rolled over during the stage (its own files: see
   * brokerWal), the suspect of stalls of about a second; null when the broker is not local.
   */
  walRollovers: number | null;
  /** When each roll-over was seen, from the stage's start (polled every 50 ms). */
  walRolloverAt: WalRollover[];
  /** Publish → confirmed by the broker, ms: the broker's share of the latency. */
  confirm: { p50: number; p99: number; max: number };
  /** The first runs of events slower than STALL_MS to become visible (stalls.ts). */
  stalls: StallWindow[];
}

const TICK_MS = 10;
/** An event slower than this to become visible is part of a stall (the goal's p99 bound). */
export const STALL_MS = 250;

/** Sends at a fixed rate; notes each event's send time and the time the broker confirmed it. */
async function publishPaced(
  pub: ConfirmedPublisher,
  rate: number,
  t: { sentAt: Float64Array; confirmedAt: Float64Array },
) {
  const events = t.sentAt.length;
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < events) {
    const due = Math.min(events, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    const batch = [];
    const first = sent;
    for (; sent < due; sent++) {
      t.sentAt[sent] = performance.now();
      batch.push(makeEvent('bench_latency', 'click'));
    }
    const end = sent;
    if (batch.length)
      pending.push(pub.publish(batch).then(() => void t.confirmedAt.fill(performance.now(), first, end)));
    await sleep(TICK_MS);
  }
  await Promise.all(pending);
}

export async function runLatency(stage: Stage, rate: number, seconds: number): Promise<LatencyResult> {
  const { watcher, env, progress } = stage;
  const log = createLogger('warn', 'bench-latency');
  const config = env.configFor(stage.names);
  const broker = new BrokerConnection({ urls: config.amqpUrls, log, name: 'warren-bench-latency' });
  const pub = new ConfirmedPublisher(broker, {
    exchange: config.exchange,
    window: config.confirmWindow,
    maxPending: Number.MAX_SAFE_INTEGER,
    failFast: false,
    log,
  });
  broker.start();
  try {
    await broker.waitConnected(10_000);
    const events = Math.max(1, Math.round(rate * seconds));
    const sentAt = new Float64Array(events);
    const confirmedAt = new Float64Array(events);
    const visibleAt = new Float64Array(events);
    const t0 = performance.now();
    const wal = new WalWatch(findBrokerPid(config.amqpUrls[0]), t0);
    const base = watcher.total;
    watcher.batches.length = 0;
    watcher.recording = true;
    const ticker = setInterval(
      () =>
        progress.update(
          `${(watcher.total - base).toLocaleString('en-US')} of ${events.toLocaleString('en-US')} visible`,
        ),
      250,
    );
    try {
      await publishPaced(pub, rate, { sentAt, confirmedAt });
      await watcher.until(base + events, stage.timeoutMs(events), 'latency');
    } finally {
      clearInterval(ticker);
      watcher.recording = false;
      wal.stop();
    }
    let k = 0;
    for (const b of watcher.batches) {
      for (; k < Math.min(events, b.total - base); k++) visibleAt[k] = b.at;
    }
    const latencies = visibleAt.map((v, i) => v - sentAt[i]!).sort();
    const confirms = confirmedAt.map((v, i) => v - sentAt[i]!).sort();
    return {
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      p999: round(percentile(latencies, 99.9)),
      max: round(latencies[events - 1]!),
      rateEps: rate,
      events,
      seconds,
      method: 'sse',
      walRollovers: wal.visible ? wal.rollovers.length : null,
      walRolloverAt: wal.rollovers,
      confirm: {
        p50: round(percentile(confirms, 50)),
        p99: round(percentile(confirms, 99)),
        max: round(confirms[events - 1]!),
      },
      stalls: stallWindows({ sentAt, visibleAt, confirmedAt, t0 }, STALL_MS),
    };
  } finally {
    await pub.close();
    await broker.close();
  }
}
