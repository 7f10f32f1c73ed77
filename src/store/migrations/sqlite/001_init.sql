-- Ids of counted events: the unique key makes "count once" a property of the store.
-- t (epoch seconds) is when the id's memory starts: the later of its event time and its arrival
-- (types.ts rememberedFrom); the dedupe-window pruning forgets ids by it.
CREATE TABLE IF NOT EXISTS seen_ids (
  id TEXT PRIMARY KEY,
  t INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_ids_t ON seen_ids (t);

-- Counters per (bucket start in epoch seconds UTC, cliente, evento), one table per resolution.
CREATE TABLE IF NOT EXISTS counts_minute (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (t, cliente, evento)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counts_minute_cliente ON counts_minute (cliente, t);
CREATE TABLE IF NOT EXISTS counts_hour (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (t, cliente, evento)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counts_hour_cliente ON counts_hour (cliente, t);
CREATE TABLE IF NOT EXISTS counts_day (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (t, cliente, evento)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counts_day_cliente ON counts_day (cliente, t);

-- All-time totals, kept in the same transaction, so /reporte never scans the counters.
CREATE TABLE IF NOT EXISTS totals (
  cliente TEXT NOT NULL, evento TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (cliente, evento)
) WITHOUT ROWID;
