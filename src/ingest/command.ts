import { type CommandSpec, serviceCommand } from '../command.js';
import type { ExtraRoutes } from './app.js';
import { build } from './service.js';

/** `warren ingest`, serving `routes` of other parts beside its own (the stack adds the snippet). */
export function ingestCommand(routes: ExtraRoutes = []): CommandSpec {
  return serviceCommand({
    what: 'ingest',
    summary: 'HTTP gateway: POST /send and /events publish to RabbitMQ, 202 once confirmed (port 5046)',
    usage: 'warren ingest',
    build: (config, log) => build(config, log, { routes }),
  });
}
