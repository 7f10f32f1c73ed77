// The whole stack on one machine: analytics, N ingest instances, the panel, the alert deliverer,
// Traefik in front and the simulated clients, each a child process under one Supervisor (STYLE.md convention 1:
// build() here, the CLI wiring in command.ts).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { amqp, redact } from '../broker/index.js';
import type { Config } from '../config.js';
import { describe, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { declare } from '../topology.js';
import { stopLeftovers } from './leftovers.js';
import { planPorts } from './ports.js';
import { httpReady } from './process.js';
import { type ChildSpec, type ChildStatus, Supervisor } from './supervisor.js';
import { findTraefik, REPO_ROOT, traefikChild } from './traefik.js';
import { localAddress, type StackPorts } from './urls.js';

export interface StackOptions {
  clients: number;
  ingest: number;
  /** Events per second of each simulated client. */
  clientRate: number;
}

export interface StackInfo {
  ports: StackPorts;
  clients: string[];
  statusFile: string;
}

/** cliente_uno, cliente_dos (the seed's names), then cliente_3, cliente_4, … */
export function clientNames(n: number): string[] {
  const seed = ['cliente_uno', 'cliente_dos'];
  return Array.from({ length: n }, (_, i) => seed[i] ?? `cliente_${i + 1}`);
}

async function declareTopology(config: Config, log: Logger): Promise<void> {
  let lastErr: unknown;
  for (const url of config.amqpUrls) {
    try {
      const conn = await amqp.connect(url);
      try {
        await declare(await conn.createChannel(), config, { audit: config.audit });
        log.info({ url: redact(url), exchange: config.exchange, queue: config.queue }, 'topology declared');
        return;
      } finally {
        await conn.close().catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof WarrenError) throw err;
      lastErr = err;
    }
  }
  throw new WarrenError(
    'internal',
    `RabbitMQ is not reachable at ${config.amqpUrls.map(redact).join(', ')} (${describe(lastErr)}); start it with \`rabbitmq-server -detached\` (or \`docker compose up -d rabbitmq\`) or set AMQP_URL`,
  );
}

async function resolvePorts(config: Config, ingest: number): Promise<StackPorts> {
  const plan = await planPorts(config.host, [
    { who: 'Traefik web entrypoint', variable: 'PROXY_PORT', port: config.proxyPort },
    { who: 'Traefik dashboard', variable: 'TRAEFIK_API_PORT', port: config.traefikApiPort },
    { who: 'analytics', variable: 'ANALYTICS_PORT', port: config.analyticsPort },
    { who: 'panel', variable: 'PANEL_PORT', port: config.panelPort },
    ...Array.from({ length: ingest }, (_, i) => ({
      who: `ingest-${i + 1}`,
      variable: i === 0 ? 'INGEST_PORT' : `INGEST_PORT+${i}`,
      // INGEST_PORT=0 gives every instance a free port of its own.
      port: config.ingestPort === 0 ? 0 : config.ingestPort + i,
    })),
  ]);
  const at = (i: number) => plan[i]?.port as number;
  return {
    proxy: at(0),
    api: at(1),
    analytics: at(2),
    panel: at(3),
    ingest: plan.slice(4).map((p) => p.port),
  };
}

function writeStatus(file: string, ports: StackPorts, children: ChildStatus[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ pid: process.pid, ports, children }, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Traefik in front of the parts just started: routers, health checks, and auth where configured. */
function traefikFor(
  config: Config,
  at: {
    dir: string;
    bin: string;
    local: string;
    ports: StackPorts;
    analyticsUrl: string;
    ingestUrls: string[];
  },
): ChildSpec {
  const dashboard =
    config.dashboardUser && config.dashboardPassword
      ? { user: config.dashboardUser, password: config.dashboardPassword }
      : undefined;
  return traefikChild({
    dir: join(at.dir, 'traefik'),
    bin: at.bin,
    host: config.host,
    proxyPort: at.ports.proxy,
    apiPort: at.ports.api,
    panelUrl: `http://${at.local}:${at.ports.panel}`,
    analyticsUrl: at.analyticsUrl,
    ingestUrls: at.ingestUrls,
    dashboard,
    rateLimit: config.proxyRateLimit,
    // Every ingest instance answers /auth/read from the same keys file; the first one is asked.
    readAuthUrl: config.readUser ? `${at.ingestUrls[0]}/auth/read` : undefined,
  });
}

export function build(config: Config, log: Logger, opts: StackOptions) {
  const dir = resolve(config.stackDir);
  const statusFile = join(dir, 'status.json');
  let ports: StackPorts | undefined;
  const supervisor = new Supervisor({
    log,
    onChange: (children) => {
      if (ports) writeStatus(statusFile, ports, children);
    },
  });
  const timeoutMs = config.readyTimeoutS * 1000;
  const bin = join(REPO_ROOT, 'bin', 'warren.js');
  const local = localAddress(config.host);
  const part = (name: string, args: string[], env: Record<string, string>, port?: number): ChildSpec => ({
    name,
    command: process.execPath,
    args: [bin, ...args],
    env,
    ...(port === undefined
      ? {}
      : { ready: httpReady(`http://${local}:${port}/readyz`), readyWhat: `http://${local}:${port}/readyz` }),
  });

  async function start(): Promise<StackInfo> {
    const traefikBin = findTraefik(config.traefikBin); // before anything starts: fail early
    await stopLeftovers(statusFile, log);
    const p = await resolvePorts(config, opts.ingest);
    ports = p;
    await declareTopology(config, log);
    mkdirSync(dir, { recursive: true });
    const analyticsUrl = `http://${local}:${p.analytics}`;
    const clients = clientNames(opts.clients);
    const ingestUrls = p.ingest.map((port) => `http://${local}:${port}`);

    await supervisor.startTier(
      [part('analytics', ['analytics'], { ANALYTICS_PORT: String(p.analytics) }, p.analytics)],
      timeoutMs,
    );
    await supervisor.startTier(
      p.ingest.map((port, i) => part(`ingest-${i + 1}`, ['ingest'], { INGEST_PORT: String(port) }, port)),
      timeoutMs,
    );
    await supervisor.startTier(
      [
        part('panel', ['panel'], { PANEL_PORT: String(p.panel), ANALYTICS_URL: analyticsUrl }, p.panel),
        // The alert webhooks (README "Alerts"): no port; alive is ready, the queue holds its work.
        part('alerts', ['alerts', 'deliver'], {}),
      ],
      timeoutMs,
    );
    const traefik = traefikFor(config, { dir, bin: traefikBin, local, ports: p, analyticsUrl, ingestUrls });
    await supervisor.startTier([traefik], timeoutMs);
    const rate = String(opts.clientRate);
    await supervisor.startTier(
      clients.map((name) => part(name, ['client', '--name', name, '--rate', rate], {})),
      timeoutMs,
    );
    return { ports: p, clients, statusFile };
  }

  return { supervisor, start, close: () => supervisor.stop() };
}
