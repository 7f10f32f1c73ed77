// The store side of alerts (README "Alerts"), SQLite and PostgreSQL side by side: the rules, each
// rule's open episode, the firings (which are also the outbox of messages to publish), and the
// figures rules are evaluated on (last arrival per client and event, minute counters). Times are
// epoch milliseconds. Exactly-once firing is decided here, by the database: an episode opens with
// a conditional UPDATE (open_since IS NULL) and its firing row is inserted in the same
// transaction, so of several analytics processes evaluating one rule, one opens it.

import { type AlertKind, alertId, buildMessage, type WebhookFormat } from '../alert.js';
import type { Rule } from '../alert-rule.js';
import { num, params } from './sql.js';
import type { Driver, PostgresDriver, SqliteDriver } from './types.js';

/** A firing or resolution to record: its id is stable per (rule, episode start, state). */
export interface NewFiring {
  id: string;
  rule: string;
  kind: AlertKind;
  state: 'fired' | 'resolved';
  episodeStart: number;
  at: number;
  summary: string;
  /** The message to publish (alert.ts AlertMessage, as JSON). */
  message: string;
}

export type Firing = Omit<NewFiring, 'message'> & { publishedAt?: number };

/** A firing as the API and `warren alerts list --json` show it (times RFC 3339, UTC). */
export function publicFiring(f: Firing) {
  return {
    id: f.id,
    rule: f.rule,
    kind: f.kind,
    state: f.state,
    episode_start: new Date(f.episodeStart).toISOString(),
    at: new Date(f.at).toISOString(),
    summary: f.summary,
    published: f.publishedAt !== undefined,
  };
}

/** What the analytics service and the CLI use, whichever the store. */
export interface Alerts {
  addRule(rule: Rule): Promise<void>;
  rules(): Promise<Rule[]>;
  /**
   * Removes a rule; false when there is none of that id. Its firings stay in the history. A rule
   * removed while firing ends its episode: its resolution (at `at`, epoch ms) is recorded in the
   * same transaction, so the receiver that got the firing is told it is over.
   */
  removeRule(id: string, at?: number): Promise<boolean>;
  /**
   * Opens the rule's episode (when none is open) and records its firing, in ONE transaction;
   * false when an episode was already open (another process opened it) or the rule is gone.
   */
  open(f: NewFiring): Promise<boolean>;
  /** Closes the episode that started at f.episodeStart and records its resolution, likewise. */
  resolve(f: NewFiring): Promise<boolean>;
  /** Newest first. */
  firings(limit: number): Promise<Firing[]>;
  /**
   * Claims up to `limit` unpublished messages, oldest first, until `until` (a lease: no other
   * publisher takes them meanwhile; after it they are anyone's again).
   */
  claim(limit: number, now: number, until: number): Promise<{ id: string; message: string }[]>;
  markPublished(ids: string[], at: number): Promise<void>;
  /** Gives claimed rows back at once (their publish failed): the next round may take them. */
  release(ids: string[]): Promise<void>;
  /** When an event of cliente (of evento, when given) was last counted; undefined when never. */
  lastSeen(cliente: string, evento?: string): Promise<number | undefined>;
  /** Events of (cliente, evento) in the minute buckets (event time) starting at or after `from` (s). */
  windowCount(cliente: string, evento: string, from: number): Promise<number>;
}

const COLS =
  'id, kind, cliente, evento, minutes, above, below, valid, webhook, format, secret, created, open_since';

interface RuleRow {
  id: string;
  kind: AlertKind;
  cliente: string | null;
  evento: string | null;
  minutes: number | null;
  above: number | null;
  below: number | null;
  valid: number | boolean | null;
  webhook: string;
  format: WebhookFormat;
  secret: string;
  created: number | string;
  open_since: number | string | null;
}

function toRule(r: RuleRow): Rule {
  const out: Rule = {
    id: r.id,
    kind: r.kind,
    webhook: r.webhook,
    format: r.format,
    secret: r.secret,
    created: Number(r.created),
  };
  if (r.cliente !== null) out.cliente = r.cliente;
  if (r.evento !== null) out.evento = r.evento;
  if (r.minutes !== null) out.minutes = Number(r.minutes);
  if (r.above !== null) out.above = Number(r.above);
  if (r.below !== null) out.below = Number(r.below);
  if (r.valid !== null) out.valid = Boolean(r.valid);
  if (r.open_since !== null) out.openSince = Number(r.open_since);
  return out;
}

const FIRING_COLS = (d: Driver['kind']) =>
  `id, rule, kind, state, ${num(d, 'episode_start')} AS episode_start, ${num(d, 'at')} AS at, summary, ` +
  `${num(d, 'published_at')} AS published_at`;

const OPEN = 'UPDATE alert_rules SET open_since = $1 WHERE id = $2 AND open_since IS NULL';
const CLOSE = 'UPDATE alert_rules SET open_since = NULL WHERE id = $2 AND open_since = $1';
const INSERT_FIRING =
  'INSERT INTO alert_firings (id, rule, kind, state, episode_start, at, summary, message) ' +
  'VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING';
const CLAIM = {
  // SKIP LOCKED: two publishers claiming at once take different rows, never wait on each other.
  postgres:
    'UPDATE alert_firings SET claimed_until = $1 WHERE id IN (SELECT id FROM alert_firings ' +
    'WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2) ' +
    'ORDER BY at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, message, at',
  // One writer at a time (the IMMEDIATE transaction of one statement): nothing to skip.
  sqlite:
    'UPDATE alert_firings SET claimed_until = @p1 WHERE id IN (SELECT id FROM alert_firings ' +
    'WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < @p2) ' +
    'ORDER BY at, id LIMIT @p3) RETURNING id, message, at',
};

/** `$n` placeholders as SQLite's `@pn` (better-sqlite3 binds no numbered parameters). */
const lite = (sql: string) => sql.replace(/\$(\d+)/g, '@p$1');
const bind = (values: unknown[]) => Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));

function firingValues(f: NewFiring): unknown[] {
  return [f.id, f.rule, f.kind, f.state, f.episodeStart, f.at, f.summary, f.message];
}

type All = <T>(sql: string, values: unknown[]) => Promise<T[]>;

export function alerts(d: Driver): Alerts {
  const all: All = (sql, values) => {
    const p = params(d.kind);
    for (const v of values) p.add(v);
    return d.all(d.kind === 'sqlite' ? lite(sql) : sql, p);
  };
  return { ...ruleOps(d, all), ...firingOps(d, all), ...figureOps(d, all) };
}

function ruleOps(d: Driver, all: All): Pick<Alerts, 'addRule' | 'rules' | 'removeRule' | 'open' | 'resolve'> {
  const transition = d.kind === 'sqlite' ? sqliteTransition(d) : postgresTransition(d);
  return {
    async addRule(r) {
      const valid = r.valid === undefined ? null : d.kind === 'sqlite' ? Number(r.valid) : r.valid;
      const values: unknown[] = [r.id, r.kind, r.cliente ?? null, r.evento ?? null, r.minutes ?? null];
      values.push(r.above ?? null, r.below ?? null, valid, r.webhook, r.format, r.secret, r.created);
      await all(
        `INSERT INTO alert_rules (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL) RETURNING id`,
        values,
      );
    },
    async rules() {
      return (await all<RuleRow>(`SELECT ${COLS} FROM alert_rules ORDER BY created, id`, [])).map(toRule);
    },
    removeRule: d.kind === 'sqlite' ? sqliteRemove(d) : postgresRemove(d),
    open: (f) => transition(OPEN, f),
    resolve: (f) => transition(CLOSE, f),
  };
}

function firingOps(d: Driver, all: All): Pick<Alerts, 'firings' | 'claim' | 'markPublished' | 'release'> {
  return {
    async firings(limit) {
      const rows = await all<Record<string, unknown>>(
        `SELECT ${FIRING_COLS(d.kind)} FROM alert_firings ORDER BY at DESC, id DESC LIMIT $1`,
        [limit],
      );
      return rows.map(toFiring);
    },
    async claim(limit, now, until) {
      if (d.kind === 'sqlite') {
        const run = d.immediate(() => d.db.prepare(CLAIM.sqlite).all(bind([until, now, limit])));
        return sortByAt(run() as { id: string; message: string; at: number }[]);
      }
      return sortByAt((await d.pool.query(CLAIM.postgres, [until, now, limit])).rows);
    },
    markPublished: (ids, at) => update(d, 'published_at = $1', at, ids),
    release: (ids) => update(d, 'claimed_until = $1', null, ids),
  };
}

function figureOps(d: Driver, all: All): Pick<Alerts, 'lastSeen' | 'windowCount'> {
  return {
    async lastSeen(cliente, evento) {
      const sql =
        evento === undefined
          ? `SELECT ${num(d.kind, 'MAX(at)')} AS at FROM last_seen WHERE cliente = $1`
          : `SELECT ${num(d.kind, 'at')} AS at FROM last_seen WHERE cliente = $1 AND evento = $2`;
      const rows = await all<{ at: number | null }>(
        sql,
        evento === undefined ? [cliente] : [cliente, evento],
      );
      const at = rows[0]?.at;
      return at === null || at === undefined ? undefined : Number(at);
    },
    async windowCount(cliente, evento, from) {
      const rows = await all<{ n: number | null }>(
        `SELECT ${num(d.kind, 'SUM(count)')} AS n FROM counts_minute WHERE cliente = $1 AND evento = $2 AND t >= $3`,
        [cliente, evento, from],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}

/** Sets one column of the given firings, in one transaction. */
async function update(d: Driver, set: string, value: unknown, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  if (d.kind === 'postgres') {
    await d.pool.query(`UPDATE alert_firings SET ${set} WHERE id = ANY($2::text[])`, [value, ids]);
    return;
  }
  const st = d.db.prepare(`UPDATE alert_firings SET ${lite(set)} WHERE id = @p2`);
  d.immediate(() => {
    for (const id of ids) st.run(bind([value, id]));
  })();
}

function toFiring(r: Record<string, unknown>): Firing {
  const f: Firing = {
    id: r.id as string,
    rule: r.rule as string,
    kind: r.kind as AlertKind,
    state: r.state as Firing['state'],
    episodeStart: Number(r.episode_start),
    at: Number(r.at),
    summary: r.summary as string,
  };
  if (r.published_at !== null && r.published_at !== undefined) f.publishedAt = Number(r.published_at);
  return f;
}

function sortByAt(rows: { id: string; message: string; at: number | string }[]) {
  return rows
    .sort((a, b) => Number(a.at) - Number(b.at) || (a.id < b.id ? -1 : 1))
    .map((r) => ({ id: r.id, message: r.message }));
}

/** The resolution of the episode a removal ends: the evaluator's id for it, so it is sent once. */
function removalFiring(r: Rule, start: number, at: number): NewFiring {
  const id = alertId(r.id, start, 'resolved');
  const summary = `alert rule ${r.id} was removed while firing`;
  const message = buildMessage(
    {
      id,
      state: 'resolved',
      rule: { id: r.id, kind: r.kind, cliente: r.cliente, evento: r.evento },
      episode_start: new Date(start).toISOString(),
      at: new Date(at).toISOString(),
      summary,
      detail: { removed: true },
    },
    r.webhook,
    r.format,
    r.secret,
  );
  return {
    id,
    rule: r.id,
    kind: r.kind,
    state: 'resolved',
    episodeStart: start,
    at,
    summary,
    message: JSON.stringify(message),
  };
}

const SELECT_RULE = `SELECT ${COLS} FROM alert_rules WHERE id = $1`;
const DELETE_RULE = 'DELETE FROM alert_rules WHERE id = $1';

function sqliteRemove(d: SqliteDriver): Alerts['removeRule'] {
  return async (id, at = Date.now()) =>
    d.immediate(() => {
      const row = d.db.prepare(lite(SELECT_RULE)).get(bind([id])) as RuleRow | undefined;
      if (!row) return false;
      const r = toRule(row);
      if (r.openSince !== undefined)
        d.db.prepare(lite(INSERT_FIRING)).run(bind(firingValues(removalFiring(r, r.openSince, at))));
      d.db.prepare(lite(DELETE_RULE)).run(bind([id]));
      return true;
    })();
}

/** FOR UPDATE: a racing removal waits, then finds no row; an episode opening meanwhile waits too. */
function postgresRemove(d: PostgresDriver): Alerts['removeRule'] {
  return (id, at = Date.now()) =>
    d.transaction(async (c) => {
      const row = (await c.query<RuleRow>(`${SELECT_RULE} FOR UPDATE`, [id])).rows[0];
      if (!row) return false;
      const r = toRule(row);
      if (r.openSince !== undefined)
        await c.query(INSERT_FIRING, firingValues(removalFiring(r, r.openSince, at)));
      await c.query(DELETE_RULE, [id]);
      return true;
    });
}

/** The state change and its firing row in one IMMEDIATE transaction (the write lock first). */
function sqliteTransition(d: SqliteDriver): (sql: string, f: NewFiring) => Promise<boolean> {
  return async (sql, f) =>
    d.immediate(() => {
      const changed = d.db.prepare(lite(sql)).run(bind([f.episodeStart, f.rule])).changes === 1;
      if (changed) d.db.prepare(lite(INSERT_FIRING)).run(bind(firingValues(f)));
      return changed;
    })();
}

/**
 * The same on PostgreSQL. Under READ COMMITTED a second process's UPDATE of the same rule waits
 * for the first one's transaction, then re-checks its WHERE on the committed row and changes
 * nothing: one of them opens (or closes) the episode, whatever the timing.
 */
function postgresTransition(d: PostgresDriver): (sql: string, f: NewFiring) => Promise<boolean> {
  return (sql, f) =>
    d.transaction(async (c) => {
      const changed = (await c.query(sql, [f.episodeStart, f.rule])).rowCount === 1;
      if (changed) await c.query(INSERT_FIRING, firingValues(f));
      return changed;
    });
}
