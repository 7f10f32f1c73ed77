import { type CommandSpec, usageError } from '../command.js';
import { type Config, type OpenDoor, refuseOpenDoors } from '../config.js';
import { build } from './stack.js';
import { urlTable } from './urls.js';

function count(v: unknown, flag: string, min: number, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 64) {
    throw usageError(`--${flag} must be a whole number from ${min} to 64, got "${v}"`);
  }
  return n;
}

function checkPair(user: string, password: string, userVar: string, passwordVar: string, what: string) {
  if (Boolean(user) !== Boolean(password)) {
    const missing = user ? passwordVar : userVar;
    throw usageError(`${missing} is empty; set both ${what} credentials, or neither`);
  }
}

/** Credentials come in pairs, and nothing is served without auth on a non-loopback HOST. */
function checkAuth(config: Config): void {
  checkPair(
    config.dashboardUser,
    config.dashboardPassword,
    'TRAEFIK_DASHBOARD_USER',
    'TRAEFIK_DASHBOARD_PASSWORD',
    'dashboard',
  );
  checkPair(config.readUser, config.readPassword, 'READ_USER', 'READ_PASSWORD', 'read');
  const doors: OpenDoor[] = [];
  if (!config.dashboardUser)
    doors.push({
      what: 'the Traefik dashboard',
      variable: 'TRAEFIK_DASHBOARD_USER',
      fix: 'set TRAEFIK_DASHBOARD_USER and TRAEFIK_DASHBOARD_PASSWORD',
    });
  if (config.ingestAuth === 'open')
    doors.push({
      what: 'an open gateway (anyone may publish)',
      variable: 'INGEST_AUTH',
      fix: 'set INGEST_AUTH=keys',
    });
  if (!config.readUser)
    doors.push({
      what: 'the panel and reports',
      variable: 'READ_USER',
      fix: 'set READ_USER and READ_PASSWORD',
    });
  refuseOpenDoors(config, doors);
}

export const command: CommandSpec = {
  summary: 'run the whole stack: analytics, ingest, panel, alert deliverer, Traefik and simulated clients',
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
      throw usageError(`--client-rate must be a number above 0, got "${rateRaw}"`);
    }
    checkAuth(config);
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
