// Who may publish. Open mode (no keys) lets anyone publish for any client; keyed mode (the keys file
// has keys) requires `Authorization: Bearer <key>` and binds each key to one client.
// The file is re-read when it changes (checked at most once a second, on requests), so keys added
// with `warren keys add` work on every running instance without a restart.
import { statSync } from 'node:fs';
import { describe, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { hashKey, readKeysFile } from './keys.js';

const RECHECK_MS = 1000;

export class KeyStore {
  /** sha256(key) → cliente. Keys are 256-bit random, so a map lookup on the hash leaks nothing useful. */
  private byHash = new Map<string, string>();
  private stamp = '';
  private checkedAt = 0;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {
    // At start a broken file is fatal (ConfigError); later, the last good keys stay in force.
    this.load(this.fileStamp());
  }

  get keyed(): boolean {
    this.refresh();
    return this.byHash.size > 0;
  }

  get count(): number {
    return this.byHash.size;
  }

  private fileStamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private load(stamp: string): void {
    const file = readKeysFile(this.path);
    const wasKeyed = this.byHash.size > 0;
    this.byHash = new Map(file.keys.map((k) => [k.sha256, k.cliente]));
    this.stamp = stamp;
    if (this.byHash.size > 0) {
      this.log.info({ keys: this.byHash.size, file: this.path }, 'keyed mode: a Bearer API key is required');
    } else if (wasKeyed) {
      this.log.warn({ file: this.path }, 'the keys file has no keys any more: open mode, anyone may publish');
    }
  }

  /** Re-reads the file if it changed since the last look (at most once per RECHECK_MS). */
  refresh(now = Date.now()): void {
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return;
    try {
      this.load(stamp);
    } catch (err) {
      this.stamp = stamp; // do not log the same broken version every second
      this.log.error(
        { err: describe(err) },
        'the keys file changed but cannot be used; keeping the last keys',
      );
    }
  }

  /**
   * The client the request's key belongs to, or undefined in open mode.
   * Throws 401 in keyed mode when the key is missing or unknown.
   */
  authenticate(authorization: string | undefined): string | undefined {
    if (!this.keyed) return undefined;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m) {
      throw new WarrenError(
        'unauthorized',
        'This gateway requires an API key: send `Authorization: Bearer <key>` (create one with `warren keys add <cliente>`).',
        { status: 401 },
      );
    }
    const cliente = this.byHash.get(hashKey(m[1]!));
    if (cliente === undefined) {
      throw new WarrenError(
        'unauthorized',
        'The API key is not known; check it or create one with `warren keys add <cliente>`.',
        {
          status: 401,
        },
      );
    }
    return cliente;
  }
}
