// The AMQP transport: straight to the exchange through the project's own reconnecting connection
// and confirmed publisher. No deadline: after a lost connection the publisher sends every
// unconfirmed message again with the same id, so a batch settles only once the broker has it.
import type { ChannelModel as Connection } from 'amqplib';
import pino from 'pino';
import { BrokerConnection, ConfirmedPublisher } from '../broker/index.js';
import type { Event } from '../event.js';
import type { Logger } from '../log.js';
import type { Transport } from './transport.js';

export interface AmqpTransportOptions {
  /** One or more amqp:// URLs (comma-separated or an array); the connection fails over in turn. */
  amqpUrl: string | string[];
  /** Default eventos_clientes. */
  exchange?: string;
  /** Messages published and not yet confirmed, at most (the publisher's window). */
  window?: number;
  log?: Logger;
  /** Shown in RabbitMQ's connection list. */
  connectionName?: string;
}

export function amqpTransport(opts: AmqpTransportOptions): Transport {
  const log = opts.log ?? pino({ level: 'silent' });
  const urls = (Array.isArray(opts.amqpUrl) ? opts.amqpUrl : opts.amqpUrl.split(','))
    .map((u) => u.trim())
    .filter(Boolean);
  const exchange = opts.exchange ?? 'eventos_clientes';
  const broker = new BrokerConnection({ urls, log, name: opts.connectionName ?? 'warren-sdk' });
  // Only the exchange: its declaration never conflicts. The queue and its arguments belong to
  // analytics (or `warren topology`). Publishes are mandatory: until a queue is bound, the broker
  // returns each event and the publisher keeps it and tries again (backing off), same id.
  const exchangeOnly = async (conn: Connection) => {
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'fanout', { durable: true });
    await ch.close();
  };
  broker.onConnect(exchangeOnly);
  const publisher = new ConfirmedPublisher(broker, {
    exchange,
    window: opts.window ?? 1000,
    maxPending: Number.MAX_SAFE_INTEGER, // the client's own buffer is the bound
    failFast: false,
    log,
    redeclare: exchangeOnly,
  });
  broker.start();

  return {
    kind: 'amqp',
    send(events, signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        // The client fills cliente for AMQP (there is no gateway to take it from a key).
        publisher.publish(events as Event[]).then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (err: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(err);
          },
        );
      });
    },
    async close() {
      await publisher.close();
      await broker.close();
    },
  };
}
