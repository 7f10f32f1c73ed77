// `warren alerts deliver`: runs the deliverer until a stop signal (like serviceCommand in
// src/command.ts, under the alerts command).
import type { CommandContext } from '../command.js';
import { build } from './deliverer.js';

export async function runDeliver({ config, log, stopSignal }: CommandContext): Promise<number> {
  const deliverer = build(config, log);
  await deliverer.start();
  const sig = await stopSignal;
  log.info({ signal: sig, ...deliverer.stats }, 'stopping the alert deliverer');
  await deliverer.close();
  return 0;
}
