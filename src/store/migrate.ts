// Creates or upgrades the schema from the numbered plain-SQL files in migrations/<dialect>/, each
// applied once and recorded in schema_migrations. Several processes may start at once against one
// empty database: on SQLite they take turns on the write lock, on PostgreSQL on an advisory lock.
import { readdir, readFile } from 'node:fs/promises';
import { unbounded } from './postgres.js';
import type { Dialect, Driver, PostgresDriver, SqliteDriver } from './types.js';

export interface Migration {
  version: number;
  sql: string;
}

// Any constant works; it only has to be the same in every Warren process.
const MIGRATION_LOCK = 4_711_046;

const CREATE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)';
const DONE = 'SELECT version FROM schema_migrations';
const RECORD = {
  sqlite: 'INSERT INTO schema_migrations (version) VALUES (?)',
  postgres: 'INSERT INTO schema_migrations (version) VALUES ($1)',
};

/** Reads a migrations folder of NNN_name.sql files in order. */
export async function readMigrations(dialect: Dialect): Promise<Migration[]> {
  // Resolved from the package root so it works from src/ (tsx) and dist/ alike.
  const dir = new URL(`../../src/store/migrations/${dialect}/`, import.meta.url);
  const files = (await readdir(dir)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (f) => ({
      version: Number.parseInt(f, 10),
      sql: await readFile(new URL(f, dir), 'utf8'),
    })),
  );
}

/** The migrations not recorded as done, in order. */
function pending(all: Migration[], done: { version: number }[]): Migration[] {
  const versions = new Set(done.map((r) => r.version));
  return all.filter((m) => !versions.has(m.version));
}

export async function migrate(d: Driver): Promise<void> {
  const migrations = await readMigrations(d.kind);
  if (d.kind === 'sqlite') migrateSqlite(d, migrations);
  else await migratePostgres(d, migrations);
}

/** All pending migrations in one IMMEDIATE transaction: processes starting together take turns. */
function migrateSqlite(d: SqliteDriver, migrations: Migration[]): void {
  const db = d.db;
  d.immediate(() => {
    db.exec(CREATE);
    for (const m of pending(migrations, db.prepare(DONE).all() as { version: number }[])) {
      db.exec(m.sql);
      db.prepare(RECORD.sqlite).run(m.version);
    }
  })();
}

/** Each pending migration in its own transaction, under an advisory lock held by this session. */
async function migratePostgres(d: PostgresDriver, migrations: Migration[]): Promise<void> {
  const c = await d.pool.connect();
  // A migration of a big table, or the wait for another process's, may take longer than the
  // limits meant for a batch (PG_LIMITS): this session has none.
  const q = (text: string, values?: unknown[]) => c.query(unbounded(text, values));
  try {
    await q('SET statement_timeout = 0');
    await q('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await q(CREATE);
    for (const m of pending(migrations, (await q(DONE)).rows)) {
      await q('BEGIN');
      await q(m.sql);
      await q(RECORD.postgres, [m.version]);
      await q('COMMIT');
    }
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await c.query('RESET statement_timeout').catch(() => undefined);
    c.release();
  }
}
