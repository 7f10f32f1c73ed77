// Prometheus metrics of one analytics process (prom-client), on a registry of its own.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'warren_analytics_' });
  const registers = [registry];
  return {
    registry,
    processed: new Counter({
      name: 'warren_events_processed_total',
      help: 'Events counted (new ids).',
      registers,
    }),
    duplicates: new Counter({
      name: 'warren_events_duplicate_total',
      help: 'Deliveries whose id was already counted (changed nothing).',
      registers,
    }),
    invalid: new Counter({
      name: 'warren_events_invalid_total',
      help: 'Messages dead-lettered because they are not a valid event.',
      registers,
    }),
    withoutId: new Counter({
      name: 'warren_events_without_id_total',
      help: 'Events counted without deduplication (no id and no AMQP message_id).',
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'warren_batch_commit_seconds',
      help: 'Time to commit one batch to the store.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    queueMessages: new Gauge({
      name: 'warren_queue_messages',
      help: 'Messages waiting in the analytics queue (lag), at the last status check.',
      registers,
    }),
    deadLetters: new Gauge({
      name: 'warren_dead_letters',
      help: 'Messages in the dead-letter queue.',
      registers,
    }),
    reportCache: new Counter({
      name: 'warren_report_cache_total',
      help: "Report answers (/reporte, report, timeseries): served as kept (hit), kept and brought up to date with this process's commits (update), or computed from the store (miss).",
      labelNames: ['result'] as const,
      registers,
    }),
    alertEvaluations: new Counter({
      name: 'warren_alert_evaluations_total',
      help: 'Passes of the alert evaluator over every rule (README "Alerts").',
      registers,
    }),
    alertsRecorded: new Counter({
      name: 'warren_alerts_recorded_total',
      help: 'Firings and resolutions this process recorded (each episode once across processes).',
      labelNames: ['state'],
      registers,
    }),
    brokerUp: new Gauge({ name: 'warren_broker_up', help: '1 while connected to RabbitMQ.', registers }),
    storeUp: new Gauge({ name: 'warren_store_up', help: '1 while the store answers.', registers }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
