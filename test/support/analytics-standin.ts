// A small HTTP server standing in for analytics, for the panel's browser tests of views whose
// analytics side is built elsewhere (alerts): it answers the documented shapes (CONTRACT.md;
// src/analytics/shapes.ts for report, timeseries, uniques, status and the stream) with fixed
// figures, and GET /api/v1/alerts with whatever the test sets. It is not analytics: the real
// end-to-end test runs `warren analytics`.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandIn {
  url: string;
  /** What GET /api/v1/alerts answers: a body (200), or a status with analytics' error body. */
  alerts: { status: number; body: unknown };
  /** Requests seen, by path (without the query). */
  hits: Map<string, number>;
  /** Sends a `batch` event on every open stream (what analytics does on each committed batch). */
  batch(): void;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
};

const notFound = (what: string) => ({
  error: 'not_found',
  message: `Route GET:${what} not found`,
});

/** The figures: cliente_uno's 3 clicks, now; the queue drained by one consumer. */
function answers(path: string, query: URLSearchParams): unknown {
  const from = query.get('from');
  const minute = `${new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().slice(0, 19)}Z`;
  switch (path) {
    case '/api/v1/report':
      return {
        from,
        to: null,
        total: 3,
        clientes: [{ cliente: 'cliente_uno', total: 3, eventos: { click: 3 } }],
      };
    case '/api/v1/timeseries':
      return { bucket: query.get('bucket') ?? 'minute', from, to: null, points: [{ t: minute, count: 3 }] };
    case '/api/v1/uniques':
      return { from, to: null, bucket: query.get('bucket') ?? 'minute', usuarios: 0, points: [] };
    case '/api/v1/status':
      return {
        queue: { name: 'cola_analiticas', messages: 0, consumers: 1 },
        deadLetters: 0,
        deadLettersDetail: { valid: 0, invalid: 0, unscanned: 0 },
        processed: 3,
        duplicates: 0,
        invalid: 0,
        withoutId: 0,
        refusedByStore: 0,
        eventsPerSecond: 0,
        lastBatchAt: minute,
        ready: { broker: true, store: true },
      };
    case '/healthz':
      return { status: 'ok' };
    default:
      return undefined;
  }
}

export async function startStandIn(): Promise<StandIn> {
  const streams = new Set<ServerResponse>();
  const hits = new Map<string, number>();
  const state: Pick<StandIn, 'alerts'> = { alerts: { status: 200, body: { rules: [], firings: [] } } };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    if (req.method !== 'GET') return json(res, 404, notFound(url.pathname));
    if (url.pathname === '/api/v1/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write('retry: 1000\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (url.pathname === '/api/v1/alerts') {
      const a = state.alerts;
      return json(res, a.status, a.status === 404 ? notFound(url.pathname) : a.body);
    }
    const body = answers(url.pathname, url.searchParams);
    json(res, body === undefined ? 404 : 200, body ?? notFound(url.pathname));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get alerts() {
      return state.alerts;
    },
    set alerts(a) {
      state.alerts = a;
    },
    hits,
    batch() {
      const b = { counted: 1, duplicates: 0, invalid: 0, at: new Date().toISOString() };
      for (const s of streams) s.write(`event: batch\ndata: ${JSON.stringify(b)}\n\n`);
    },
    async close() {
      for (const s of streams) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
