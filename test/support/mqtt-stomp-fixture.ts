// Shared by test/mqtt.test.ts and test/stomp.test.ts: the broker's MQTT/STOMP plugins enabled by
// the project's own script (so a fresh machine passes), `warren analytics` as a child, and what it
// counted. Publishing goes through the real plugins on MQTT_PORT/STOMP_PORT of the local broker.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { Report, Status } from '../../src/analytics/index.js';
import { loadConfig } from '../../src/config.js';
import { reason } from '../../src/event.js';
import { parseDelivery, topicPrefix } from '../../src/topic.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  ROOT,
  startWarren,
  type TestEnv,
  type WarrenProcess,
  waitFor,
} from './helpers.js';

export const TS = '2025-04-13T12:00:00Z';
export const { mqttPort: MQTT_PORT, stompPort: STOMP_PORT } = loadConfig();

let enabled: Promise<void> | undefined;
/** Runs scripts/broker-plugins.mjs once per test process; fails with its message if it cannot. */
export function ensurePlugins(): Promise<void> {
  enabled ??= promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'broker-plugins.mjs')], {
    cwd: ROOT,
    timeout: 120_000,
  }).then(
    () => undefined,
    (err: { stderr?: string; message: string }) => {
      throw new Error(`scripts/broker-plugins.mjs failed: ${err.stderr?.trim() || err.message}`);
    },
  );
  return enabled;
}

export interface Analytics {
  proc: WarrenProcess;
  base: string;
}

/** `warren analytics` on the test's own exchange/queue; ready means amq.topic is bound to it. */
export async function startAnalytics(env: TestEnv): Promise<Analytics> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = await startWarren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) }, base, {
    timeoutMs: 60_000,
  });
  return { proc, base };
}

/** Waits until analytics has settled `n` deliveries (counted, known or dead-lettered), then reports. */
export async function settled(a: Analytics, n: number): Promise<{ status: Status; report: Report }> {
  const status = await waitFor(`${n} deliveries settled`, async () => {
    const s = (await getJson<Status>(`${a.base}/api/v1/status`)).body;
    return s.processed + s.duplicates + s.invalid >= n ? s : undefined;
  });
  const report = (await getJson<Report>(`${a.base}/api/v1/report`)).body;
  return { status, report };
}

/** Per client, per event type, as a plain object (order-free comparison). */
export function byClient(report: Report): Record<string, Record<string, number>> {
  return Object.fromEntries(report.clientes.map((c) => [c.cliente, c.eventos]));
}

export interface DeadLetter {
  body: string;
  routingKey: string;
  death: unknown;
  /** The consumer's verdict: it is deterministic, so recomputing it gives what the consumer saw. */
  reason: string;
}

/** Takes every message off the test's DLQ (the queue is the test's own and is deleted after). */
export async function drainDlq(env: TestEnv): Promise<DeadLetter[]> {
  const prefix = topicPrefix(env.env.TOPIC_PATTERN!);
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const out: DeadLetter[] = [];
    for (;;) {
      const m = await ch.get(env.dlq, { noAck: true });
      if (!m) return out;
      const r = parseDelivery(m.content, m.fields.routingKey, prefix);
      const deaths = m.properties.headers?.['x-death'] as { reason?: unknown }[] | undefined;
      out.push({
        body: m.content.toString(),
        routingKey: m.fields.routingKey,
        death: deaths?.[0]?.reason,
        reason: r.ok ? '(valid)' : reason(r.problems),
      });
    }
  } finally {
    await conn.close();
  }
}
