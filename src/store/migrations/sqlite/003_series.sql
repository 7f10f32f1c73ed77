-- Events per bucket over every client and event type, one table per level like the counters, kept
-- in the same transaction as them (and moved by the same rollup step), so a time series without a
-- cliente/evento filter reads one row per bucket instead of every counter row in the range.
-- Rows may reach 0 when a rollup moves a bucket's count up a level; queries skip them.
CREATE TABLE IF NOT EXISTS series_minute (t INTEGER PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_hour (t INTEGER PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_day (t INTEGER PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO series_minute (t, count) SELECT t, SUM(count) FROM counts_minute WHERE true GROUP BY t ON CONFLICT (t) DO NOTHING;
INSERT INTO series_hour (t, count) SELECT t, SUM(count) FROM counts_hour WHERE true GROUP BY t ON CONFLICT (t) DO NOTHING;
INSERT INTO series_day (t, count) SELECT t, SUM(count) FROM counts_day WHERE true GROUP BY t ON CONFLICT (t) DO NOTHING;
