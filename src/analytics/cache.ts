// Serialized report bodies kept between commits. A dashboard asks the same questions over and
// over (the panel, several viewers, scripts polling /reporte); between two commits the answer
// cannot change, so the second asker gets the bytes the first one paid for. An entry is valid
// only while the store's version (Store.version: any change to the counters, by this process or
// another one) is the one it was computed at; a store that cannot tell its version is never
// cached. Entries are never stale, so a request's `Cache-Control: no-cache` (browsers send it
// with `cache: 'no-store'`, as the panel does) is served from here too: this is the origin's own
// memory of an answer that is still current, not an HTTP cache.

export interface CachedBody {
  /** UTF-8 bytes, kept encoded so a hit costs no serialising or encoding. */
  body: Buffer;
  hit: boolean;
}

interface Entry {
  version: string;
  body: Buffer;
}

export interface ResponseCacheOptions {
  /** Most entries kept (least recently used evicted first). */
  maxEntries: number;
  /** Most bytes of bodies kept in all. */
  maxBytes: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly opts: ResponseCacheOptions = { maxEntries: 64, maxBytes: 64 * 1024 * 1024 }) {}

  /**
   * The body for `key` at the store's current `version`, computed by `compute` when there is none.
   * `version` undefined: computed every time, nothing kept.
   */
  async get(key: string, version: string | undefined, compute: () => Promise<string>): Promise<CachedBody> {
    const found = this.entries.get(key);
    if (version !== undefined && found && found.version === version) {
      // Map order is recency order: move the entry to the end.
      this.entries.delete(key);
      this.entries.set(key, found);
      this.hits++;
      return { body: found.body, hit: true };
    }
    this.misses++;
    // The version is read BEFORE computing: a commit that lands meanwhile makes the entry stale
    // at once instead of labelling an older answer with the newer version.
    const body = Buffer.from(await compute());
    if (version !== undefined) this.put(key, { version, body });
    return { body, hit: false };
  }

  private put(key: string, entry: Entry): void {
    this.drop(key);
    if (entry.body.length > this.opts.maxBytes) return;
    this.entries.set(key, entry);
    this.bytes += entry.body.length;
    for (const [k] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.body.length;
  }

  get size(): number {
    return this.entries.size;
  }
}
