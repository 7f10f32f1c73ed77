import { serviceCommand } from '../command.js';
import { build } from './server.js';

export const command = serviceCommand({
  what: 'the panel',
  summary: 'the live dashboard (port 8080; reads analytics at ANALYTICS_URL, served at /panel via Traefik)',
  usage: 'warren panel',
  build,
});
