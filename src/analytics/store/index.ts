// Picks the store from DATABASE_URL: sqlite:PATH (default) or postgres://…
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store, StoreOptions } from './types.js';

export type { Store, StoreOptions } from './types.js';

export function createStore(databaseUrl: string, opts: StoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(databaseUrl.slice('sqlite:'.length), opts);
  return new PostgresStore(databaseUrl, opts);
}
