// The one store factory of the tests: each kind's fresh() gives an empty database of its own (a
// temporary SQLite file, or a new PostgreSQL database), and withDb()/withStore() run a test on one
// and always clean up. Also: events checked by the contract, rows and report lines compared the same
// way for both dialects, and the HTTP API over one store.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AnalyticsHandler } from '../../src/analytics/consumer.js';
import { type ApiDeps, buildApi } from '../../src/analytics/index.js';
import { createMetrics } from '../../src/analytics/metrics.js';
import { type ParsedEvent, parse } from '../../src/event.js';
import { createLogger } from '../../src/log.js';
import type { ClientReport, CountRow, Store, StoreOptions } from '../../src/store/index.js';
import { PostgresStore, SqliteStore } from '../../src/store/index.js';
import { pgDatabase } from './helpers.js';

export interface FreshDb {
  /** DATABASE_URL of this database. */
  url: string;
  /** A new store (its own connection or pool), not migrated yet. */
  open(opts?: StoreOptions): Store;
  /** Runs raw SQL on a store of this kind (for checks the Store interface does not offer). */
  sql(store: Store, query: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export type KindName = 'sqlite' | 'postgres';

export interface Kind {
  name: KindName;
  fresh(): Promise<FreshDb>;
}

export const kinds: Kind[] = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'warren-store-'));
      const path = join(dir, 'warren.db');
      return {
        url: `sqlite:${path}`,
        open: (opts) => new SqliteStore(path, opts),
        sql: async (s, q) => (s as SqliteStore).db.prepare(q).all() as Record<string, unknown>[],
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const db = await pgDatabase(`store_${randomBytes(4).toString('hex')}`);
      return {
        url: db.url,
        open: (opts) => new PostgresStore(db.url, opts),
        sql: async (s, q) => (await (s as PostgresStore).pool.query(q)).rows,
        drop: db.drop,
      };
    },
  },
];

/** A fresh database for the length of one withDb(); every store opened on it is closed after. */
export interface Db {
  url: string;
  /** A new store on this database, migrated. */
  open(opts?: StoreOptions): Promise<Store>;
  /** A new store on this database, not migrated (to migrate several at once, or an old schema). */
  connect(opts?: StoreOptions): Store;
  sql(store: Store, query: string): Promise<Record<string, unknown>[]>;
}

/**
 * Runs fn on a fresh database of `kind`; always closes the stores it opened and drops the database.
 * `defaults` are the options of a store opened without any (e.g. an injected clock).
 */
export async function withDb(
  kind: Kind | KindName,
  defaults: StoreOptions,
  fn: (db: Db) => Promise<void>,
): Promise<void> {
  const k = typeof kind === 'string' ? kinds.find((x) => x.name === kind)! : kind;
  const fresh = await k.fresh();
  const opened: Store[] = [];
  const connect = (opts: StoreOptions = defaults) => {
    const s = fresh.open(opts);
    opened.push(s);
    return s;
  };
  const db: Db = {
    url: fresh.url,
    sql: fresh.sql,
    connect,
    async open(opts) {
      const s = connect(opts);
      await s.migrate();
      return s;
    },
  };
  try {
    await fn(db);
  } finally {
    for (const s of opened) await s.close().catch(() => undefined);
    await fresh.drop();
  }
}

/** withDb() with a first migrated store, on the real clock. */
export function withStore(kind: Kind | KindName, fn: (store: Store, db: Db) => Promise<void>): Promise<void> {
  return withDb(kind, {}, async (db) => fn(await db.open(), db));
}

/** An event checked by the one contract (event.ts), so `ms` is computed the production way. */
export function ev(id: string | undefined, cliente: string, evento: string, timestamp: string): ParsedEvent {
  const r = parse(id === undefined ? { cliente, evento, timestamp } : { id, cliente, evento, timestamp });
  if (!r.ok) throw new Error(`test event is invalid: ${JSON.stringify(r.problems)}`);
  return r.event;
}

/** Rows as sorted "cliente/evento=count" strings, so both dialects compare the same way. */
export function rows(list: CountRow[]): string[] {
  return list
    .filter((r) => Number(r.count) !== 0)
    .map((r) => `${r.cliente}/${r.evento}=${Number(r.count)}`)
    .sort();
}

/**
 * clientReport() lines as rows() gives them, after checking each line: its total is the sum of
 * its events, and its events are largest first, then by name.
 */
export function lines(list: ClientReport[]): string[] {
  const out: string[] = [];
  for (const l of list) {
    const text = l.eventos;
    const entries = Object.entries(JSON.parse(text) as Record<string, number>);
    const inOrder = [...text.matchAll(/"([^"]+)":(\d+)/g)].map(
      (m) => [m[1]!, Number(m[2])] as [string, number],
    );
    const sorted = [...inOrder].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    assert.deepEqual(inOrder, sorted, `${l.cliente}: events largest first, then by name: ${text}`);
    assert.equal(
      Number(l.total),
      entries.reduce((n, [, c]) => n + c, 0),
      `${l.cliente}: total`,
    );
    for (const [e, n] of entries) if (n !== 0) out.push(`${l.cliente}/${e}=${n}`);
  }
  return out.sort();
}

export function iso(seconds: number | string): string {
  return new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The analytics HTTP API over one store, in-process (fastify inject), with a quiet queue. */
export function apiOn(store: Store, extra: Partial<ApiDeps> = {}): FastifyInstance {
  const metrics = createMetrics();
  return buildApi({
    log: createLogger('silent'),
    store: () => store,
    handler: new AnalyticsHandler(() => store, metrics, 'eventos.*.*'),
    metrics,
    queueStatus: async () => ({ name: 'q', messages: 0, consumers: 0, deadLetters: 0 }),
    ready: () => ({ broker: true, store: true }),
    ...extra,
  });
}
