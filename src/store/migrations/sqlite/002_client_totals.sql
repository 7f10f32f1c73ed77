-- All-time totals per client, kept in the same transaction as the counters, so /reporte reads
-- one row per client instead of summing (cliente, evento) totals on every call.
CREATE TABLE IF NOT EXISTS client_totals (
  cliente TEXT PRIMARY KEY,
  count INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO client_totals (cliente, count)
  SELECT cliente, SUM(count) FROM totals WHERE true GROUP BY cliente
  ON CONFLICT (cliente) DO NOTHING;
