// Report answers kept between commits, and brought up to date by this process's own commits.
// A dashboard asks the same questions over and over (the panel, several viewers, scripts polling
// /reporte). Between two commits the answer cannot change, so the next asker gets the bytes the
// first one paid for. When this process commits, the commit's counted groups are added to every
// kept answer that was current just before it (Store.onChange: the versions around the commit are
// read inside its transaction), so a report over a million events stays cheap while events flow.
// On PostgreSQL the store tells other processes' commits too (src/store/versions.ts: a version
// row and a log of what each commit counted), so answers stay current while several analytics
// processes count. Anything else that changes the store (on SQLite another process's commit; a
// rollup) breaks the chain of versions: the entry no longer matches and the answer is computed
// again. A store that cannot tell its version is never cached. Entries are never stale, so a request's
// `Cache-Control: no-cache` (browsers send it with `cache: 'no-store'`, as the panel does) is
// served from here too: this is the origin's own memory of an answer that is still current.
// An answer computed elsewhere (a read worker, reader.ts) says which version it was read at; the
// commits made while it was computed are recorded and added to it, so it is kept even while
// events flow.
import type { Change, CountedGroup } from '../store/index.js';

/** An answer that can take a commit's counted groups and write itself out again. */
export interface View {
  /**
   * Adds a commit's counted groups (those outside the view's filter change nothing); false when
   * the view cannot be brought up to date with them (it shows distinct users, and the groups
   * brought users into its range): then it is computed again.
   */
  apply(groups: readonly CountedGroup[]): boolean;
  /** The answer as UTF-8 JSON; kept until the next apply. */
  body(): Buffer;
  /** Rough bytes held (the budget counts this, the body included). */
  size(): number;
}

/** A view read at a known store version (a snapshot taken on another connection). */
export interface Computed {
  view: View;
  /** The version the view was read at; undefined: not known, so not kept. */
  at: string | undefined;
}

/** Most commits recorded while answers are computed (past it, those answers are not kept). */
const MAX_LOGGED_CHANGES = 10_000;

export type CacheResult = 'hit' | 'update' | 'miss';

export interface Cached {
  body: Buffer;
  /** hit: the kept bytes; update: kept, with commits added since; miss: computed now. */
  result: CacheResult;
}

interface Entry {
  version: string;
  view: View;
  /** Commits were applied since the body was last written out. */
  updated: boolean;
  size: number;
}

export interface ResponseCacheOptions {
  /** Most entries kept (least recently used evicted first). */
  maxEntries: number;
  /** Most bytes held by all entries. */
  maxBytes: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  hits = 0;
  misses = 0;
  /** Commits made while answers are being computed; emptied when none is. */
  private log: Change[] = [];
  private logBase = 0;
  private logOverflow = false;
  private computing = 0;

  constructor(
    private readonly opts: ResponseCacheOptions = { maxEntries: 64, maxBytes: 128 * 1024 * 1024 },
  ) {}

  /**
   * A commit of the store this cache serves: entries current just before it take its groups and
   * move to the version after it; the others are left to be computed again.
   */
  onChange(change: Change): void {
    const stale: string[] = [];
    for (const [key, e] of this.entries) {
      if (e.version !== change.before) continue;
      if (!e.view.apply(change.groups)) {
        stale.push(key);
        continue;
      }
      e.version = change.after;
      e.updated = true;
    }
    for (const key of stale) this.drop(key);
    if (this.computing === 0) return;
    if (this.log.length < MAX_LOGGED_CHANGES) this.log.push(change);
    else this.logOverflow = true;
  }

  /**
   * The answer for `key` at the store's current `version`, computed by `compute` when no entry
   * is current. `versionAfter` is read once computed: if the store changed meanwhile, the answer
   * is served but not kept (it might hold a commit the entry's version says it does not), unless
   * `compute` told the version it read at: then this store's commits since are added to it.
   * `version` undefined: computed every time, nothing kept.
   */
  async get(
    key: string,
    version: string | undefined,
    compute: () => Promise<View | Computed>,
    versionAfter: () => Promise<string | undefined>,
  ): Promise<Cached> {
    const found = this.entries.get(key);
    if (version !== undefined && found && found.version === version) {
      // Map order is recency order: move the entry to the end.
      this.entries.delete(key);
      this.entries.set(key, found);
      this.hits++;
      const result: CacheResult = found.updated ? 'update' : 'hit';
      const body = found.view.body();
      // Only a body written again changes the entry's size (measuring walks the whole answer).
      if (found.updated) this.resize(found);
      found.updated = false;
      return { body, result };
    }
    this.misses++;
    const mark = this.logBase + this.log.length;
    this.computing++;
    try {
      const out = await compute();
      const { view, at } = isView(out) ? { view: out, at: undefined } : out;
      // Read before catching up: a store that learns of other processes' commits when asked
      // (PostgreSQL) tells them here, so they are in the log that catchUp adds.
      const after = version === undefined ? undefined : await versionAfter();
      // A plain view was read here, after `version`: it holds whatever committed in between,
      // so it is kept only if nothing did.
      const kept = isView(out) ? version : this.catchUp(view, at, mark);
      const body = view.body();
      if (kept !== undefined && after === kept) {
        this.put(key, { version: kept, view, updated: false, size: view.size() });
      }
      return { body, result: 'miss' };
    } finally {
      if (--this.computing === 0) this.clearLog();
    }
  }

  /** Adds the commits recorded since `mark` that follow version `at`; the version reached. */
  private catchUp(view: View, at: string | undefined, mark: number): string | undefined {
    if (at === undefined || this.logOverflow) return undefined;
    let v = at;
    for (const c of this.log.slice(mark - this.logBase)) {
      if (c.before !== v) continue;
      if (!view.apply(c.groups)) return undefined;
      v = c.after;
    }
    return v;
  }

  private clearLog(): void {
    this.logBase += this.log.length;
    this.log = [];
    this.logOverflow = false;
  }

  private resize(e: Entry): void {
    const size = e.view.size();
    this.bytes += size - e.size;
    e.size = size;
    this.evict();
  }

  private put(key: string, entry: Entry): void {
    this.drop(key);
    if (entry.size > this.opts.maxBytes) return;
    this.entries.set(key, entry);
    this.bytes += entry.size;
    this.evict();
  }

  private evict(): void {
    for (const [k] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
  }

  get size(): number {
    return this.entries.size;
  }
}

function isView(x: View | Computed): x is View {
  return typeof (x as View).apply === 'function';
}
