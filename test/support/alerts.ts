// What the alert tests share: a private alert exchange and queue per test (ALERT_EXCHANGE,
// ALERT_QUEUE), a reader of what reaches that queue (the deliverer's side, checked here by
// message), `warren alerts add` run as a user runs it, and a figure of /metrics.
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { type AlertMessage, alertMessageSchema, verify } from '../../src/alert.js';
import { AMQP_URL, deleteAlertTopology as deleteAlertQueues, getJson, warren } from './helpers.js';

/** The names testEnv() gives a test (helpers.ts), spelled out for the alert tests. */
export function alertNames(id: string): Record<string, string> {
  return { ALERT_EXCHANGE: `${id}.alertas`, ALERT_QUEUE: `${id}.alertas.webhooks` };
}

export async function deleteAlertTopology(id: string): Promise<void> {
  const n = alertNames(id);
  await deleteAlertQueues(AMQP_URL, n.ALERT_EXCHANGE!, n.ALERT_QUEUE!);
}

export interface Received {
  message: AlertMessage;
  messageId: string | undefined;
  persistent: boolean;
  at: number;
}

/**
 * Reads every message of the test's alert queue as it arrives (acked: the test is the only
 * consumer). The queue is declared by analytics; reading starts once it exists.
 */
export class AlertReader {
  readonly got: Received[] = [];
  private conn: amqp.ChannelModel | undefined;

  constructor(private readonly queue: string) {}

  async start(): Promise<void> {
    this.conn = await amqp.connect(AMQP_URL);
    const ch = await this.conn.createChannel();
    await ch.consume(this.queue, (m) => {
      if (!m) return;
      const message = alertMessageSchema.parse(JSON.parse(m.content.toString()));
      this.got.push({
        message,
        messageId: m.properties.messageId,
        persistent: m.properties.deliveryMode === 2,
        at: Date.now(),
      });
      ch.ack(m);
    });
  }

  ids(): string[] {
    return this.got.map((g) => g.message.alert.id);
  }

  of(state: 'fired' | 'resolved'): Received[] {
    return this.got.filter((g) => g.message.alert.state === state);
  }

  async close(): Promise<void> {
    await this.conn?.close().catch(() => undefined);
  }
}

/** `warren alerts add ...` as a user runs it: the rule's id (stdout) and its secret (stderr). */
export async function addRule(
  args: string[],
  env: Record<string, string>,
): Promise<{ id: string; secret: string }> {
  const p = warren(['alerts', 'add', ...args], env);
  const code = await p.exited;
  assert.equal(code, 0, `warren alerts add ${args.join(' ')} exited ${code}: ${p.output()}`);
  const id = p.stdout().trim();
  const secret = /signing secret \(shown only now\): (\S+)/.exec(p.output())?.[1];
  assert.ok(id && secret, `an id and a secret: ${p.output()}`);
  return { id, secret };
}

/** Checks a received message: signed with the secret over its exact body, id as the message id. */
export function checkSigned(r: Received, secret: string): void {
  assert.ok(verify(r.message.body, r.message.signature, secret), 'the signature verifies with the secret');
  assert.equal(r.messageId, r.message.alert.id, 'AMQP message id = alert id');
  assert.ok(r.persistent, 'persistent');
  assert.deepEqual(JSON.parse(r.message.body).id, r.message.alert.id);
}

/** One figure of a process's /metrics (summed over labels); 0 when absent. */
export async function metric(base: string, name: string): Promise<number> {
  const { body } = await getJson<string>(`${base}/metrics`);
  let sum = 0;
  for (const line of String(body).split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  }
  return sum;
}
