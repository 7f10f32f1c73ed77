// `warren keys add|list|revoke`: manages API_KEYS_FILE. A new key is printed once on stdout; the
// file keeps only its SHA-256. Running ingest instances pick changes up within a second.
// `--read NAME` makes (or revokes) a read-only key, for scripts that pull reports through Traefik.
import { type CommandSpec, usageError } from '../command.js';
import type { Config } from '../config.js';
import { addKey, type KeyRole, keyName, readKeysFile, revokeKeys } from '../ingest/index.js';

const USAGE =
  'warren keys add <cliente> | warren keys add --read NAME | warren keys list | warren keys revoke <cliente> | warren keys revoke --read NAME';

function list(path: string): number {
  for (const k of readKeysFile(path).keys) {
    const n = keyName(k);
    process.stdout.write(`${n.name}\t${n.role}\t${k.created ?? ''}\t${k.sha256.slice(0, 12)}…\n`);
  }
  return 0;
}

function add(config: Config, name: string, role: KeyRole): number {
  const path = config.apiKeysFile;
  const key = addKey(path, name, role);
  process.stdout.write(`${key}\n`);
  const what = role === 'read' ? `read-only key ${name}` : `key for ${name}`;
  process.stderr.write(
    `warren keys: ${what} stored (as a hash) in ${path}; it is shown only now. Send it as "Authorization: Bearer <key>".\n`,
  );
  if (role === 'send' && config.ingestAuth !== 'keys') {
    process.stderr.write(
      'warren keys: INGEST_AUTH is open, so ingest does not require keys; set INGEST_AUTH=keys.\n',
    );
  }
  return 0;
}

export const command: CommandSpec = {
  summary: 'manage API keys: send keys (one client each) and read-only keys; the file stores only hashes',
  usage: USAGE,
  options: { read: { type: 'string' } },
  help: { read: 'NAME: a read-only key (reads reports through Traefik, never sends events)' },
  allowPositionals: true,
  async run({ config, positionals, values }) {
    const [action, ...rest] = positionals;
    const readName = values.read;
    if (typeof readName === 'string' && rest.length > 0) throw usageError(`usage: ${USAGE}`);
    const [name, role]: [string | undefined, KeyRole] =
      typeof readName === 'string' ? [readName, 'read'] : [rest[0], 'send'];
    if (action === 'list' && name === undefined && rest.length === 0) return list(config.apiKeysFile);
    if (name === undefined || rest.length > 1) throw usageError(`usage: ${USAGE}`);
    if (action === 'add') return add(config, name, role);
    if (action === 'revoke') {
      const n = revokeKeys(config.apiKeysFile, name, role);
      const left = readKeysFile(config.apiKeysFile).keys.filter((k) => keyName(k).role === 'send').length;
      process.stderr.write(`warren keys: removed ${n} key(s) of ${name} from ${config.apiKeysFile}\n`);
      if (left === 0 && role === 'send') {
        process.stderr.write(
          'warren keys: no send keys are left; in keys mode (INGEST_AUTH=keys) the gateway now refuses every request.\n',
        );
      }
      return n > 0 ? 0 : 1;
    }
    throw usageError(`unknown action ${JSON.stringify(action)}; usage: ${USAGE}`);
  },
};
