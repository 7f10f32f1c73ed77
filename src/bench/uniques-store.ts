// The unique-users stage's stores: a SQLite file of the run's own, or a PostgreSQL database created
// on BENCH_POSTGRES_URL's server for the run and dropped after it; and what they hold once filled
// (sketch bytes per bucket by resolution, the store's size on disk).
import { join } from 'node:path';
import pg from 'pg';
import {
  type Bucket,
  createStore,
  PostgresStore,
  SqliteStore,
  type Store,
  UNIQUES_TABLES,
} from '../store/index.js';
import type { BenchEnv } from './env.js';
import { percentile, round, sortedCopy } from './util.js';

export type StoreKind = 'sqlite' | 'postgres';

export interface BenchDb {
  kind: StoreKind;
  url: string;
  /** Deletes it (PostgreSQL: DROP DATABASE; SQLite: the run's directory goes at clean-up). */
  drop(): Promise<void>;
}

/** One statement on a connection of its own (no statement timeout, unlike the store's pool). */
async function admin(serverUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A new empty database of this kind for the run. */
export async function createDb(env: BenchEnv, kind: StoreKind): Promise<BenchDb> {
  if (kind === 'sqlite') {
    return { kind, url: `sqlite:${join(env.dir, 'uniques.db')}`, drop: async () => undefined };
  }
  const server = env.config.benchPostgresUrl;
  const name = `${env.id}_uniques`;
  try {
    await admin(server, `CREATE DATABASE "${name}"`);
  } catch (err) {
    throw new Error(
      `could not create the database ${name} on BENCH_POSTGRES_URL (${new URL(server).host}): ` +
        `${err instanceof Error ? err.message : String(err)}; start PostgreSQL or set BENCH_POSTGRES_URL ` +
        'to a server where this user may CREATE DATABASE',
    );
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    // FORCE ends the sessions of an analytics child that did not close cleanly (PostgreSQL 13+).
    await admin(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  env.onCleanup(drop);
  return { kind, url: url.toString(), drop };
}

export function openStore(db: BenchDb): Store {
  return createStore(db.url);
}

export interface SketchBytes {
  /** Sketch rows of the per-client family at this resolution. */
  rows: number;
  avg: number;
  p95: number;
}

export interface StoreFigures {
  /** Per (bucket, cliente) sketches, by resolution. */
  sketchBytesPerBucket: Record<Bucket, SketchBytes>;
  /** Bytes of every sketch row (both families, all resolutions). */
  sketchBytesTotal: number;
  /** The whole store on disk (SQLite: its pages in use; PostgreSQL: pg_database_size). */
  storeBytes: number;
}

async function rawAll(store: Store, sql: string): Promise<Record<string, unknown>[]> {
  if (store instanceof SqliteStore) return store.db.prepare(sql).all() as Record<string, unknown>[];
  if (store instanceof PostgresStore) return (await store.pool.query(sql)).rows;
  throw new Error('the unique-users stage measures SQLite and PostgreSQL stores only');
}

async function storeBytes(store: Store): Promise<number> {
  if (store instanceof SqliteStore) {
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = Number(store.db.pragma('page_count', { simple: true }));
    const free = Number(store.db.pragma('freelist_count', { simple: true }));
    return (pages - free) * Number(store.db.pragma('page_size', { simple: true }));
  }
  const [row] = await rawAll(store, 'SELECT pg_database_size(current_database())::float8 AS n');
  return Number(row?.n);
}

/**
 * PostgreSQL: VACUUM ANALYZE, what autovacuum does in the background of a running store. Right
 * after the bulk fill and the rollups, every rolled-up row is still a dead tuple (the series
 * tables alone hold a few hundred thousand), and index scans wade through them; a store that has
 * run for a while has had them vacuumed. SQLite deletes in place: nothing to do.
 */
export async function settleStore(db: BenchDb): Promise<void> {
  if (db.kind === 'postgres') await admin(db.url, 'VACUUM ANALYZE');
}

/**
 * The data's own size: PostgreSQL after VACUUM FULL (the bulk fill and rollups leave the space of
 * every rolled-up row in the files; a running store reuses it for new rows); SQLite as measured.
 */
export async function compactBytes(db: BenchDb): Promise<number> {
  // On a connection of its own: the store's pool has a statement timeout.
  if (db.kind === 'postgres') await admin(db.url, 'VACUUM FULL');
  const store = openStore(db);
  try {
    return await storeBytes(store);
  } finally {
    await store.close();
  }
}

export async function measureStore(store: Store): Promise<StoreFigures> {
  const per = {} as Record<Bucket, SketchBytes>;
  let total = 0;
  for (const bucket of ['minute', 'hour', 'day'] as const) {
    const lengths = (
      await rawAll(store, `SELECT length(sketch) AS n FROM ${UNIQUES_TABLES.cliente[bucket]}`)
    ).map((r) => Number(r.n));
    const sorted = sortedCopy(lengths);
    const sum = lengths.reduce((a, b) => a + b, 0);
    per[bucket] = {
      rows: lengths.length,
      avg: lengths.length ? round(sum / lengths.length) : 0,
      p95: lengths.length ? percentile(sorted, 95) : 0,
    };
    const [ev] = await rawAll(
      store,
      `SELECT COALESCE(SUM(length(sketch)), 0) AS n FROM ${UNIQUES_TABLES.evento[bucket]}`,
    );
    total += sum + Number(ev?.n ?? 0);
  }
  return { sketchBytesPerBucket: per, sketchBytesTotal: total, storeBytes: await storeBytes(store) };
}
