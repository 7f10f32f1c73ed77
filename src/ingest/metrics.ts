// Prometheus metrics of one ingest process (prom-client), on a registry of its own.
// warren_ingest_instance_info tells instances apart, so a test (or a person) reading each
// instance's /metrics can see how Traefik spread the load.
import { hostname } from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** `pending` reports how many events wait for a broker confirm (read at scrape time). */
export function createMetrics(pending: () => number = () => 0) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'warren_ingest_' });
  const registers = [registry];
  return {
    registry,
    instance: new Gauge({
      name: 'warren_ingest_instance_info',
      help: 'Always 1; its labels name this ingest instance (host, port, pid).',
      labelNames: ['instance', 'host', 'port', 'pid'] as const,
      registers,
    }),
    requests: new Counter({
      name: 'warren_ingest_http_requests_total',
      help: 'HTTP requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    }),
    accepted: new Counter({
      name: 'warren_ingest_events_accepted_total',
      help: 'Events confirmed by the broker and answered with 202.',
      registers,
    }),
    rejections: new Counter({
      name: 'warren_ingest_rejections_total',
      help: 'Requests answered with an error, by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    confirmSeconds: new Histogram({
      name: 'warren_ingest_publish_confirm_seconds',
      help: 'Time from publishing a request’s events to the broker confirming all of them.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    brokerUp: new Gauge({
      name: 'warren_ingest_broker_up',
      help: '1 while connected to RabbitMQ.',
      registers,
    }),
    pending: new Gauge({
      name: 'warren_ingest_pending_events',
      help: 'Events waiting for a broker confirm.',
      registers,
      collect() {
        this.set(pending());
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Labels this process's metrics with where it listens. */
export function markInstance(metrics: Metrics, port: number): void {
  const host = hostname();
  metrics.instance.set(
    { instance: `${host}:${port}`, host, port: String(port), pid: String(process.pid) },
    1,
  );
}
