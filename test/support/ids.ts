// Checking a run by id, not by count (a loss and a duplicate would cancel out in a count): the
// ids clients got confirmed against the ids the store counted (seen_ids).
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { pgDatabase } from './helpers.js';

/** Ids in the store's seen_ids, from a `sqlite:PATH` or `postgres://` DATABASE_URL or a path. */
export async function seenIds(store: string): Promise<Set<string>> {
  if (store.startsWith('postgres')) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: store });
    await c.connect();
    try {
      const r = await c.query<{ id: string }>('SELECT id FROM seen_ids');
      return new Set(r.rows.map((row) => row.id));
    } finally {
      await c.end();
    }
  }
  const db = new Database(store.replace(/^sqlite:/, ''), { readonly: true, fileMustExist: true });
  try {
    return new Set(db.prepare('SELECT id FROM seen_ids').pluck().all() as string[]);
  } finally {
    db.close();
  }
}

/** The ids of an `--ids-out` file (one a line). */
export function readIds(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

export interface IdCheck {
  /** Confirmed ids the store never counted. */
  lost: string[];
  /** Ids confirmed more than once (a client that reused an id). */
  repeated: string[];
}

/** Compares confirmed ids with counted ones; a doubled count shows in totals vs seen.size. */
export function checkIds(confirmed: Iterable<string>, seen: Set<string>): IdCheck {
  const once = new Set<string>();
  const repeated: string[] = [];
  const lost: string[] = [];
  for (const id of confirmed) {
    if (once.has(id)) repeated.push(id);
    once.add(id);
    if (!seen.has(id)) lost.push(id);
  }
  return { lost, repeated };
}

/** A store for one test: SQLite at `path`, or a fresh PostgreSQL database (dropped by `drop`). */
export async function testStore(
  kind: 'sqlite' | 'postgres',
  path: string,
  prefix: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === 'sqlite') return { url: `sqlite:${path}`, drop: async () => undefined };
  const db = await pgDatabase(`${prefix}_${Math.random().toString(16).slice(2, 10)}`);
  return { url: db.url, drop: db.drop };
}
