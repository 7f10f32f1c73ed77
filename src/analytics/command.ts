import type { CommandSpec } from '../cli.js';
import { build } from './service.js';

export const command: CommandSpec = {
  summary: 'consume cola_analiticas, count events exactly once, serve /reporte and /api/v1 (port 5064)',
  usage: 'warren analytics',
  options: {},
  help: {},
  async run({ config, log, stopSignal }) {
    const service = build(config, log);
    await service.start();
    const sig = await stopSignal;
    log.info({ signal: sig }, 'stopping analytics');
    await service.close();
    return 0;
  },
};
