// Picks the store from DATABASE_URL: sqlite:PATH (default) or postgres://…
import { PostgresStore } from './postgres.js';
import type { Reconcile } from './reconcile.js';
import { SqliteStore } from './sqlite.js';
import type { Store, StoreOptions } from './types.js';

export type { LedgerRow, Reconcile, Report } from './reconcile.js';
export type { Store, StoreOptions } from './types.js';

export function createStore(databaseUrl: string, opts: StoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(databaseUrl.slice('sqlite:'.length), opts);
  return new PostgresStore(databaseUrl, opts);
}

/** Reconcile's ledger of a store (reconcile.ts); undefined before migrate() on SQLite. */
export function reconcileOf(store: Store): Reconcile | undefined {
  if (store instanceof SqliteStore || store instanceof PostgresStore) return store.reconcile;
  return undefined;
}
