import type { CommandSpec } from '../cli.js';
import { build } from './server.js';

export const command: CommandSpec = {
  summary: 'the live dashboard (port 8080; reads analytics at ANALYTICS_URL, served at /panel via Traefik)',
  usage: 'warren panel',
  options: {},
  help: {},
  async run({ config, log, stopSignal }) {
    const panel = build(config, log);
    await panel.start();
    const sig = await stopSignal;
    log.info({ signal: sig }, 'stopping the panel');
    await panel.close();
    return 0;
  },
};
