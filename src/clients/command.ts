import { closeSync, openSync, writeSync } from 'node:fs';
import { type CommandSpec, usageError } from '../command.js';
import { CLIENTE_RE, EVENTO_RE, RULES } from '../event.js';
import { build } from './simulated.js';

function num(v: unknown, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw usageError(`--${flag} must be a number >= ${min}, got "${v}"`);
  return n;
}

/** `--ids-out FILE`: ids written synchronously per confirmed batch, so a killed client loses none. */
function idsWriter(
  path: string | undefined,
): { write: (ids: string[]) => void; close: () => void } | undefined {
  if (path === undefined) return undefined;
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw usageError(`--ids-out: cannot write ${path}: ${(err as Error).message}`);
  }
  return {
    write: (ids) => {
      if (ids.length) writeSync(fd, `${ids.join('\n')}\n`);
    },
    close: () => closeSync(fd),
  };
}

export const command: CommandSpec = {
  summary: "a simulated client (the seed's servicio-cliente-X) publishing events to RabbitMQ",
  usage:
    'warren client --name cliente_uno [--rate 5] [--count N] [--events click,view] [--http URL] [--ids-out FILE] [--users N]',
  options: {
    name: { type: 'string' },
    rate: { type: 'string' },
    count: { type: 'string' },
    events: { type: 'string' },
    http: { type: 'string' },
    'ids-out': { type: 'string' },
    users: { type: 'string' },
  },
  help: {
    name: 'the client name (cliente), e.g. cliente_uno (required)',
    rate: 'events per second (default 5; 0 = as fast as confirms allow)',
    count: 'stop after N confirmed events; the last line printed is "N confirmed"',
    events: 'comma-separated event names to pick from (default click,view,purchase)',
    http: 'publish through the HTTP gateway at this URL instead of straight to RabbitMQ',
    'ids-out': 'write the id of every confirmed event to FILE, one a line, as each batch is confirmed',
    users: 'give every event a usuario, one of N users (u0 … uN-1, derived from the event id)',
  },
  async run({ config, log, values, stopSignal }) {
    const name = values.name as string | undefined;
    if (!name || !CLIENTE_RE.test(name)) throw usageError(`--name is required: ${RULES.cliente}`);
    const events = ((values.events as string | undefined) ?? 'click,view,purchase')
      .split(',')
      .filter(Boolean);
    for (const e of events)
      if (!EVENTO_RE.test(e)) throw usageError(`--events: "${e}" is not ${RULES.evento}`);
    const rate = num(values.rate, 'rate', 0) ?? 5;
    const count = num(values.count, 'count', 1);
    const idsOut = idsWriter(values['ids-out'] as string | undefined);
    const users = num(values.users, 'users', 1);
    if (users !== undefined && !Number.isInteger(users))
      throw usageError(`--users must be a whole number, got "${values.users}"`);
    const opts = {
      name,
      rate,
      count: count === undefined ? undefined : Math.floor(count),
      events,
      onConfirmed: idsOut?.write,
      ...(users === undefined ? {} : { users }),
    };
    const http = values.http as string | undefined;
    const client = http
      ? (await import('./http.js')).build(config, log, { ...opts, url: http })
      : build(config, log, opts);
    await client.start();
    const progress = setInterval(() => {
      log.info({ published: client.published, confirmed: client.confirmed }, 'progress');
    }, 5000);
    const sig = stopSignal.then(() => client.stop());
    void sig;
    const n = await client.done;
    clearInterval(progress);
    await client.close();
    idsOut?.close();
    process.stdout.write(`${n} confirmed\n`);
    return 0;
  },
};
