// Who may publish, and who may read. INGEST_AUTH chooses the gateway's mode explicitly:
// `open` lets anyone publish for any client; `keys` requires `Authorization: Bearer <key>` and
// binds each key to one client. In keys mode a missing, empty, unreadable or corrupt keys file
// refuses every request: a broken security setting never opens the gateway (DESIGN.md, fail closed).
// Read access (Traefik's forwardAuth on the panel and analytics routers) takes READ_USER and
// READ_PASSWORD as basic auth, or a read key as a Bearer token; a send key never reads, a read key
// never sends.
// The file is re-read when it changes (checked at most once a second, on requests), so keys added
// with `warren keys add` work on every running instance without a restart.
import { createHash, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { describe, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { hashKey, keyName, readKeysFile } from './keys.js';

const RECHECK_MS = 1000;

export type IngestAuth = 'open' | 'keys';

/** READ_USER / READ_PASSWORD; undefined when read auth is not configured. */
export interface ReadCredentials {
  user: string;
  password: string;
}

interface Loaded {
  /** sha256(key) → cliente. Keys are 256-bit random, so a map lookup on the hash leaks nothing useful. */
  send: Map<string, string>;
  /** sha256(key) → the read key's name. */
  read: Map<string, string>;
  /** Why keys mode refuses everything right now (missing, empty or broken file). */
  problem: string | undefined;
}

const NOTHING: Loaded = { send: new Map(), read: new Map(), problem: undefined };

function unauthorized(message: string): WarrenError {
  return new WarrenError('unauthorized', message, { status: 401 });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time string equality (over digests, so lengths leak nothing either). */
function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function bearer(authorization: string | undefined): string | undefined {
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')?.[1];
}

function basic(authorization: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { user: text.slice(0, i), password: text.slice(i + 1) };
}

export class KeyStore {
  private state: Loaded = NOTHING;
  private stamp = '';
  private checkedAt = 0;

  constructor(
    private readonly path: string,
    readonly mode: IngestAuth,
    private readonly log: Logger,
  ) {
    this.load(this.fileStamp());
  }

  /** True in keys mode: a Bearer key is required to publish. */
  get keyed(): boolean {
    return this.mode === 'keys';
  }

  get count(): number {
    this.refresh();
    return this.state.send.size;
  }

  private fileStamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private read(stamp: string): Loaded {
    const refused = 'every publishing request is refused until it is fixed';
    if (stamp === 'missing') {
      const problem = `API_KEYS_FILE ${this.path} does not exist; ${refused} (create a key with \`warren keys add <cliente>\`)`;
      return { ...NOTHING, problem };
    }
    let file: ReturnType<typeof readKeysFile>;
    try {
      file = readKeysFile(this.path);
    } catch (err) {
      return { ...NOTHING, problem: `${describe(err)}; ${refused}` };
    }
    const send = new Map<string, string>();
    const read = new Map<string, string>();
    for (const k of file.keys) {
      const n = keyName(k);
      (n.role === 'read' ? read : send).set(k.sha256, n.name);
    }
    const problem =
      send.size === 0
        ? `API_KEYS_FILE ${this.path} holds no send keys; ${refused} (add one with \`warren keys add <cliente>\`)`
        : undefined;
    return { send, read, problem };
  }

  private load(stamp: string): void {
    const before = this.state;
    this.state = this.read(stamp);
    this.stamp = stamp;
    const { send, problem } = this.state;
    if (this.mode === 'open') {
      if (send.size > 0 && before.send.size === 0)
        this.log.warn(
          { file: this.path, keys: send.size },
          'INGEST_AUTH=open: anyone may publish and the send keys in API_KEYS_FILE are not required; set INGEST_AUTH=keys to require them',
        );
    } else if (problem) {
      if (problem !== before.problem) this.log.error({ file: this.path }, problem);
    } else {
      this.log.info({ keys: send.size, file: this.path }, 'keys mode: a Bearer API key is required');
    }
  }

  /** Re-reads the file if it changed since the last look (at most once per RECHECK_MS). */
  refresh(now = Date.now()): void {
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    const stamp = this.fileStamp();
    if (stamp !== this.stamp) this.load(stamp);
  }

  /**
   * The client the request's key belongs to, or undefined in open mode.
   * In keys mode throws 401 when the key is missing or unknown, or when no key can be checked
   * (missing, empty or broken file), and 403 for a read-only key.
   */
  authenticate(authorization: string | undefined): string | undefined {
    if (this.mode === 'open') return undefined;
    this.refresh();
    if (this.state.problem) {
      throw unauthorized(
        'This gateway accepts no API key right now: its keys file is missing, empty or unusable (the operator sees why in its log and adds keys with `warren keys add <cliente>`).',
      );
    }
    const key = bearer(authorization);
    if (key === undefined) {
      throw unauthorized(
        'This gateway requires an API key: send `Authorization: Bearer <key>` (create one with `warren keys add <cliente>`).',
      );
    }
    const hash = hashKey(key);
    const cliente = this.state.send.get(hash);
    if (cliente !== undefined) return cliente;
    if (this.state.read.has(hash)) {
      throw new WarrenError('forbidden', 'This is a read-only key; it cannot send events.', { status: 403 });
    }
    throw unauthorized('The API key is not known; check it or create one with `warren keys add <cliente>`.');
  }

  /**
   * Who may read (Traefik forwardAuth): READ_USER/READ_PASSWORD as basic auth, or a read key as a
   * Bearer token. Returns a name for the log; throws 401 (with a basic-auth challenge) or 403.
   */
  authorizeRead(authorization: string | undefined, creds: ReadCredentials | undefined): string {
    this.refresh();
    const b = basic(authorization);
    if (b && creds && same(b.user, creds.user) && same(b.password, creds.password)) return b.user;
    const key = bearer(authorization);
    if (key !== undefined) {
      const hash = hashKey(key);
      const name = this.state.read.get(hash);
      if (name !== undefined) return `key:${name}`;
      if (this.state.send.has(hash)) {
        throw new WarrenError(
          'forbidden',
          'This is a send key; reading needs a read key or the read password.',
          {
            status: 403,
          },
        );
      }
    }
    throw unauthorized(
      'Reading needs the read user and password (basic auth) or a read key (`Authorization: Bearer <key>`, made with `warren keys add --read NAME`).',
    );
  }
}
