// What `warren up` prints once everything is ready: where each part answers, and the status file.
import type { Config } from '../config.js';

export interface StackPorts {
  proxy: number;
  api: number;
  analytics: number;
  panel: number;
  ingest: number[];
}

/** The host to put in URLs a person opens on this machine. */
export function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host;
}

/** The address children and probes use to reach a part on this machine. */
export function localAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** The management UI sits next to the first broker, on the plugin's default port. */
function managementUrl(amqpUrl: string | undefined): string {
  const m = /^amqps?:\/\/(?:[^@/]*@)?([^:/?]+|\[[^\]]+\])/.exec(amqpUrl ?? '');
  const host = m?.[1] ?? '127.0.0.1';
  return `http://${host === '127.0.0.1' ? 'localhost' : host}:15672`;
}

export function urlRows(config: Config, ports: StackPorts): [string, string][] {
  const h = displayHost(config.host);
  const proxy = `http://${h}:${ports.proxy}`;
  const rows: [string, string][] = [
    ['panel', `${proxy}/panel`],
    ['report', `${proxy}/reporte`],
    ['send (the seed call)', `${proxy}/send`],
    ['events API', `${proxy}/events`],
    ['analytics API', `${proxy}/api/v1/report`],
    ['analytics (direct)', `http://${h}:${ports.analytics}/reporte`],
  ];
  ports.ingest.forEach((p, i) => {
    rows.push([`ingest-${i + 1} (direct)`, `http://${h}:${p}/send`]);
  });
  rows.push(
    ['panel (direct)', `http://${h}:${ports.panel}/`],
    ['Traefik dashboard', `http://${h}:${ports.api}/dashboard/`],
    ['Traefik routers', `http://${h}:${ports.api}/api/http/routers`],
    ['RabbitMQ management', managementUrl(config.amqpUrls[0])],
  );
  return rows;
}

export function urlTable(
  config: Config,
  ports: StackPorts,
  extra: { clients: string[]; statusFile: string; auth: boolean },
): string {
  const rows = urlRows(config, ports);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = ['', 'Warren is up. Ctrl-C stops everything.', ''];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
  lines.push('');
  if (extra.auth)
    lines.push('  The Traefik dashboard asks for TRAEFIK_DASHBOARD_USER / TRAEFIK_DASHBOARD_PASSWORD.');
  if (config.readUser)
    lines.push(
      '  The panel, /reporte and /api ask for READ_USER / READ_PASSWORD (or a read key: warren keys add --read NAME).',
    );
  lines.push(
    `  simulated clients: ${extra.clients.length ? extra.clients.join(', ') : 'none'}`,
    `  process ids: ${extra.statusFile}`,
    '',
  );
  return lines.join('\n');
}
