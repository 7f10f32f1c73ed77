-- Alerts (README "Alerts"). Times are epoch milliseconds.
-- The rules, and each rule's state: open_since is the open episode's start while it fires, NULL
-- while it is ok. An episode opens with UPDATE ... WHERE open_since IS NULL and closes with
-- UPDATE ... WHERE open_since = <its start>, each in the transaction that records its firing, so
-- however many analytics processes evaluate a rule, one of them opens (or closes) each episode.
CREATE TABLE alert_rules (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  cliente TEXT,
  evento TEXT,
  minutes DOUBLE PRECISION,
  above DOUBLE PRECISION,
  below DOUBLE PRECISION,
  valid BOOLEAN,
  webhook TEXT NOT NULL,
  format TEXT NOT NULL,
  secret TEXT NOT NULL,
  created BIGINT NOT NULL,
  open_since BIGINT
);

-- Every firing and resolution (its id: rule, episode start and state), and the outbox: the
-- message to publish (rendered and signed) until the broker confirmed it (published_at).
-- claimed_until: a publisher's lease, so two processes do not publish one row at once.
CREATE TABLE alert_firings (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  episode_start BIGINT NOT NULL,
  at BIGINT NOT NULL,
  summary TEXT NOT NULL,
  message TEXT NOT NULL,
  published_at BIGINT,
  claimed_until BIGINT,
  UNIQUE (rule, episode_start, state)
);
CREATE INDEX alert_firings_at ON alert_firings (at);
CREATE INDEX alert_outbox ON alert_firings (at) WHERE published_at IS NULL;

-- When each (cliente, evento) last had an event counted (arrival time), for silence rules:
-- written by the commit, one row per (cliente, evento) of the batch.
CREATE TABLE last_seen (
  cliente TEXT NOT NULL,
  evento TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (cliente, evento)
);
