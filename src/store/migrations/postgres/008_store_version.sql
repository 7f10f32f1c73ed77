-- The store version and its change log (src/store/versions.ts), so that every analytics process
-- on this database can keep its report answers and know exactly when they stop being current.
-- `store_version.v` goes up by one in every transaction that changes a counter (a commit that
-- counted something, a rollup step), as that transaction's last write: the row lock makes those
-- transactions take turns at their end only, and a snapshot that reads v = N sees exactly the
-- changes 1..N. A commit also logs what it counted (`groups`, JSON: [t, cliente, evento, n,
-- users] per group), so a process holding an answer at version N - 1 adds change N to it instead
-- of computing it again; a rollup logs NULL (its moves cannot be added: answers are computed
-- again). Only the latest changes are kept: each one deletes the row a fixed number behind it.
CREATE TABLE store_version (
  k INTEGER PRIMARY KEY CHECK (k = 1),
  v BIGINT NOT NULL
);
INSERT INTO store_version (k, v) VALUES (1, 0);

CREATE TABLE store_changes (
  v BIGINT PRIMARY KEY,
  groups TEXT
);
