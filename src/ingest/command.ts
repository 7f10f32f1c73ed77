import type { CommandSpec } from '../cli.js';
import { build } from './service.js';

export const command: CommandSpec = {
  summary: 'HTTP gateway: POST /send and /events publish to RabbitMQ, 202 once confirmed (port 5046)',
  usage: 'warren ingest',
  options: {},
  help: {},
  async run({ config, log, stopSignal }) {
    const service = build(config, log);
    await service.start();
    const sig = await stopSignal;
    log.info({ signal: sig }, 'stopping ingest');
    await service.close();
    return 0;
  },
};
