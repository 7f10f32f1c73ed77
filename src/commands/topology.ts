import type { ChannelModel } from 'amqplib';
import { amqp, redact } from '../broker/index.js';
import type { CommandSpec } from '../command.js';
import { deadLetterNames } from '../config.js';
import { describe, WarrenError } from '../errors.js';
import { controlQueueName, declare } from '../topology.js';

export const command: CommandSpec = {
  summary: 'declare the exchange, queues and bindings on RabbitMQ, then exit',
  usage: 'warren topology [--audit]',
  options: { audit: { type: 'boolean' } },
  help: { audit: `also declare the audit queue (cola_auditoria) bound to the exchange` },
  async run({ config, values }) {
    let lastErr: unknown;
    for (const url of config.amqpUrls) {
      let conn: ChannelModel;
      try {
        conn = await amqp.connect(url);
      } catch (err) {
        lastErr = err;
        process.stderr.write(`warren topology: cannot reach ${redact(url)}: ${describe(err)}\n`);
        continue;
      }
      try {
        const ch = await conn.createChannel();
        await declare(ch, config, { audit: values.audit === true || config.audit });
        const { dlx, dlq } = deadLetterNames(config);
        process.stdout.write(
          `declared exchange ${config.exchange} (fanout), queue ${config.queue} (${config.queueType}), ${dlx} -> ${dlq}, reconcile's control queue ${controlQueueName(config)}\n`,
        );
        return 0;
      } finally {
        await conn.close().catch(() => undefined);
      }
    }
    throw new WarrenError(
      'broker_unavailable',
      `RabbitMQ is not reachable (${describe(lastErr)}); start it with \`rabbitmq-server -detached\` or set AMQP_URL`,
    );
  },
};
