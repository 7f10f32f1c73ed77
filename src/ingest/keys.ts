// The API keys file (API_KEYS_FILE): JSON that stores, per key, only its SHA-256 and what it may
// do (send for one client, or read reports under a name), never the key itself, so a leaked file
// grants nothing. `warren keys add` writes it; every ingest instance reads it (the only state
// instances share).
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { CLIENTE_RE, RULES } from '../event.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A send key publishes for one client; a read key (`read: NAME`) only reads reports. */
const entrySchema = z.union([
  z.object({ cliente: z.string().regex(CLIENTE_RE), sha256, created: z.string().optional() }).strict(),
  z.object({ read: z.string().regex(CLIENTE_RE), sha256, created: z.string().optional() }).strict(),
]);
const fileSchema = z.object({ keys: z.array(entrySchema) });

export type KeyEntry = z.infer<typeof entrySchema>;
export type KeysFile = z.infer<typeof fileSchema>;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key: 32 random bytes (256 bits), base64url, with a prefix that makes it easy to spot. */
export function newKey(): string {
  return `wrn_${randomBytes(32).toString('base64url')}`;
}

/** Reads the keys file; a missing file is an empty one. A broken file throws naming the fix. */
export function readKeysFile(path: string): KeysFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [] };
    throw new WarrenError('config', `API_KEYS_FILE ${path} cannot be read: ${(err as Error).message}`);
  }
  if (text.trim() === '') return { keys: [] };
  let parsed: ReturnType<typeof fileSchema.safeParse>;
  try {
    parsed = fileSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = { success: false } as typeof parsed;
  }
  if (!parsed.success) {
    throw new WarrenError(
      'config',
      `API_KEYS_FILE ${path} is not a Warren keys file ({"keys": [{"cliente" or "read", "sha256"}]}); fix it or recreate it with \`warren keys add <cliente>\``,
    );
  }
  return parsed.data;
}

/** Writes the file atomically (temp file + rename), so a reader never sees half of it. */
export function writeKeysFile(path: string, file: KeysFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export type KeyRole = 'send' | 'read';

/** The client a send key publishes for, or the name of a read key. */
export function keyName(k: KeyEntry): { role: KeyRole; name: string } {
  return 'read' in k ? { role: 'read', name: k.read } : { role: 'send', name: k.cliente };
}

/**
 * Creates a key, stores its hash, and returns the key (shown once, never stored). A send key
 * publishes for the client `name`; a read key only reads reports.
 */
export function addKey(path: string, name: string, role: KeyRole = 'send'): string {
  if (!CLIENTE_RE.test(name)) {
    const what = role === 'read' ? 'read key name' : 'client name';
    throw new WarrenError('usage', `the ${what} must be ${RULES.cliente}; got ${JSON.stringify(name)}`);
  }
  const file = readKeysFile(path);
  const key = newKey();
  const created = new Date().toISOString();
  file.keys.push(
    role === 'read'
      ? { read: name, sha256: hashKey(key), created }
      : { cliente: name, sha256: hashKey(key), created },
  );
  writeKeysFile(path, file);
  return key;
}

/** Removes every key of a client (or, with role read, the read keys of that name); returns how many. */
export function revokeKeys(path: string, name: string, role: KeyRole = 'send'): number {
  const file = readKeysFile(path);
  const kept = file.keys.filter((k) => {
    const n = keyName(k);
    return !(n.role === role && n.name === name);
  });
  const removed = file.keys.length - kept.length;
  if (removed > 0) writeKeysFile(path, { keys: kept });
  return removed;
}
