// Stage 1, the broker's ceiling: minimal amqplib publishers (confirm channels, a window of
// unconfirmed messages, persistent, mandatory) and one consumer (prefetch, manual acks, one
// `multiple` ack per batch) on a queue declared with the real queue's arguments, with real event
// bodies and properties. The same durability as Warren, none of its work: what the paths are
// compared to. It is tuned at least as well as the path (CONTRACT.md "Benchmark"): the same
// connection settings (connectBroker: Nagle off, corked writes), the same publish call
// (publish-fields.ts: fields built once per message), the path's confirm window per
// publisher and its prefetch, and the best of 1, 2 and 4 publishers, each on its own connection.
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { eventProperties, publishFields, sendPublish } from '../broker/index.js';
import { makeEvent } from '../clients/index.js';
import { WarrenError } from '../errors.js';
import { serialize } from '../event.js';
import { findBrokerPid } from './broker-proc.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { CpuMeter, connectBroker, type HostCpu } from './util.js';

/** Publisher counts measured; the best is the ceiling. */
export const CEILING_PUBLISHERS = [1, 2, 4] as const;

export interface CeilingRun {
  publishers: number;
  eps: number;
  seconds: number;
  /** Cores used by the local broker and by this process (publishers + consumer) meanwhile. */
  cpu: Record<string, number>;
  /** The machine's cores meanwhile, by kind (util.ts, HostCpu): where the rest of its CPU went. */
  host: HostCpu | undefined;
}

export interface CeilingResult {
  /** The best run's events/s: `broker_ceiling_eps`. */
  eps: number;
  /** Publishers of the best run. */
  publishers: number;
  messages: number;
  bodyBytes: number;
  seconds: number;
  window: number;
  prefetch: number;
  ackEvery: number;
  /** The best run's cores. */
  cpu: Record<string, number>;
  host: HostCpu | undefined;
  /** Every publisher count measured, in order. */
  runs: CeilingRun[];
}

type Message = { body: Buffer; props: Options.Publish };

/** Real events (UUID v7 ids, ISO times, the simulated clients' names) with Warren's properties. */
export function sampleMessages(count: number): Message[] {
  const eventos = ['click', 'view', 'purchase'];
  return Array.from({ length: count }, (_, i) => {
    const e = makeEvent(`bench_cliente_${(i % 2) + 1}`, eventos[i % 3]!);
    return { body: serialize(e), props: eventProperties(e) };
  });
}

/**
 * Publishes count messages with at most `window` unconfirmed; message(i) gives each body (a Buffer
 * gets persistent JSON properties) or body and properties. Resolves when every one is confirmed;
 * rejects on a nack (the broker refused one).
 */
export async function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  count: number,
  window: number,
  message: (i: number) => Buffer | Message,
  onConfirmed?: (n: number) => void,
): Promise<void> {
  const plain: Options.Publish = { persistent: true, contentType: 'application/json' };
  let sent = 0;
  let confirmed = 0;
  await new Promise<void>((resolve, reject) => {
    if (count === 0) return resolve();
    let blocked = false;
    const onConfirm = (err: unknown) => {
      if (err)
        return reject(
          new WarrenError('broker_unavailable', `the broker did not confirm a message: ${String(err)}`),
        );
      confirmed++;
      onConfirmed?.(confirmed);
      if (confirmed === count) resolve();
      else pump();
    };
    const pump = () => {
      while (!blocked && sent < count && sent - confirmed < window) {
        const m = message(sent);
        // The confirmed publisher's way of publishing (publish-fields.ts), so the ceiling's
        // publishers cost no more per message than the path's.
        const ok = Buffer.isBuffer(m)
          ? sendPublish(ch, publishFields(exchange, '', plain), m, onConfirm)
          : sendPublish(ch, publishFields(exchange, '', { ...m.props, mandatory: true }), m.body, onConfirm);
        sent++;
        if (!ok) blocked = true;
      }
    };
    ch.on('drain', () => {
      blocked = false;
      pump();
    });
    pump();
  });
}

/**
 * Consumes count messages, acking every `ackEvery` with multiple=true; resolves with the time of
 * the last, then cancels the consumer (the queue is used again by the next run).
 */
async function consume(
  conn: ChannelModel,
  queue: string,
  count: number,
  opts: { prefetch: number; ackEvery: number },
): Promise<number> {
  const ch = await conn.createChannel();
  await ch.prefetch(opts.prefetch);
  let seen = 0;
  try {
    return await new Promise<number>((resolve, reject) => {
      ch.on('error', reject);
      void ch.consume(
        queue,
        (msg) => {
          if (!msg)
            return reject(
              new WarrenError('broker_unavailable', `the broker cancelled the consumer of ${queue}`),
            );
          seen++;
          if (seen % opts.ackEvery === 0 || seen === count) ch.ack(msg, true);
          if (seen === count) resolve(performance.now());
        },
        { noAck: false },
      );
    });
  } finally {
    await ch.close().catch(() => undefined);
  }
}

interface RunSetup {
  url: string;
  exchange: string;
  queue: string;
  messages: Message[];
  window: number;
  prefetch: number;
  ackEvery: number;
  progress: Progress;
}

/** One measurement: `publishers` connections share the messages; timed to the last delivery. */
async function runOnce(s: RunSetup, publishers: number): Promise<CeilingRun> {
  const count = s.messages.length;
  const subConn = await connectBroker(s.url);
  const pubConns: ChannelModel[] = [];
  try {
    for (let i = 0; i < publishers; i++) pubConns.push(await connectBroker(s.url));
    const channels = await Promise.all(pubConns.map((c) => c.createConfirmChannel()));
    const done = consume(subConn, s.queue, count, s);
    done.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const brokerPid = findBrokerPid(s.url);
    const meter = new CpuMeter(brokerPid === undefined ? {} : { rabbitmq: brokerPid });
    let confirmed = 0;
    const tick = () => {
      if (++confirmed % 1000 === 0)
        s.progress.update(
          `${publishers} publisher(s): ${confirmed.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} confirmed`,
        );
    };
    const t0 = performance.now();
    await Promise.all(
      channels.map((ch, p) => {
        // Publisher p sends messages p, p + n, p + 2n, …
        const mine = Math.floor(count / publishers) + (p < count % publishers ? 1 : 0);
        return publishConfirmed(ch, s.exchange, mine, s.window, (i) => s.messages[p + i * publishers]!, tick);
      }),
    );
    const tEnd = await done;
    const seconds = (tEnd - t0) / 1000;
    return { publishers, eps: count / seconds, seconds, cpu: meter.read(), host: meter.host() };
  } finally {
    for (const c of pubConns) await c.close().catch(() => undefined);
    await subConn.close().catch(() => undefined);
  }
}

export async function runCeiling(env: BenchEnv, progress: Progress, count: number): Promise<CeilingResult> {
  const names = env.names('ceiling');
  await env.declare(names);
  const { confirmWindow: window, prefetch, batchSize } = env.config;
  // analytics acks once per batch (BATCH_SIZE); never more than half the prefetch, or the
  // consumer would wait for its own ack's round trip.
  const ackEvery = Math.max(1, Math.min(batchSize, Math.floor(prefetch / 2)));
  progress.update(`preparing ${count.toLocaleString('en-US')} events`);
  const messages = sampleMessages(count);
  const setup: RunSetup = {
    url: env.config.amqpUrls[0]!,
    ...names,
    messages,
    window,
    prefetch,
    ackEvery,
    progress,
  };
  const runs: CeilingRun[] = [];
  for (const n of CEILING_PUBLISHERS) runs.push(await runOnce(setup, n));
  const best = runs.reduce((a, b) => (b.eps > a.eps ? b : a));
  return {
    eps: best.eps,
    publishers: best.publishers,
    messages: count,
    bodyBytes: Math.round(messages.reduce((s, m) => s + m.body.length, 0) / count),
    seconds: best.seconds,
    window,
    prefetch,
    ackEvery,
    cpu: best.cpu,
    host: best.host,
    runs,
  };
}
