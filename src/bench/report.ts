// The run's figures: the JSON document (`--json FILE`, keys of CONTRACT.md "Benchmark" plus
// details) and the table printed on stdout.
import type { Config } from '../config.js';
import type { AmqpPathResult } from './amqp.js';
import type { CeilingResult } from './ceiling.js';
import type { HttpResult } from './http.js';
import { type LatencyResult, STALL_MS } from './latency.js';
import type { Machine } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { ProxyResult } from './proxy.js';
import type { QueriesResult, QueryFigures } from './queries.js';
import type { ReadsResult } from './reads.js';
import type { Sizes } from './sizes.js';
import type { UniquesResult } from './uniques.js';
import { uniquesJson, uniquesRows } from './uniques-report.js';
import { fmt, type HostCpu, round } from './util.js';

export interface Results {
  quick: boolean;
  store: 'sqlite' | 'postgres';
  /** Runs of every stage (--repeat); a table of several is of their medians. */
  repeat: number;
  startedAt: Date;
  seconds: number;
  sizes: Sizes;
  machine: Machine | undefined;
  ceiling?: CeilingResult;
  proxy?: ProxyResult;
  amqp?: AmqpPathResult;
  httpBatch?: HttpResult;
  httpSingle?: HttpResult;
  httpSend?: HttpResult;
  latency?: LatencyResult;
  queries?: QueriesResult;
  memory?: MemoryResult;
  reads?: ReadsResult;
  uniques?: UniquesResult;
  errors: { stage: string; message: string }[];
}

const num = (n: number | undefined, digits = 0): number | null =>
  n === undefined || !Number.isFinite(n) ? null : round(n, digits);

function ratio(path: number | undefined, ceiling: number | undefined): number | null {
  return path === undefined || !ceiling ? null : round(path / ceiling, 3);
}

export function toJson(r: Results, config: Config) {
  const c = r.ceiling?.eps;
  return {
    broker_ceiling_eps: num(c),
    amqp_path_eps: num(r.amqp?.eps),
    http_batch_eps: num(r.httpBatch?.eps),
    http_single_rps: num(r.httpSingle?.rps),
    http_single_eps: num(r.httpSingle?.eps),
    http_send_rps: num(r.httpSend?.rps),
    ratio_amqp: ratio(r.amqp?.eps, c),
    ratio_http_batch: ratio(r.httpBatch?.eps, c),
    ratio_http_single: ratio(r.httpSingle?.eps, c),
    proxy_ceiling_rps: num(r.proxy?.rps),
    ratio_http_single_proxy: ratio(r.httpSingle?.rps, r.proxy?.rps),
    ingest_cpu_us_per_request: num(r.httpSingle?.ingestCpuUsPerRequest, 1),
    latency_ms: {
      p50: num(r.latency?.p50, 1),
      p95: num(r.latency?.p95, 1),
      p99: num(r.latency?.p99, 1),
      p999: num(r.latency?.p999, 1),
      max: num(r.latency?.max, 1),
      rate_eps: num(r.latency?.rateEps),
      method: 'sse',
    },
    query_ms: {
      reporte_p50: num(r.queries?.reporte.p50, 1),
      reporte_p95: num(r.queries?.reporte.p95, 1),
      report_p50: num(r.queries?.report.p50, 1),
      report_p95: num(r.queries?.report.p95, 1),
      timeseries_p50: num(r.queries?.timeseries.p50, 1),
      timeseries_p95: num(r.queries?.timeseries.p95, 1),
      reporte_live_p95: num(r.queries?.reporte.live.p95, 1),
      report_live_p95: num(r.queries?.report.live.p95, 1),
      timeseries_live_p95: num(r.queries?.timeseries.live.p95, 1),
      reporte_cold_p95: num(r.queries?.reporte.cold.p95, 1),
      report_cold_p95: num(r.queries?.report.cold.p95, 1),
      timeseries_cold_p95: num(r.queries?.timeseries.cold.p95, 1),
    },
    analytics_peak_rss_mb: num(r.memory?.peakRssMb, 1),
    reads_amqp_path_eps: num(r.reads?.loaded.amqpEps),
    reads_amqp_alone_eps: num(r.reads?.alone.amqpEps),
    ratio_amqp_under_reads: r.reads ? r.reads.ratio : null,
    reads_latency_p99_ms: num(r.reads?.loaded.latencyP99, 1),
    reads_reports_per_s: num(r.reads?.reports.perSecond, 1),
    backlog_drain_eps: num(r.memory?.drainEps),
    uniques: uniquesJson(r.uniques),
    machine: r.machine ?? null,
    settings: {
      quick: r.quick,
      store: r.store,
      repeat: r.repeat,
      queue_type: config.queueType,
      prefetch: config.prefetch,
      batch_size: config.batchSize,
      batch_wait_ms: config.batchWaitMs,
      confirm_window: config.confirmWindow,
      sizes: r.sizes,
    },
    details: {
      ceiling: r.ceiling ?? null,
      proxy: r.proxy ?? null,
      amqp_path: r.amqp ?? null,
      http_batch: r.httpBatch ?? null,
      http_single: r.httpSingle ?? null,
      http_send: r.httpSend ?? null,
      latency: r.latency ?? null,
      queries: r.queries ?? null,
      reads: r.reads ?? null,
      memory: r.memory ?? null,
      uniques: r.uniques ?? null,
    },
    errors: r.errors,
    started_at: r.startedAt.toISOString(),
    duration_s: round(r.seconds, 1),
  };
}

function cpu(c: Record<string, number> | undefined): string {
  if (!c) return '';
  const ingest = Object.entries(c)
    .filter(([k]) => k.startsWith('ingest'))
    .reduce((s, [, v]) => s + v, 0);
  const parts = c.analytics === undefined ? [] : [`analytics ${fmt(c.analytics, 2)}`];
  if (ingest > 0.05) parts.push(`ingest ${fmt(ingest, 2)}`);
  if ((c.traefik ?? 0) > 0.05) parts.push(`traefik ${fmt(c.traefik, 2)}`);
  if (c.rabbitmq !== undefined) parts.push(`rabbitmq ${fmt(c.rabbitmq, 2)}`);
  parts.push(`bench ${fmt(c.bench, 2)}`);
  return `cores: ${parts.join(', ')}`;
}

/** Where the machine's cores went that the measured processes did not use (HostCpu). */
function host(h: HostCpu | undefined): string {
  if (!h) return '';
  return `; machine idle ${fmt(h.idle, 2)}, iowait ${fmt(h.iowait, 2)}, steal ${fmt(h.steal, 2)}`;
}

type Row = [what: string, figure: string, detail: string];

/** The latency stage's stalls: how many, and the worst with its confirms (the broker's share). */
function stallText(l: LatencyResult): string {
  const worst = l.stalls.reduce((a, b) => (b.maxMs > a.maxMs ? b : a));
  return `${l.stalls.length} stall(s) over ${STALL_MS} ms, the worst ${fmt(worst.maxMs)} ms at ${fmt(worst.fromS, 1)} s (its confirms ${fmt(worst.confirmMaxMs)} ms)`;
}

/** The ceilings, the paths measured against them, and end-to-end latency. */
function throughputRows(r: Results): Row[] {
  const c = r.ceiling?.eps;
  const pct = (eps: number | undefined) =>
    eps === undefined || !c ? '' : `${fmt((eps / c) * 100)}% of ceiling; `;
  const rows: Row[] = [];
  const add = (what: string, figure: string, detail: string) => rows.push([what, figure, detail]);
  const x = r.ceiling;
  if (x) {
    const each = x.runs.map((k) => `${k.publishers} pub ${fmt(k.eps)}`).join(', ');
    add(
      'broker ceiling',
      `${fmt(x.eps)} ev/s`,
      `best of ${each}; ${fmt(x.messages)} msgs of ${x.bodyBytes} B, window ${x.window}/publisher, prefetch ${x.prefetch}; ${cpu(x.cpu)}${host(x.host)}`,
    );
  }
  const px = r.proxy;
  if (px) {
    const cores = Object.entries(px.cpu)
      .map(([k, v]) => `${k} ${fmt(v, 2)}`)
      .join(', ');
    const each = px.runs.map((k) => `${k.connections} conns ${fmt(k.rps)}`).join(', ');
    add(
      'proxy ceiling (Traefik)',
      `${fmt(px.rps)} req/s`,
      `best of ${each}; one event per request to a backend that does nothing (${fmt(px.backendCpuUsPerRequest)} µs CPU/request), p99 ${fmt(px.latencyMs.p99)} ms; cores: ${cores}${host(px.host)}`,
    );
  }
  const a = r.amqp;
  if (a)
    add(
      'AMQP path',
      `${fmt(a.eps)} ev/s`,
      `${pct(a.eps)}${a.clients} clients, ${fmt(a.events)} events; ${cpu(a.cpu)}${host(a.host)}`,
    );
  const b = r.httpBatch;
  if (b)
    add(
      `HTTP batch (${b.eventsPerRequest}/req)`,
      `${fmt(b.eps)} ev/s`,
      `${pct(b.eps)}${fmt(b.accepted)} × 202, ${b.connections} conns; ${cpu(b.cpu)}${host(b.host)}`,
    );
  const ofProxy = (rps: number) =>
    r.proxy?.rps ? `${fmt((rps / r.proxy.rps) * 100)}% of the proxy ceiling; ` : '';
  for (const [name, s] of [
    ['HTTP single /events', r.httpSingle],
    ['HTTP single /send', r.httpSend],
  ] as const) {
    if (s)
      add(
        name,
        `${fmt(s.rps)} req/s`,
        `${ofProxy(s.rps)}${fmt(s.eps)} ev/s committed, all ${fmt(s.accepted)} counted, p99 ${fmt(s.latencyMs.p99)} ms, ${s.connections} conns; ingest ${fmt(s.ingestCpuUsPerRequest)} µs CPU/request; ${cpu(s.cpu)}${host(s.host)}`,
      );
  }
  const l = r.latency;
  if (l)
    add(
      'latency publish → visible',
      `p50 ${fmt(l.p50, 1)} ms`,
      `p95 ${fmt(l.p95, 1)}, p99 ${fmt(l.p99, 1)}, p99.9 ${fmt(l.p999, 1)}, max ${fmt(l.max, 1)} ms at ${fmt(l.rateEps)} ev/s (SSE); ` +
        `confirmed p99 ${fmt(l.confirm.p99, 1)}, max ${fmt(l.confirm.max, 1)} ms` +
        (l.stalls.length ? `; ${stallText(l)}` : '') +
        (l.walRollovers ? `; the broker's quorum WAL rolled over ${l.walRollovers} time(s) meanwhile` : ''),
    );
  return rows;
}

/** The three queries over the big store, by their p95. */
function queryRows(q: QueriesResult | undefined): Row[] {
  if (!q) return [];
  const rows: Row[] = [];
  const add = (what: string, figure: string, detail: string) => rows.push([what, figure, detail]);
  const store = `${fmt(q.events)} events, ${fmt(q.clients)} clients, ${q.types} types`;
  const cold = (f: QueryFigures) =>
    `after its own commit p50 ${fmt(f.live.p50, 1)}, p95 ${fmt(f.live.p95, 1)}; ` +
    `after another's p50 ${fmt(f.cold.p50, 1)}, p95 ${fmt(f.cold.p95, 1)} ms`;
  add(
    'query /reporte',
    `p95 ${fmt(q.reporte.p95, 1)} ms`,
    `p50 ${fmt(q.reporte.p50, 1)} ms; ${cold(q.reporte)}; ${store}`,
  );
  add(
    'query /api/v1/report 24 h',
    `p95 ${fmt(q.report.p95, 1)} ms`,
    `p50 ${fmt(q.report.p50, 1)} ms; ${cold(q.report)}`,
  );
  add(
    'query /api/v1/timeseries 24 h',
    `p95 ${fmt(q.timeseries.p95, 1)} ms`,
    `p50 ${fmt(q.timeseries.p50, 1)} ms; ${cold(q.timeseries)}; minute buckets`,
  );
  return rows;
}

/** Analytics' memory under a backlog, and counting while reports are read. */
function loadRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (what: string, figure: string, detail: string) => rows.push([what, figure, detail]);
  const m = r.memory;
  if (m)
    add(
      'analytics peak RSS',
      `${fmt(m.peakRssMb)} MB`,
      `draining ${fmt(m.backlog)} backlog at ${fmt(m.drainEps)} ev/s (idle ${fmt(m.idleRssMb)} MB)`,
    );
  const rd = r.reads;
  if (rd)
    add(
      `AMQP path, ${rd.connections} report readers`,
      `${fmt(rd.loaded.amqpEps)} ev/s`,
      `${fmt(rd.ratio * 100)}% of ${fmt(rd.alone.amqpEps)} ev/s alone; latency p99 ${fmt(rd.loaded.latencyP99, 1)} ms ` +
        `(alone ${fmt(rd.alone.latencyP99, 1)}); ${fmt(rd.reports.ok)} uncached 24 h reports, ` +
        `${fmt(rd.reports.perSecond, 1)}/s, p50 ${fmt(rd.reports.p50)} ms, p95 ${fmt(rd.reports.p95)} ms, ` +
        `${fmt(rd.reports.refused)} × 503; ${fmt(rd.events)} events, ${fmt(rd.clients)} clients; ${cpu(rd.loaded.cpu)}`,
    );
  return rows;
}

export function table(r: Results): string {
  const rows = [...throughputRows(r), ...queryRows(r.queries), ...loadRows(r), ...uniquesRows(r.uniques)];
  const w0 = Math.max(...rows.map((row) => row[0].length), 5);
  const w1 = Math.max(...rows.map((row) => row[1].length), 6);
  const mc = r.machine;
  const head = mc
    ? `warren bench${r.quick ? ' --quick' : ''}${r.repeat > 1 ? ` --repeat ${r.repeat} (medians)` : ''}, ${r.store}: ${mc.cores} cores, ${fmt(mc.memory_mb / 1024, 1)} GiB, Node ${mc.node}, RabbitMQ ${mc.rabbitmq}, ${fmt(r.seconds)} s`
    : 'warren bench';
  const lines = [head, '', `${'stage'.padEnd(w0)}  ${'figure'.padStart(w1)}  detail`];
  for (const [w, f, d] of rows) lines.push(`${w.padEnd(w0)}  ${f.padStart(w1)}  ${d}`);
  for (const e of r.errors) lines.push(`FAILED ${e.stage}: ${e.message}`);
  return `${lines.join('\n')}\n`;
}
