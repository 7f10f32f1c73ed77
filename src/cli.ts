// `warren <command>`: parses arguments, loads config, calls one part's command module.
// Results go to stdout, diagnostics to stderr. Exit codes: 0 done, 1 failed, 2 bad usage or setting.
import { parseArgs } from 'node:util';
import { type CommandContext, type CommandSpec, isUsageOrConfig } from './command.js';
import { type Config, loadConfig } from './config.js';
import { describe } from './errors.js';
import { createLogger } from './log.js';

type Loader = () => Promise<CommandSpec>;

// Each part is loaded through its door (index.ts) only when its command runs. `warren ingest` is
// the stack's: it serves the SDK's browser snippet beside the gateway's routes.
const commands: Record<string, Loader> = {
  alerts: async () => (await import('./alerts/index.js')).command,
  analytics: async () => (await import('./analytics/index.js')).command,
  audit: async () => (await import('./audit/index.js')).command,
  bench: async () => (await import('./bench/index.js')).command,
  client: async () => (await import('./clients/index.js')).command,
  dlq: async () => (await import('./commands/index.js')).commands.dlq(),
  export: async () => (await import('./commands/index.js')).commands.export(),
  ingest: async () => (await import('./stack/index.js')).ingestCommand,
  keys: async () => (await import('./commands/index.js')).commands.keys(),
  panel: async () => (await import('./panel/index.js')).command,
  prune: async () => (await import('./commands/index.js')).commands.prune(),
  reconcile: async () => (await import('./commands/index.js')).commands.reconcile(),
  replay: async () => (await import('./commands/index.js')).commands.replay(),
  topology: async () => (await import('./commands/index.js')).commands.topology(),
  up: async () => (await import('./stack/index.js')).command,
};

function helpText(name: string, spec: CommandSpec): string {
  const lines = [`warren ${name}: ${spec.summary}`, '', `usage: ${spec.usage}`];
  const opts = Object.entries(spec.options);
  if (opts.length) {
    lines.push('', 'options:');
    for (const [opt, o] of opts) {
      const flag = `--${opt}${o.type === 'string' ? ' VALUE' : ''}`;
      lines.push(`  ${flag.padEnd(24)} ${spec.help[opt] ?? ''}`);
    }
  }
  lines.push(`  ${'--help'.padEnd(24)} show this help`);
  return lines.join('\n');
}

async function mainHelp(): Promise<string> {
  const lines = [
    'warren: self-hostable event analytics on RabbitMQ',
    '',
    'usage: warren <command> [options]',
    '',
    'commands:',
  ];
  for (const [name, load] of Object.entries(commands)) {
    const spec = await load().catch(() => undefined);
    lines.push(`  ${name.padEnd(11)} ${spec?.summary ?? ''}`);
  }
  lines.push(
    '',
    'Run `warren <command> --help` for its options. Settings come from the environment (see .env.example).',
  );
  return lines.join('\n');
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Resolves when SIGINT, SIGTERM or SIGHUP arrives, or, for a part run by `warren up`, when the
 * IPC channel to it closes: the supervisor is gone (even killed by SIGKILL), so the part stops
 * cleanly by itself as on SIGHUP rather than run on unwatched.
 */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.off(s, on);
      process.off('disconnect', orphaned);
      resolve(sig);
    };
    const orphaned = () => {
      // Its stdout and stderr were pipes to the supervisor: writes now fail with EPIPE.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
      on('SIGHUP');
    };
    for (const s of STOP_SIGNALS) process.on(s, on);
    if (process.channel) {
      process.once('disconnect', orphaned);
      process.channel.unref(); // the channel alone never keeps a part running
    }
  });
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await mainHelp()}\n`);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`warren: unknown command "${name}"; run \`warren --help\` for the list\n`);
    return 2;
  }
  const spec = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${helpText(name, spec)}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: spec.options,
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`warren ${name}: ${describe(err)}; run \`warren ${name} --help\`\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (isUsageOrConfig(err)) {
      process.stderr.write(`warren: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel, name);
  try {
    return await spec.run({
      config,
      log,
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      stopSignal: stopSignal(),
    });
  } catch (err) {
    if (isUsageOrConfig(err)) {
      process.stderr.write(`warren ${name}: ${err.message}\n`);
      return 2;
    }
    log.error({ err: describe(err) }, `${name} failed`);
    process.stderr.write(`warren ${name}: ${describe(err)}\n`);
    return 1;
  }
}
