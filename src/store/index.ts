// The store's door: the only file other parts import. Picks the store from DATABASE_URL:
// sqlite:PATH (default) or postgres://…
import { PostgresStore, SqliteStore } from './store.js';
import type { Store, StoreOptions } from './types.js';

export function createStore(databaseUrl: string, opts: StoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(databaseUrl.slice('sqlite:'.length), opts);
  return new PostgresStore(databaseUrl, opts);
}

export type { Alerts, Firing, NewFiring } from './alerts.js';
export { publicFiring } from './alerts.js';
export { Sketch, sketchOf } from './hll.js';
export { maintenanceOf } from './maintenance.js';
export { readMigrations } from './migrate.js';
export { PG_LIMITS } from './postgres.js';
export type { LedgerRow, Reconcile, Report } from './reconcile.js';
export { byCountThenName, complementIsSmaller, eventosJson } from './report.js';
export {
  cutoffs,
  type PassResult,
  type Progress,
  type RetentionSettings,
  retentionPass,
} from './retention.js';
export { alertsOf, PostgresStore, reconcileOf, SqliteStore, type SqlStore } from './store.js';
export { BUCKET_SECONDS } from './tables.js';
export type {
  Bucket,
  Change,
  ClientReport,
  ClientTotal,
  CommitResult,
  CountedGroup,
  CountRow,
  DedupeHorizon,
  ExportRow,
  Filter,
  Point,
  Store,
  StoreOptions,
  Uniques,
  UniquesExportRow,
} from './types.js';
export { TABLES as UNIQUES_TABLES, userKey } from './uniques.js';
