// pino JSON lines on stderr (stdout is for results); pretty only when stderr is a terminal.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'warren'): Logger {
  const pretty = process.stderr.isTTY && process.env.NO_COLOR === undefined;
  if (pretty) {
    return pino({
      name,
      level,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss' },
      },
    });
  }
  return pino({ name, level }, pino.destination({ fd: 2, sync: true }));
}
