// The audit consumer: every message published to the exchange reaches its own queue
// (cola_auditoria) and is appended to rotating NDJSON files; a batch is acked only after its
// lines are on disk (fdatasync). A crash between sync and ack writes those lines again on
// redelivery: harmless, replay counts an id once.
import { ACK, BatchingConsumer, BrokerConnection } from '../broker/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { declare } from '../topology.js';
import { toLine } from './record.js';
import { RotatingWriter } from './writer.js';

export interface Audit {
  broker: BrokerConnection;
  writer: RotatingWriter;
  /** Messages written since start. */
  readonly written: number;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function build(config: Config, log: Logger): Audit {
  const broker = new BrokerConnection({
    urls: config.amqpUrls,
    log: log.child({ part: 'broker' }),
    name: 'warren-audit',
  });
  const writer = new RotatingWriter({ dir: config.auditDir, maxBytes: config.auditMaxBytes, log });
  let written = 0;
  broker.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: true });
    await ch.close();
  });
  const consumer = new BatchingConsumer(broker, {
    queue: config.auditQueue,
    prefetch: config.prefetch,
    batchSize: config.batchSize,
    batchWaitMs: config.batchWaitMs,
    log: log.child({ part: 'consumer' }),
    handler: async (batch) => {
      const at = new Date();
      // Throws on a disk error: the consumer keeps the batch and retries it (nothing acked).
      await writer.append(batch.map((msg) => toLine(msg, at)));
      written += batch.length;
      return batch.map(() => ACK);
    },
    onHealth: (healthy, err) => {
      if (healthy) log.info('audit files are writable again');
      else
        log.error({ err: String(err) }, `cannot write audit files in ${config.auditDir}; holding the batch`);
    },
  });

  return {
    broker,
    writer,
    get written() {
      return written;
    },
    async start() {
      broker.start();
      log.info({ dir: config.auditDir, queue: config.auditQueue }, 'auditing every published message');
    },
    async close() {
      await consumer.close();
      await broker.close();
      await writer.close();
    },
  };
}
