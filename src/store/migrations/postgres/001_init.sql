-- Ids of counted events: the unique key makes "count once" a property of the store.
CREATE TABLE IF NOT EXISTS seen_ids (
  id TEXT PRIMARY KEY,
  t BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_ids_t ON seen_ids (t);

CREATE TABLE IF NOT EXISTS counts_minute (
  t BIGINT NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS counts_minute_cliente ON counts_minute (cliente, t);
CREATE TABLE IF NOT EXISTS counts_hour (
  t BIGINT NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS counts_hour_cliente ON counts_hour (cliente, t);
CREATE TABLE IF NOT EXISTS counts_day (
  t BIGINT NOT NULL, cliente TEXT NOT NULL, evento TEXT NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (t, cliente, evento)
);
CREATE INDEX IF NOT EXISTS counts_day_cliente ON counts_day (cliente, t);

CREATE TABLE IF NOT EXISTS totals (
  cliente TEXT NOT NULL, evento TEXT NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (cliente, evento)
);
