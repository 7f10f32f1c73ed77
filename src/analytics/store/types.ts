// The store interface: SQLite (default, one consumer) and PostgreSQL (shared by many consumers)
// implement it with the same semantics. Times are epoch seconds (UTC).
import type { ParsedEvent } from '../../event.js';

export type Bucket = 'minute' | 'hour' | 'day';
export const BUCKET_SECONDS: Record<Bucket, number> = { minute: 60, hour: 3600, day: 86400 };

export interface CommitResult {
  /** Events counted by this commit (new ids, and events without an id). */
  counted: number;
  /** Events whose id was already known: nothing changed for them. */
  duplicates: number;
  /** Events counted without deduplication (no id and no AMQP message_id). */
  withoutId: number;
}

/** Events counted by one commit, per (minute of event time, cliente, evento). */
export interface CountedGroup {
  /** Start of the minute, epoch seconds. */
  t: number;
  cliente: string;
  evento: string;
  n: number;
}

/**
 * One commit of this store object, between two versions (Store.version) read inside its
 * transaction: nothing else changed the counters between `before` and `after`.
 */
export interface Change {
  before: string;
  after: string;
  groups: readonly CountedGroup[];
}

export interface Filter {
  from?: number;
  to?: number;
  cliente?: string;
  evento?: string;
}

export interface CountRow {
  cliente: string;
  evento: string;
  count: number;
}

/** One client's line of a report: its total and its events as a JSON object, largest first. */
export interface ClientReport {
  cliente: string;
  total: number;
  /** `{"click":10,"view":3}`: counts by event, largest first, then by name; no zero counts. */
  eventos: string;
}

/** Largest count first, then by name (byte order): the order of every list in a report. */
export function byCountThenName(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/** The eventos object of a report line, written in the given order (what SQLite's json_group_object writes). */
export function eventosJson(entries: [string, number][]): string {
  return `{${entries.map(([e, n]) => `${JSON.stringify(e)}:${n}`).join(',')}}`;
}

/** Report rows grouped into lines per client (for stores that do not group in SQL). */
export function groupByClient(rows: CountRow[]): ClientReport[] {
  const map = new Map<string, { total: number; eventos: [string, number][] }>();
  for (const r of rows) {
    const n = Number(r.count);
    if (n === 0) continue;
    let c = map.get(r.cliente);
    if (!c) {
      c = { total: 0, eventos: [] };
      map.set(r.cliente, c);
    }
    c.total += n;
    c.eventos.push([r.evento, n]);
  }
  return [...map].map(([cliente, c]) => ({
    cliente,
    total: c.total,
    eventos: eventosJson(c.eventos.sort(byCountThenName)),
  }));
}

export interface ClientTotal {
  cliente: string;
  count: number;
}

export interface Point {
  t: number;
  count: number;
}

export interface ExportRow extends CountRow {
  t: number;
}

export interface StoreOptions {
  /** The clock (epoch ms) for arrival times; tests and simulations inject one. */
  now?: () => number;
  /** SQLite only: open an existing file read-only (export), never create or migrate it. */
  readonly?: boolean;
}

/**
 * The time an id is remembered from (seen_ids.t): the later of its event time and its arrival.
 * Pruning forgets ids whose t is older than DEDUPE_WINDOW_DAYS, so a late event (old timestamp,
 * arriving now) is still remembered for the whole window after it arrived: a redelivery or a
 * client's retry of it is not counted twice.
 */
export function rememberedFrom(eventMs: number, arrivalS: number): number {
  return Math.max(Math.floor(eventMs / 1000), arrivalS);
}

/**
 * A range report reads the counters inside the range, or the totals minus the counters outside it
 * (the totals are the sum of every level: commits and rollups keep them so in one transaction).
 * The second is cheaper when most events lie inside: "the last 24 h" of a store that keeps a day
 * or two of minutes, or any range that covers most of the data.
 */
export function complementIsSmaller(insideEvents: number, allEvents: number): boolean {
  return insideEvents > 0 && insideEvents * 2 > allEvents;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Records new ids and counts them in ONE transaction; known ids change nothing. */
  commit(events: ParsedEvent[]): Promise<CommitResult>;
  /** Counts per (cliente, evento) in a range, or all time when the filter has no range. */
  report(filter: Filter): Promise<CountRow[]>;
  /** The same counts as report(), one line per client (what /api/v1/report lists), in any order. */
  clientReport(filter: Filter): Promise<ClientReport[]>;
  /** All-time totals per client, largest first (what /reporte shows). */
  clientTotals(): Promise<ClientTotal[]>;
  timeseries(filter: Filter, bucket: Bucket): Promise<Point[]>;
  /**
   * A token that changes whenever any counter changes (a commit, a rollup; by this process or
   * another one), so an answer computed at one version can be served again while it holds; or
   * undefined when the store cannot tell cheaply (then nothing is cached).
   */
  version(): Promise<string | undefined>;
  /**
   * Calls listener after each commit of this store object that counted something, with the
   * versions around it; returns the unsubscribe. A store without versions never calls it.
   */
  onChange(listener: (change: Change) => void): () => void;
  /** Streams counters per (cliente, evento, bucket), ordered by bucket, without loading them all. */
  exportRows(filter: Filter, bucket: Bucket): AsyncIterable<ExportRow>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Groups new events by (cliente, evento, minute): each counter row is upserted once per batch. */
export function aggregate(events: ParsedEvent[]): Map<string, CountedGroup> {
  const groups = new Map<string, CountedGroup>();
  for (const e of events) {
    const t = Math.floor(e.ms / 60_000) * 60;
    const key = `${t}\u0000${e.cliente}\u0000${e.evento}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { t, cliente: e.cliente, evento: e.evento, n: 1 });
  }
  return groups;
}

/** SQL for the start of t's bucket; correct for times before 1970 too (% truncates toward 0). */
export function floorTo(size: number): string {
  return `(t - ((t % ${size}) + ${size}) % ${size})`;
}

/** Counts of new events per minute of event time (the series tables' increments). */
export function perMinute(events: ParsedEvent[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of events) {
    const t = Math.floor(e.ms / 60_000) * 60;
    out.set(t, (out.get(t) ?? 0) + 1);
  }
  return out;
}

/** Reads a migrations folder of NNN_name.sql files in order. */
export async function readMigrations(
  dialect: 'sqlite' | 'postgres',
): Promise<{ version: number; sql: string }[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  // Resolved from the package root so it works from src/ (tsx) and dist/ alike.
  const dir = new URL(`../../../src/analytics/store/migrations/${dialect}/`, import.meta.url);
  const files = (await readdir(dir)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (f) => ({
      version: Number.parseInt(f, 10),
      sql: await readFile(new URL(f, dir), 'utf8'),
    })),
  );
}
