import { type CommandSpec, UsageError } from '../cli.js';
import type { Config } from '../config.js';
import { build } from './stack.js';
import { urlTable } from './urls.js';

function count(v: unknown, flag: string, min: number, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 64) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to 64, got "${v}"`);
  }
  return n;
}

function checkDashboardAuth(config: Config): void {
  if (Boolean(config.dashboardUser) !== Boolean(config.dashboardPassword)) {
    const missing = config.dashboardUser ? 'TRAEFIK_DASHBOARD_PASSWORD' : 'TRAEFIK_DASHBOARD_USER';
    throw new UsageError(`${missing} is empty; set both dashboard credentials, or neither`);
  }
}

export const command: CommandSpec = {
  summary: 'run the whole stack: analytics, ingest, panel, Traefik and simulated clients',
  usage: 'warren up [--clients 2] [--ingest 2] [--client-rate 1]',
  options: {
    clients: { type: 'string' },
    ingest: { type: 'string' },
    'client-rate': { type: 'string' },
  },
  help: {
    clients: 'simulated clients to run: cliente_uno, cliente_dos, then cliente_3… (default 2)',
    ingest: 'ingest instances behind Traefik, on INGEST_PORT, INGEST_PORT+1, … (default 2)',
    'client-rate': 'events per second of each simulated client (default 1)',
  },
  async run({ config, log, values, stopSignal }) {
    const clients = count(values.clients, 'clients', 0, 2);
    const ingest = count(values.ingest, 'ingest', 1, 2);
    const rateRaw = values['client-rate'];
    const clientRate = rateRaw === undefined ? 1 : Number(rateRaw);
    if (!Number.isFinite(clientRate) || clientRate <= 0) {
      throw new UsageError(`--client-rate must be a number above 0, got "${rateRaw}"`);
    }
    checkDashboardAuth(config);
    const stack = build(config, log, { clients, ingest, clientRate });

    const stopped = stopSignal.then((sig) => {
      log.info({ signal: sig }, 'stopping every part (a second Ctrl-C kills them at once)');
      // npm (and other wrappers) forward the same Ctrl-C the terminal already sent us: only a
      // signal that comes later is a person's second Ctrl-C.
      const first = Date.now();
      const force = () => {
        if (Date.now() - first < 1000) return;
        stack.supervisor.killAll();
        process.exit(130);
      };
      process.on('SIGINT', force);
      process.on('SIGTERM', force);
      process.on('SIGHUP', force);
      return sig;
    });
    const starting = stack.start();
    starting.catch(() => undefined); // rejects on purpose when a signal arrives while starting
    let info: Awaited<typeof starting> | undefined;
    try {
      info = await Promise.race([starting, stopped.then(() => undefined)]);
    } catch (err) {
      await stack.close(); // a failed start stops what did start, then reports
      throw err;
    }
    if (info) {
      const auth = Boolean(config.dashboardUser);
      process.stdout.write(`${urlTable(config, info.ports, { ...info, auth })}\n`);
      log.info({ status: info.statusFile }, 'every part is ready');
      await stopped;
    }
    await stack.close();
    await starting.catch(() => undefined);
    log.info('every part stopped');
    return 0;
  },
};
