// What every `warren <command>` shares: its spec, its context, usage errors, and the one shape of
// the long-running service commands. Apart from cli.ts, so command modules never import the CLI
// that loads them (no import cycle).
import type { ParseArgsConfig } from 'node:util';
import type { Config } from './config.js';
import { WarrenError } from './errors.js';
import type { Logger } from './log.js';

export interface CommandContext {
  config: Config;
  log: Logger;
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /** Resolves when SIGINT, SIGTERM or SIGHUP arrives, or warren up is gone (for long-running commands). */
  stopSignal: Promise<NodeJS.Signals>;
}

export interface CommandSpec {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Help text per option. */
  help: Record<string, string>;
  allowPositionals?: boolean;
  /** Returns the exit code. */
  run: (ctx: CommandContext) => Promise<number>;
}

/** A bad argument: the command stops with this one line and exit code 2. */
export function usageError(message: string): WarrenError {
  return new WarrenError('usage', message);
}

/** Whether err stops a command with exit code 2 (bad usage or setting) rather than 1. */
export function isUsageOrConfig(err: unknown): err is WarrenError {
  return err instanceof WarrenError && (err.code === 'usage' || err.code === 'config');
}

export interface Service {
  start(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * A long-running part (analytics, ingest, panel, audit): build it, start it, run until a stop
 * signal, close it (STYLE.md convention 1: the command only wires config, start and shutdown).
 */
export function serviceCommand<S extends Service>(spec: {
  /** How the stop is logged: `stopping ${what}`. */
  what: string;
  summary: string;
  usage: string;
  build: (config: Config, log: Logger) => S;
  /** Fields logged beside the stop (e.g. how much was written). */
  onStop?: (service: S) => Record<string, unknown>;
}): CommandSpec {
  return {
    summary: spec.summary,
    usage: spec.usage,
    options: {},
    help: {},
    async run({ config, log, stopSignal }) {
      const service = spec.build(config, log);
      await service.start();
      const sig = await stopSignal;
      log.info({ signal: sig, ...spec.onStop?.(service) }, `stopping ${spec.what}`);
      await service.close();
      return 0;
    },
  };
}
