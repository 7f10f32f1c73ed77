// A publishing edge: one reconnecting connection that declares the topology on every (re)connect,
// then a confirmed publisher on it. Used by every Warren publisher (ingest, clients, replay).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { declare } from '../topology.js';
import { BrokerConnection } from './connection.js';
import { ConfirmedPublisher } from './publisher.js';

export interface PublishingEdge {
  broker: BrokerConnection;
  publisher: ConfirmedPublisher;
}

export function publishingEdge(
  config: Config,
  log: Logger,
  opts: { name: string; failFast: boolean; maxPending?: number },
): PublishingEdge {
  const broker = new BrokerConnection({
    urls: config.amqpUrls,
    log: log.child({ part: 'broker' }),
    name: opts.name,
  });
  // Registered before the publisher's own setup, so the exchange exists before anything is sent.
  broker.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: config.audit });
    await ch.close();
  });
  const publisher = new ConfirmedPublisher(broker, {
    exchange: config.exchange,
    window: config.confirmWindow,
    maxPending: opts.maxPending ?? Number.MAX_SAFE_INTEGER,
    failFast: opts.failFast,
    log: log.child({ part: 'publisher' }),
  });
  return { broker, publisher };
}
