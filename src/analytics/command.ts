import { serviceCommand } from '../command.js';
import { build } from './service.js';

export const command = serviceCommand({
  what: 'analytics',
  summary: 'consume cola_analiticas, count events exactly once, serve /reporte and /api/v1 (port 5064)',
  usage: 'warren analytics',
  build,
});
