// A publishing edge: one reconnecting connection that declares the topology on every (re)connect,
// then a confirmed publisher on it. Used by every Warren publisher (ingest, clients, replay).
import type { ChannelModel as Connection } from 'amqplib';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { controlQueueName, declare } from '../topology.js';
import { BrokerConnection } from './connection.js';
import { ConfirmedPublisher } from './publisher.js';

export interface PublishingEdge {
  broker: BrokerConnection;
  publisher: ConfirmedPublisher;
}

export function publishingEdge(
  config: Config,
  log: Logger,
  opts: {
    name: string;
    failFast: boolean;
    maxPending?: number;
    /** Report attempts and confirms to reconcile's control queue (default: yes). */
    report?: boolean;
    /** Resolve a publish only once its report is confirmed too (default: yes; publisher.ts). */
    awaitReport?: boolean;
  },
): PublishingEdge {
  const broker = new BrokerConnection({
    urls: config.amqpUrls,
    log: log.child({ part: 'broker' }),
    name: opts.name,
  });
  const topology = async (conn: Connection) => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a declare mismatch rejects the call below as well
    await declare(ch, config, { audit: config.audit });
    await ch.close();
  };
  // Registered before the publisher's own setup, so the exchange exists before anything is sent.
  broker.onConnect(topology);
  const publisher = new ConfirmedPublisher(broker, {
    exchange: config.exchange,
    window: config.confirmWindow,
    maxPending: opts.maxPending ?? Number.MAX_SAFE_INTEGER,
    failFast: opts.failFast,
    log: log.child({ part: 'publisher' }),
    // A returned event means the queue was deleted or unbound: declare (and bind) it again.
    redeclare: topology,
    ...(opts.report === false ? {} : { reportTo: controlQueueName(config) }),
    ...(opts.awaitReport === false ? { awaitReport: false } : {}),
  });
  return { broker, publisher };
}
