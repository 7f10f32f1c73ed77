// Stage 5, end-to-end latency: one confirmed publisher (src/broker/publisher.ts, what the
// simulated clients use) sends events at a fixed rate, each with timestamp = its send time, and
// the event is "visible" when analytics' SSE stream (/api/v1/stream) announces the committed
// batch that holds it. One publisher channel and one consumer keep the queue's order, so the
// k-th event committed is the k-th sent, and each batch's cumulative count maps back to events.
import { BrokerConnection, ConfirmedPublisher } from '../broker/index.js';
import { makeEvent } from '../clients/index.js';
import { createLogger } from '../log.js';
import { brokerWal, findBrokerPid } from './broker-proc.js';
import type { Stage } from './stage.js';
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
}

const TICK_MS = 10;

async function publishPaced(pub: ConfirmedPublisher, rate: number, sentAt: Float64Array) {
  const events = sentAt.length;
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < events) {
    const due = Math.min(events, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    const batch = [];
    for (; sent < due; sent++) {
      sentAt[sent] = performance.now();
      batch.push(makeEvent('bench_latency', 'click'));
    }
    if (batch.length) pending.push(pub.publish(batch));
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
    const brokerPid = findBrokerPid(config.amqpUrls[0]);
    const wal0 = brokerWal(brokerPid);
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
      await publishPaced(pub, rate, sentAt);
      await watcher.until(base + events, stage.timeoutMs(events), 'latency');
    } finally {
      clearInterval(ticker);
      watcher.recording = false;
    }
    const latencies = new Float64Array(events);
    let k = 0;
    for (const b of watcher.batches) {
      for (; k < Math.min(events, b.total - base); k++) latencies[k] = b.at - sentAt[k]!;
    }
    latencies.sort();
    const wal1 = brokerWal(brokerPid);
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
      walRollovers: wal0 && wal1 ? wal1.file - wal0.file : null,
    };
  } finally {
    await pub.close();
    await broker.close();
  }
}
