// The unique-users stage in the report: its JSON keys (`uniques.*`, BENCHMARKS.md) and its table
// lines, each goal of issue #19 with pass or FAIL.
import type { UniquesResult } from './uniques.js';
import { fmt, round } from './util.js';

/** Issue #19's goals. */
export const UNIQUES_GOALS = { errorP95: 0.02, queryP95Ms: 50, amqpRatio: 0.85 } as const;

const byKind = <T>(r: UniquesResult, f: (s: UniquesResult['stores'][number]) => T) =>
  Object.fromEntries(r.stores.map((s) => [s.kind, f(s)]));

export function uniquesJson(r: UniquesResult | undefined) {
  if (!r) return null;
  const worst = (f: (s: UniquesResult['stores'][number]) => number) =>
    r.stores.length ? Math.max(...r.stores.map(f)) : null;
  return {
    error_p95: worst((s) => s.errorP95),
    error_max: worst((s) => s.errorMax),
    error_by_store: byKind(r, (s) => ({
      p95: s.errorP95,
      max: s.errorMax,
      answers: s.answers,
      dense: s.denseAnswers,
    })),
    query_ms: byKind(r, (s) => ({
      one_client_90d_p50: s.queryMs.oneClient90dP50,
      one_client_90d_p95: s.queryMs.oneClient90dP95,
      all_clients_90d_p50: s.queryMs.allClients90dP50,
      all_clients_90d_p95: s.queryMs.allClients90dP95,
      first_ms: s.queryMs.firstMs,
    })),
    sketch_bytes_per_bucket: byKind(r, (s) => s.sketchBytesPerBucket),
    store_bytes_per_million_events: byKind(r, (s) => Math.round((s.storeBytes / r.size.events) * 1e6)),
    store_bytes_compact_per_million_events: byKind(r, (s) =>
      Math.round((s.compactBytes / r.size.events) * 1e6),
    ),
    sketch_bytes_per_million_events: byKind(r, (s) => Math.round((s.sketchBytesTotal / r.size.events) * 1e6)),
    fill_s: byKind(r, (s) => ({ commit: s.fillSeconds, rollup: s.rollupSeconds })),
    amqp_ratio_usuario: r.amqp ? round(r.amqp.ratio, 3) : null,
    amqp_eps: r.amqp
      ? { without: round(r.amqp.withoutEps), with: round(r.amqp.withEps), runs: r.amqp.runs }
      : null,
    data: {
      events: r.size.events,
      users: r.distinctUsers,
      clients: r.size.clients,
      days: r.size.days,
      retention: r.retention,
    },
    goals: UNIQUES_GOALS,
  };
}

type Row = [what: string, figure: string, detail: string];
const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');

export function uniquesRows(r: UniquesResult | undefined): Row[] {
  if (!r) return [];
  const rows: Row[] = [];
  const g = UNIQUES_GOALS;
  const data = `${fmt(r.size.events)} events, ${fmt(r.distinctUsers)} users (Zipf), ${r.size.clients} clients, ${r.size.days} days`;
  for (const s of r.stores) {
    rows.push([
      `uniques error p95 (${s.kind})`,
      `${(s.errorP95 * 100).toFixed(2)}%`,
      `${verdict(s.errorP95 <= g.errorP95)} (goal <= 2%); max ${(s.errorMax * 100).toFixed(2)}%, ${s.answers} answers (${s.denseAnswers} over 2,500 users); ${data}`,
    ]);
    const q = s.queryMs;
    const ok = q.oneClient90dP95 <= g.queryP95Ms && q.allClients90dP95 <= g.queryP95Ms;
    rows.push([
      `uniques 90 d query p95 (${s.kind})`,
      `${fmt(q.oneClient90dP95, 1)} / ${fmt(q.allClients90dP95, 1)} ms`,
      `${verdict(ok)} (goal <= 50 ms); one client / all clients, p50 ${fmt(q.oneClient90dP50, 1)} / ${fmt(q.allClients90dP50, 1)} ms; first answer (nothing kept yet) ${fmt(q.firstMs)} ms`,
    ]);
    const b = s.sketchBytesPerBucket;
    rows.push([
      `uniques store size (${s.kind})`,
      `${fmt(s.storeBytes / r.size.events, 0)} B/event`,
      `${fmt(((s.storeBytes / r.size.events) * 1e6) / 2 ** 20)} MiB per 1M events as filled, ${fmt(((s.compactBytes / r.size.events) * 1e6) / 2 ** 20)} MiB compacted (sketches ${fmt(((s.sketchBytesTotal / r.size.events) * 1e6) / 2 ** 20)} MiB); ` +
        `sketch bytes per client bucket avg/p95: minute ${b.minute.avg}/${b.minute.p95}, hour ${b.hour.avg}/${b.hour.p95}, day ${b.day.avg}/${b.day.p95}`,
    ]);
  }
  const a = r.amqp;
  if (a)
    rows.push([
      'AMQP path with usuario',
      `${(a.ratio * 100).toFixed(0)}% of without`,
      `${verdict(a.ratio >= g.amqpRatio)} (goal >= 85%); ${fmt(a.withEps)} vs ${fmt(a.withoutEps)} ev/s, ${a.rounds} rounds A B, ${fmt(a.events)} events each`,
    ]);
  return rows;
}
