-- Ids are scoped per client (CONTRACT.md, "Event"): the same id from two clients is two events,
-- so the dedupe key is (cliente, id). One client can no longer suppress another's events by
-- sending their ids first.
-- The ids remembered before this migration: seen_ids had no cliente column and nothing else in
-- the store ties an id to its client, so it cannot be derived. They are kept with cliente '' (no
-- client has that name: a cliente is 1-64 characters) and commit() treats an id kept under ''
-- as known for EVERY client, as it was before, until the dedupe window forgets it (pruning goes
-- by t, as for every id). No new row is ever written under ''.
ALTER TABLE seen_ids ADD COLUMN cliente TEXT NOT NULL DEFAULT '';
ALTER TABLE seen_ids ALTER COLUMN cliente DROP DEFAULT;
ALTER TABLE seen_ids DROP CONSTRAINT seen_ids_pkey;
ALTER TABLE seen_ids ADD PRIMARY KEY (cliente, id);

-- The dedupe horizon (one row): `t` is the newest cutoff before which pruning forgot ids (epoch
-- seconds), raised in the same transaction that forgets them. An event whose time is before it
-- may have been forgotten, so a replay would count it again; one at or after it cannot have been
-- (an id is remembered from the later of its event time and its arrival). `held_until`: a
-- replay holds pruning of ids until then, so what it checked against `t` stays true until the
-- consumer has counted what it published. Both are read and written under this row's lock.
CREATE TABLE dedupe_horizon (
  k INTEGER PRIMARY KEY CHECK (k = 1),
  t BIGINT,
  held_until BIGINT
);
-- A store that counted events before this migration may already have forgotten ids, and no
-- record says up to when. Every pass forgot only ids older than the newest id (not after its
-- "now") minus DEDUPE_WINDOW_DAYS, at least one day, and that newest id is never forgotten: so the
-- horizon starts one day before the newest id remembered (not after now), or at the migration's
-- time when no id is left. A replay also skips the events before it whose ids are still
-- remembered (`--force` sends them, and those ids count them once). A store with no counts
-- starts without one.
INSERT INTO dedupe_horizon (k, t, held_until)
  SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM totals WHERE count <> 0) THEN
    COALESCE((SELECT MAX(t) FROM seen_ids WHERE t <= EXTRACT(EPOCH FROM now())::bigint) - 86400, EXTRACT(EPOCH FROM now())::bigint) END, NULL;
