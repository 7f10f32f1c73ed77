// `warren keys add|list|revoke <cliente>`: manages API_KEYS_FILE. A new key is printed once on
// stdout; the file keeps only its SHA-256. Running ingest instances pick changes up within a second.
import { type CommandSpec, UsageError } from '../cli.js';
import { addKey, readKeysFile, revokeKeys } from '../ingest/keys.js';

const USAGE = 'warren keys add <cliente> | warren keys list | warren keys revoke <cliente>';

export const command: CommandSpec = {
  summary: 'manage ingest API keys (add prints a new key; the file stores only its hash)',
  usage: USAGE,
  options: {},
  help: {},
  allowPositionals: true,
  async run({ config, positionals }) {
    const [action, cliente, ...extra] = positionals;
    const path = config.apiKeysFile;
    if (action === 'list' && cliente === undefined) {
      for (const k of readKeysFile(path).keys) {
        process.stdout.write(`${k.cliente}\t${k.created ?? ''}\t${k.sha256.slice(0, 12)}…\n`);
      }
      return 0;
    }
    if (cliente === undefined || extra.length > 0) throw new UsageError(`usage: ${USAGE}`);
    if (action === 'add') {
      const key = addKey(path, cliente);
      process.stdout.write(`${key}\n`);
      process.stderr.write(
        `warren keys: key for ${cliente} stored (as a hash) in ${path}; it is shown only now. Send it as "Authorization: Bearer <key>".\n`,
      );
      return 0;
    }
    if (action === 'revoke') {
      const n = revokeKeys(path, cliente);
      process.stderr.write(`warren keys: removed ${n} key(s) of ${cliente} from ${path}\n`);
      return n > 0 ? 0 : 1;
    }
    throw new UsageError(`unknown action ${JSON.stringify(action)}; usage: ${USAGE}`);
  },
};
