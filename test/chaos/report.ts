// Each scenario appends one row to test-artifacts/reliability.json (scripts/reliability-table.mjs
// turns the latest full-scale rows into RELIABILITY.md's table), then asserts on the same row: the
// row is written first, so a failing run leaves its figures behind.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../support/helpers.js';
import { SCALE, SEED } from './knobs.js';
import type { Service } from './scenario.js';
import type { Ledger, Settled } from './verify.js';

export const ARTIFACT = join(ROOT, 'test-artifacts', 'reliability.json');

export interface Row {
  scenario: string;
  /** The test's name (for --test-name-pattern). */
  test: string;
  scale: number;
  seed: number;
  events_sent: number;
  events_confirmed: number;
  faults: string;
  faults_injected: number;
  events_counted: number;
  lost: number;
  counted_twice: number;
  unexpected: number;
  dead_lettered: number;
  /** analytics/ingest processes that exited by themselves and had to be started again. */
  manual_restarts: number;
  seconds: number;
  command: string;
  at: string;
  ok: boolean;
  /** One line for the table (drain rate, retries, …). */
  note: string;
  /** Scenario-specific figures (retries, drain rate, peak RSS…). */
  details: Record<string, unknown>;
}

/** The command that runs this scenario alone, with the same size and the same random choices. */
export function reproduce(file: string, test: string): string {
  return (
    `CHAOS_SCALE=${SCALE} CHAOS_SEED=${SEED} npm run chaos -- test/chaos/${basename(file)}` +
    ` # or --test-name-pattern="${test}"`
  );
}

/** Tests that wrote their row in this process. */
const written = new Set<string>();

export function appendRow(row: Row): void {
  written.add(row.test);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  let rows: Row[] = [];
  if (existsSync(ARTIFACT)) {
    try {
      rows = JSON.parse(readFileSync(ARTIFACT, 'utf8')) as Row[];
    } catch {
      rows = [];
    }
  }
  rows.push(row);
  writeFileSync(ARTIFACT, `${JSON.stringify(rows, null, 2)}\n`);
  process.stderr.write(
    `chaos ${row.scenario}: sent ${row.events_sent}, confirmed ${row.events_confirmed}, counted ${row.events_counted}, ` +
      `lost ${row.lost}, twice ${row.counted_twice}, dead-lettered ${row.dead_lettered}, ${row.seconds} s ` +
      `(faults: ${row.faults})\n`,
  );
}

export interface Meta {
  scenario: string;
  /** The test's name. */
  test: string;
  file: string;
}

/**
 * Runs a scenario's body; when it throws before its row was written (a fault the scenario could
 * not even measure through), a row saying so is written, then the error goes on to the runner.
 */
export async function recorded(meta: Meta, body: (started: number) => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await body(started);
  } catch (err) {
    if (!written.has(meta.test)) {
      const message = err instanceof Error ? err.message : String(err);
      appendRow({
        scenario: meta.scenario,
        test: meta.test,
        scale: SCALE,
        seed: SEED,
        events_sent: 0,
        events_confirmed: 0,
        faults: '',
        faults_injected: 0,
        events_counted: 0,
        lost: 0,
        counted_twice: 0,
        unexpected: 0,
        dead_lettered: 0,
        manual_restarts: 0,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        command: reproduce(meta.file, meta.test),
        at: new Date().toISOString(),
        ok: false,
        note: `did not complete: ${message.split('\n')[0]!.slice(0, 200)}`,
        details: { error: message.slice(0, 4000) },
      });
    }
    throw err;
  }
}

export interface Finish extends Meta {
  started: number;
  ledger: Ledger;
  settled: Settled;
  faults: string;
  faultsInjected: number;
  /** Every analytics and ingest of the scenario (their crashes are counted). */
  services: Service[];
  note?: string;
  /** Poison messages sent (they are not events; they must all be dead-lettered). */
  poison?: number;
  details?: Record<string, unknown>;
}

/** Writes the row, then checks every promise on it. */
export function finish(f: Finish): Row {
  const st = f.settled;
  const wantDead = f.poison ?? 0;
  const crashes = f.services.flatMap((x) => x.crashes);
  const ok =
    st.drained &&
    st.lost === 0 &&
    st.countedTwice === 0 &&
    st.unexpected === 0 &&
    st.facts.counted === f.ledger.confirmed &&
    st.deadLettered === wantDead &&
    st.left === 0 &&
    st.reconcile.status === 'balanced' &&
    st.users.wrong.length === 0 &&
    crashes.length === 0;
  const row: Row = {
    scenario: f.scenario,
    test: f.test,
    scale: SCALE,
    seed: SEED,
    events_sent: f.ledger.sent + wantDead,
    events_confirmed: f.ledger.confirmed,
    faults: f.faults,
    faults_injected: f.faultsInjected,
    events_counted: st.facts.counted,
    lost: st.lost,
    counted_twice: st.countedTwice,
    unexpected: st.unexpected,
    dead_lettered: st.deadLettered,
    manual_restarts: crashes.length,
    seconds: Math.round((Date.now() - f.started) / 100) / 10,
    command: reproduce(f.file, f.test),
    at: new Date().toISOString(),
    ok,
    note: f.note ?? '',
    details: {
      drain_seconds: Math.round(st.drainSeconds * 10) / 10,
      ...(st.drainError ? { drain_error: st.drainError } : {}),
      counters: st.facts.counters,
      seen_ids: st.facts.seen,
      missing_ids: st.facts.missingIds,
      left_in_queue: st.left,
      analytics_exit_codes: st.exitCodes,
      per_cliente: Object.fromEntries(st.facts.perCliente),
      reconcile: st.reconcile,
      users: st.users,
      ...(crashes.length ? { crashes } : {}),
      ...f.details,
    },
  };
  appendRow(row);
  assert.deepEqual(
    crashes.map((c) => `${c.kind} on ${c.port} exited with ${c.code}: ${c.output.slice(-600)}`),
    [],
    'no process exited by itself (none needed a manual restart)',
  );
  assert.equal(st.drainError, undefined, 'the queue drained and every confirmed event was counted');
  assert.equal(st.lost, 0, 'lost');
  assert.equal(st.countedTwice, 0, 'counted twice');
  assert.equal(st.unexpected, 0, 'counted without being confirmed');
  assert.equal(st.facts.counted, f.ledger.confirmed, 'the counts equal the distinct confirmed ids');
  assert.equal(st.facts.counters, st.facts.counted, 'the minute/hour/day counters agree with the totals');
  assert.equal(st.deadLettered, wantDead, 'dead-lettered');
  assert.equal(st.left, 0, 'nothing left in the queue after a clean stop');
  assert.equal(st.reconcile.status, 'balanced', `reconcile balances: ${JSON.stringify(st.reconcile)}`);
  assert.deepEqual(st.users.wrong, [], '/api/v1/uniques gives the distinct users of the confirmed events');
  assert.deepEqual(
    st.exitCodes.filter((c) => c !== 0),
    [],
    'every analytics stopped cleanly on SIGTERM',
  );
  return row;
}
