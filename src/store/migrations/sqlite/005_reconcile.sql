-- Reconciliation (README "Reconcile", RELIABILITY.md "What the reconcile equation proves").
-- The publish an id was first counted from (its x-warren-pub header; NULL when the publisher does
-- not report): a later delivery of the same id carrying the same tag is a copy of that publish (a
-- broker redelivery, or the publisher sending it again after a lost confirm), not a duplicate.
ALTER TABLE seen_ids ADD COLUMN pub TEXT;

-- Per (cliente, minute of event time): what reporting publishers attempted and had confirmed
-- (from their reports), and what the consumer counted from them, counted from publishers that do
-- not report, and dropped as duplicates. Kept per minute (never rolled up) for the dedupe window.
CREATE TABLE reconcile_minute (
  cliente TEXT NOT NULL,
  t INTEGER NOT NULL,
  attempted INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  counted INTEGER NOT NULL DEFAULT 0,
  unreported INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (cliente, t)
) WITHOUT ROWID;
CREATE INDEX reconcile_minute_t ON reconcile_minute (t);

-- Report ids already applied (reporter.seq): a report delivered again changes nothing.
CREATE TABLE reconcile_reports (
  id TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX reconcile_reports_at ON reconcile_reports (at);

-- Duplicates already counted, one per publish (cliente, id, pub): a duplicate redelivered after its
-- commit is not counted again.
CREATE TABLE reconcile_dups (
  cliente TEXT NOT NULL,
  id TEXT NOT NULL,
  pub TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (cliente, id, pub)
) WITHOUT ROWID;
CREATE INDEX reconcile_dups_at ON reconcile_dups (at);
