// Fixtures of the alert deliverer's tests: a private alert exchange and queue per test, a local
// webhook receiver whose answers a test decides (and can close or hold), confirmed publishing of
// alert messages, and reading the alert dead-letter queue.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import { type Alert, type AlertMessage, buildMessage, type WebhookFormat } from '../../src/alert.js';
import { loadConfig } from '../../src/config.js';
import { declareAlerts } from '../../src/topology.js';
import { AMQP_URL, deleteAlertTopology, freePort } from './helpers.js';

export interface AlertEnv {
  id: string;
  exchange: string;
  queue: string;
  dlq: string;
  url: string;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
}

/** Unique alert names, short retry windows (tests override any of env). */
export function alertEnv(prefix = 'al', url = AMQP_URL, extra: Record<string, string> = {}): AlertEnv {
  const id = `${prefix}_${randomBytes(4).toString('hex')}`;
  const exchange = `${id}.alertas`;
  const queue = `${id}.alertas.webhooks`;
  const env = {
    AMQP_URL: url,
    ALERT_EXCHANGE: exchange,
    ALERT_QUEUE: queue,
    ALERT_RETRY_BASE_MS: '20',
    ALERT_RETRY_MAX_MS: '200',
    ALERT_MAX_ATTEMPTS: '5',
    ALERT_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'info',
    ...extra,
  };
  return {
    id,
    exchange,
    queue,
    dlq: `${exchange}.dlq`,
    url,
    env,
    cleanup: () => deleteAlertTopology(url, exchange, queue).catch(() => undefined),
  };
}

export function testConfig(a: Pick<AlertEnv, 'env'>) {
  return loadConfig({ ...a.env });
}

export function makeAlert(n: number | string, state: 'fired' | 'resolved' = 'fired'): Alert {
  return {
    id: `rule-${n}:2026-12-01T10:00:00.000Z:${state}`,
    state,
    rule: { id: `rule-${n}`, kind: 'silence', cliente: 'cliente_uno' },
    episode_start: '2026-12-01T10:00:00.000Z',
    at: '2026-12-01T10:05:00.000Z',
    summary: `cliente_uno sent nothing for 5 minutes (rule ${n})`,
    detail: { minutes: 5, n },
  };
}

export function message(n: number | string, url: string, secret = 's3cret', format: WebhookFormat = 'json') {
  return buildMessage(makeAlert(n), url, format, secret);
}

/** Declares the alert topology and publishes each body, persistent and confirmed. */
export async function publishAlerts(
  a: Pick<AlertEnv, 'url' | 'exchange' | 'env'>,
  items: (AlertMessage | string | Buffer)[],
): Promise<void> {
  const conn = await amqp.connect(a.url);
  try {
    const setup = await conn.createChannel();
    await declareAlerts(setup, testConfig(a));
    await setup.close();
    const ch = await conn.createConfirmChannel();
    for (const item of items) {
      const body =
        typeof item === 'string'
          ? Buffer.from(item)
          : Buffer.isBuffer(item)
            ? item
            : Buffer.from(JSON.stringify(item));
      ch.publish(a.exchange, '', body, { persistent: true, contentType: 'application/json' });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

export interface QueueState {
  messages: number;
  consumers: number;
}

export async function queueState(url: string, queue: string): Promise<QueueState> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(queue);
    return { messages: q.messageCount, consumers: q.consumerCount };
  } finally {
    await conn.close();
  }
}

export interface DeadLetterSeen {
  body: string;
  headers: Record<string, unknown>;
}

/** Takes every message off the alert DLQ (acked: the test owns it). */
export async function drainDlq(a: AlertEnv): Promise<DeadLetterSeen[]> {
  const conn = await amqp.connect(a.url);
  const out: DeadLetterSeen[] = [];
  try {
    const ch = await conn.createChannel();
    for (;;) {
      const m = await ch.get(a.dlq, { noAck: true });
      if (!m) break;
      out.push({ body: m.content.toString('utf8'), headers: m.properties.headers ?? {} });
    }
  } finally {
    await conn.close();
  }
  return out;
}

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** What the receiver answered. */
  answered?: Answer;
}

/** What the receiver does with a request: answer with a status, or hold it open. */
export type Answer = number | 'hold';

/** A local webhook receiver on a fixed port; `answer` decides per request (default 200). */
export class Receiver {
  readonly received: Received[] = [];
  answer: (r: Received) => Answer = () => 200;
  private server: Server | undefined;
  private readonly held: ServerResponse[] = [];

  private constructor(readonly port: number) {}

  static async create(): Promise<Receiver> {
    return new Receiver(await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get holding(): number {
    return this.held.length;
  }

  /** Starts listening (again) on the same port. */
  async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    if ((server.address() as AddressInfo).port !== this.port) throw new Error('receiver port moved');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      this.received.push(r);
      const a = this.answer(r);
      r.answered = a;
      if (a === 'hold') this.held.push(res);
      // A redirect points at /ok, to show it is not followed.
      else if (a >= 300 && a < 400) res.writeHead(a, { location: '/ok' }).end();
      else res.writeHead(a, { 'content-type': 'text/plain' }).end('ok');
    });
  }

  /** Requests that carried this alert id. */
  byId(id: string): Received[] {
    return this.received.filter((r) => r.headers['x-warren-alert-id'] === id);
  }

  /** Stops listening and drops every connection (held requests included): the port is closed. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const res of this.held.splice(0)) res.socket?.destroy();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
