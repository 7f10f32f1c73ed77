-- Distinct-count sketches of usuario (src/store/hll.ts), one table per level like the counters:
-- per (bucket start, cliente) and per (bucket start, cliente, evento). A commit merges its new
-- events' users into them in the same transaction as the counters, and the rollup step that moves
-- a bucket's counters up a level merges its sketches into the coarser ones likewise.
-- Rowid tables: a dense sketch is 10 KB, too large a row for WITHOUT ROWID.
CREATE TABLE IF NOT EXISTS uniques_minute (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, sketch BLOB NOT NULL, PRIMARY KEY (t, cliente)
);
CREATE INDEX IF NOT EXISTS uniques_minute_cliente ON uniques_minute (cliente, t);
CREATE TABLE IF NOT EXISTS uniques_hour (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, sketch BLOB NOT NULL, PRIMARY KEY (t, cliente)
);
CREATE INDEX IF NOT EXISTS uniques_hour_cliente ON uniques_hour (cliente, t);
CREATE TABLE IF NOT EXISTS uniques_day (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, sketch BLOB NOT NULL, PRIMARY KEY (t, cliente)
);
CREATE INDEX IF NOT EXISTS uniques_day_cliente ON uniques_day (cliente, t);
CREATE TABLE IF NOT EXISTS uniques_evento_minute (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, sketch BLOB NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS uniques_evento_minute_cliente ON uniques_evento_minute (cliente, evento, t);
CREATE TABLE IF NOT EXISTS uniques_evento_hour (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, sketch BLOB NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS uniques_evento_hour_cliente ON uniques_evento_hour (cliente, evento, t);
CREATE TABLE IF NOT EXISTS uniques_evento_day (
  t INTEGER NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, sketch BLOB NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS uniques_evento_day_cliente ON uniques_evento_day (cliente, evento, t);
