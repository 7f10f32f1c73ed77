// What a scenario proves, read from the store itself once the queue is drained, by id (a loss
// and a duplicate under a new id would cancel out in a count):
//   lost          = confirmed ids (202 answers; a simulated client's --ids-out file) missing from
//                   seen_ids;
//   counted twice = (sum of the counters) − (number of distinct counted ids in seen_ids);
//   unexpected    = counts that no confirmed id explains: per client, its total minus its
//                   confirmed ids found in seen_ids (a poison message counted, a stray client,
//                   an event published again under a new id).
// And, from analytics itself, the reconcile equation (GET /api/v1/reconcile) once settled: every
// event a reporting publisher got confirmed is counted, a duplicate or a dead letter, and nothing
// is counted beyond what was attempted.
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ReconcileAnswer, Reporte } from '../../src/analytics/index.js';
import { usuarioFor } from '../../src/clients/index.js';
import { getJson, waitFor } from '../support/helpers.js';
import { USERS } from './knobs.js';
import type { Scenario, Service } from './scenario.js';

/** Every event the clients of a scenario set out to send, and which were confirmed. */
export class Ledger {
  /** Simulated clients: cliente → "N confirmed" (their ids are in `ids` too). */
  readonly sim = new Map<string, number>();
  /** Every client: cliente → ids confirmed (202, or the simulated client's --ids-out). */
  readonly ids = new Map<string, string[]>();
  /** Events the clients set out to send (valid ones; poison is counted apart). */
  sent = 0;

  /** A simulated client, once done: its "N confirmed" must match the ids it wrote. */
  async addSim(c: { name: string; done: Promise<number>; ids: () => string[] }): Promise<void> {
    const n = await c.done;
    const ids = c.ids();
    if (ids.length !== n)
      throw new Error(`client ${c.name} said "${n} confirmed" but wrote ${ids.length} ids to --ids-out`);
    this.sim.set(c.name, (this.sim.get(c.name) ?? 0) + n);
    this.addIds(c.name, ids);
  }

  addIds(cliente: string, ids: string[]): void {
    this.ids.set(cliente, [...(this.ids.get(cliente) ?? []), ...ids]);
  }

  get confirmed(): number {
    let n = 0;
    for (const v of this.ids.values()) n += v.length;
    return n;
  }

  /** Per cliente: the distinct usuario values of its confirmed events (usuarioFor of each id). */
  users(): Map<string, number> {
    return new Map(
      [...this.ids].map(([c, ids]) => [c, new Set(ids.map((id) => usuarioFor(id, USERS))).size]),
    );
  }
}

/** /api/v1/uniques against the ledger's exact distinct users, per client and for all of them. */
export interface UsersCheck {
  expected: number;
  answered: number | null;
  /** Answers that are not exact below 2,500 users (sparse sketches are) or off by over 2% above. */
  wrong: { cliente: string; expected: number; answered: number }[];
}

const usersOk = (expected: number, answered: number) =>
  expected <= 2500 ? answered === expected : Math.abs(answered - expected) / expected <= 0.02;

export async function checkUsers(base: string, ledger: Ledger): Promise<UsersCheck> {
  const wrong: UsersCheck['wrong'] = [];
  let expected = 0;
  for (const [cliente, n] of ledger.users()) {
    expected += n;
    const got = (await getJson<{ usuarios: number }>(`${base}/api/v1/uniques?cliente=${cliente}`)).body
      .usuarios;
    if (!usersOk(n, got)) wrong.push({ cliente, expected: n, answered: got });
  }
  const answered = (await getJson<{ usuarios: number }>(`${base}/api/v1/uniques`)).body.usuarios;
  if (!usersOk(expected, answered)) wrong.push({ cliente: '(all)', expected, answered });
  return { expected, answered, wrong };
}

export interface StoreFacts {
  perCliente: Map<string, number>;
  /** Sum of the all-time totals. */
  counted: number;
  /** Sum of the minute, hour and day counters (must equal counted). */
  counters: number;
  /** Distinct counted ids. */
  seen: number;
  /** Confirmed ids absent from seen_ids. */
  missingIds: number;
  /** Per cliente: its confirmed ids found in seen_ids. */
  foundIds: Map<string, number>;
}

const SUMS = {
  totals: 'SELECT cliente, SUM(count) AS n FROM totals GROUP BY cliente',
  counters:
    'SELECT (SELECT COALESCE(SUM(count), 0) FROM counts_minute) + (SELECT COALESCE(SUM(count), 0) FROM counts_hour)' +
    ' + (SELECT COALESCE(SUM(count), 0) FROM counts_day) AS n',
  seen: 'SELECT COUNT(*) AS n FROM seen_ids',
};

/** Distinct confirmed ids per cliente (a retried request may repeat ids). */
function distinctIds(ledger: Ledger): [string, string[]][] {
  return [...ledger.ids].map(([c, ids]) => [c, [...new Set(ids)]]);
}

async function readSqlite(path: string, ledger: Ledger): Promise<StoreFacts> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const perCliente = new Map<string, number>();
    for (const r of db.prepare(SUMS.totals).all() as { cliente: string; n: number }[])
      perCliente.set(r.cliente, Number(r.n));
    const one = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
    // By (cliente, id), the primary key's order: `WHERE id = ?` alone cannot use that key and
    // scans the table once per id (100,000 ids at full scale: many minutes of CPU).
    const has = db.prepare('SELECT 1 FROM seen_ids WHERE cliente = ? AND id = ?').pluck();
    let missingIds = 0;
    const foundIds = new Map<string, number>();
    for (const [cliente, ids] of distinctIds(ledger)) {
      let found = 0;
      for (const id of ids)
        if (has.get(cliente, id) === undefined) missingIds++;
        else found++;
      foundIds.set(cliente, found);
    }
    return {
      perCliente,
      counted: [...perCliente.values()].reduce((a, b) => a + b, 0),
      counters: one(SUMS.counters),
      seen: one(SUMS.seen),
      missingIds,
      foundIds,
    };
  } finally {
    db.close();
  }
}

async function readPostgres(url: string, ledger: Ledger): Promise<StoreFacts> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const perCliente = new Map<string, number>();
    for (const r of (await c.query(SUMS.totals)).rows as { cliente: string; n: string }[])
      perCliente.set(r.cliente, Number(r.n));
    const one = async (sql: string) => Number((await c.query(sql)).rows[0].n);
    let missingIds = 0;
    const foundIds = new Map<string, number>();
    for (const [cliente, ids] of distinctIds(ledger)) {
      let found = 0;
      for (let i = 0; i < ids.length; i += 10_000) {
        const chunk = ids.slice(i, i + 10_000);
        const r = await c.query(
          'SELECT COUNT(*) AS n FROM seen_ids WHERE cliente = $1 AND id = ANY($2::text[])',
          [cliente, chunk],
        );
        found += Number(r.rows[0].n);
        missingIds += chunk.length - Number(r.rows[0].n);
      }
      foundIds.set(cliente, found);
    }
    return {
      perCliente,
      counted: [...perCliente.values()].reduce((a, b) => a + b, 0),
      counters: await one(SUMS.counters),
      seen: await one(SUMS.seen),
      missingIds,
      foundIds,
    };
  } finally {
    await c.end();
  }
}

export function readStore(
  s: Pick<Scenario, 'store' | 'dbPath' | 'databaseUrl'>,
  ledger: Ledger,
): Promise<StoreFacts> {
  return s.store === 'sqlite' ? readSqlite(s.dbPath, ledger) : readPostgres(s.databaseUrl, ledger);
}

export interface Settled {
  drained: boolean;
  /** Why the drain wait gave up, when it did. */
  drainError: string | undefined;
  /** Seconds from settle() to drained. */
  drainSeconds: number;
  /** Exit codes of the analytics processes stopped with SIGTERM (0 each). */
  exitCodes: (number | null)[];
  /** Messages left in the main queue after every analytics stopped cleanly. */
  left: number;
  deadLettered: number;
  facts: StoreFacts;
  lost: number;
  countedTwice: number;
  unexpected: number;
  /** The reconcile answer once settled (status "balanced"), or the last one read at the deadline. */
  reconcile: { status: string; totals: ReconcileAnswer['totals'] | null; unbalanced: unknown[] };
  users: UsersCheck;
}

/** Waits (with a deadline) until reconcile is settled and balanced; returns the last answer either way. */
async function reconciled(base: string, timeoutMs: number): Promise<Settled['reconcile']> {
  let last: ReconcileAnswer | undefined;
  await waitFor(
    'reconcile balanced',
    async () => {
      last = (await getJson<ReconcileAnswer>(`${base}/api/v1/reconcile`)).body;
      return last.status === 'balanced';
    },
    timeoutMs,
    250,
  ).catch(() => undefined);
  if (!last) return { status: 'unavailable', totals: null, unbalanced: [] };
  return {
    status: last.status,
    totals: last.totals,
    unbalanced: last.rows.filter((r) => !r.balanced).slice(0, 5),
  };
}

/**
 * Waits until analytics counted at least every confirmed event and the queue is empty, stops
 * every analytics with SIGTERM (each finishes and acks its batch), then reads the store. A drain
 * that never completes is not thrown here: the figures are measured and recorded either way.
 */
export async function settle(
  s: Scenario,
  analytics: Service[],
  ledger: Ledger,
  opts: { timeoutMs: number; beforeStop?: () => void | Promise<void> },
): Promise<Settled> {
  const t0 = Date.now();
  let drainError: string | undefined;
  await waitFor(
    'every confirmed event counted and the queue empty',
    async () => {
      const a = analytics.find((x) => x.alive);
      if (!a) throw new Error('no analytics is running');
      const total = (await getJson<Reporte>(`${a.base}/reporte`)).body.total;
      const q = await s.queueState();
      return total >= ledger.confirmed && q.messages === 0;
    },
    opts.timeoutMs,
    250,
  ).catch((err: Error) => {
    drainError = err.message;
  });
  const drainSeconds = (Date.now() - t0) / 1000;
  const alive = analytics.find((x) => x.alive);
  const reconcile = alive
    ? await reconciled(alive.base, 30_000)
    : { status: 'unavailable', totals: null, unbalanced: [] };
  const users = alive
    ? await checkUsers(alive.base, ledger)
    : {
        expected: 0,
        answered: null,
        wrong: [{ cliente: '(no analytics running)', expected: 0, answered: 0 }],
      };
  await opts.beforeStop?.();
  const exitCodes = await Promise.all(analytics.filter((a) => a.alive).map((a) => a.stop()));
  const left = (await s.queueState()).messages;
  const deadLettered = (await s.queueState(`${s.queue}.dlq`)).messages;
  const facts = await readStore(s, ledger);
  const lost = facts.missingIds;
  let unexpected = 0;
  for (const [cliente, n] of facts.perCliente)
    unexpected += Math.max(0, n - (facts.foundIds.get(cliente) ?? 0));
  return {
    drained: drainError === undefined,
    drainError,
    drainSeconds,
    exitCodes,
    left,
    deadLettered,
    facts,
    lost,
    countedTwice: facts.counted - facts.seen,
    unexpected,
    reconcile,
    users,
  };
}
