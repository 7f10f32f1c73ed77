// `warren audit`: keeps an NDJSON copy of every message published to the exchange.
import { build } from '../audit/service.js';
import type { CommandSpec } from '../cli.js';

export const command: CommandSpec = {
  summary: 'append every published message to rotating NDJSON files in AUDIT_DIR (queue cola_auditoria)',
  usage: 'warren audit',
  options: {},
  help: {},
  async run({ config, log, stopSignal }) {
    const audit = build(config, log);
    await audit.start();
    const sig = await stopSignal;
    log.info({ signal: sig, written: audit.written }, 'stopping audit');
    await audit.close();
    return 0;
  },
};
