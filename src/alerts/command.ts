// `warren alerts add|list|remove|deliver`: rules are kept in the store (rules.ts); the deliverer
// (deliver.ts) POSTs each firing and resolution that analytics publishes to the alert exchange.
import { type CommandSpec, usageError } from '../command.js';
import { runDeliver } from './deliver.js';
import { ruleHelp, ruleOptions, runRules } from './rules.js';

const SUBCOMMANDS = ['add', 'list', 'remove', 'deliver'] as const;

export const command: CommandSpec = {
  summary: 'manage alert rules (add, list, remove) and deliver their webhooks (deliver)',
  usage:
    'warren alerts add silence|threshold|dead_letters [options] | warren alerts list [--json] | warren alerts remove ID | warren alerts deliver',
  options: ruleOptions,
  help: ruleHelp,
  allowPositionals: true,
  async run(ctx) {
    const [sub, ...rest] = ctx.positionals;
    if (sub === 'deliver') {
      if (rest.length) throw usageError('warren alerts deliver takes no arguments');
      return runDeliver(ctx);
    }
    if (sub === 'add' || sub === 'list' || sub === 'remove')
      return runRules(sub, { ...ctx, positionals: rest });
    throw usageError(
      `warren alerts needs one of ${SUBCOMMANDS.join(', ')}; got ${JSON.stringify(sub ?? '')}`,
    );
  },
};
