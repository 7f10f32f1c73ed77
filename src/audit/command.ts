// `warren audit`: keeps an NDJSON copy of every message published to the exchange.
import { serviceCommand } from '../command.js';
import { build } from './service.js';

export const command = serviceCommand({
  what: 'audit',
  summary: 'append every published message to rotating NDJSON files in AUDIT_DIR (queue cola_auditoria)',
  usage: 'warren audit',
  build,
  onStop: (audit) => ({ written: audit.written }),
});
