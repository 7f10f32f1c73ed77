// Stage 1, the broker's ceiling: a minimal amqplib publisher (confirm channel, a window of
// unconfirmed messages, persistent) and consumer (prefetch, manual acks, one `multiple` ack every
// ACK_EVERY deliveries) on a queue declared with the real queue's arguments, with bodies of a
// real event's size. The same durability as Warren, none of its work: what the paths are compared to.
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { WarrenError } from '../errors.js';
import { serialize } from '../event.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import { CpuMeter, connectBroker, findBrokerPid } from './util.js';

const ACK_EVERY = 100;

export interface CeilingResult {
  eps: number;
  messages: number;
  bodyBytes: number;
  seconds: number;
  window: number;
  prefetch: number;
  /** Cores used by the local broker and by this process (publisher + consumer) meanwhile. */
  cpu: Record<string, number>;
}

/** A real event's body: same fields and lengths as a simulated client's (UUID v7 id, ISO time). */
export function sampleBody(): Buffer {
  return serialize({
    id: '0193a8f2-7c1e-7d6a-9f3b-2b8f1e0c4a11',
    cliente: 'cliente_uno',
    evento: 'purchase',
    timestamp: new Date().toISOString(),
  });
}

/**
 * Publishes count messages with at most `window` unconfirmed; body(i) gives each body.
 * Resolves when every one is confirmed; rejects on a nack (the broker refused one).
 */
export async function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  count: number,
  window: number,
  body: (i: number) => Buffer,
  onConfirmed?: (n: number) => void,
): Promise<void> {
  let sent = 0;
  let confirmed = 0;
  await new Promise<void>((resolve, reject) => {
    let blocked = false;
    const pump = () => {
      while (!blocked && sent < count && sent - confirmed < window) {
        const ok = ch.publish(
          exchange,
          '',
          body(sent),
          { persistent: true, contentType: 'application/json' },
          (err) => {
            if (err)
              return reject(
                new WarrenError('broker_unavailable', `the broker did not confirm a message: ${String(err)}`),
              );
            confirmed++;
            onConfirmed?.(confirmed);
            if (confirmed === count) resolve();
            else pump();
          },
        );
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

/** Consumes count messages, acking every ACK_EVERY with multiple=true; resolves with the time of the last. */
async function consume(conn: ChannelModel, queue: string, count: number, prefetch: number): Promise<number> {
  const ch = await conn.createChannel();
  await ch.prefetch(prefetch);
  let seen = 0;
  return new Promise<number>((resolve, reject) => {
    ch.on('error', reject);
    void ch.consume(
      queue,
      (msg) => {
        if (!msg)
          return reject(
            new WarrenError('broker_unavailable', `the broker cancelled the consumer of ${queue}`),
          );
        seen++;
        if (seen % ACK_EVERY === 0 || seen === count) ch.ack(msg, true);
        if (seen === count) resolve(performance.now());
      },
      { noAck: false },
    );
  });
}

export async function runCeiling(env: BenchEnv, progress: Progress, count: number): Promise<CeilingResult> {
  const names = env.names('ceiling');
  await env.declare(names);
  const window = 1000;
  const prefetch = 1000;
  const url = env.config.amqpUrls[0]!;
  // Two connections, as a real publisher and consumer would have.
  const pubConn = await connectBroker(url);
  const subConn = await connectBroker(url);
  try {
    const body = sampleBody();
    const done = consume(subConn, names.queue, count, prefetch);
    done.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const ch = await pubConn.createConfirmChannel();
    const brokerPid = findBrokerPid();
    const meter = new CpuMeter(brokerPid === undefined ? {} : { rabbitmq: brokerPid });
    const t0 = performance.now();
    await publishConfirmed(
      ch,
      names.exchange,
      count,
      window,
      () => body,
      (n) => progress.update(`${n.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} confirmed`),
    );
    const tEnd = await done;
    const cpu = meter.read();
    const seconds = (tEnd - t0) / 1000;
    return { eps: count / seconds, messages: count, bodyBytes: body.length, seconds, window, prefetch, cpu };
  } finally {
    await pubConn.close().catch(() => undefined);
    await subConn.close().catch(() => undefined);
  }
}
