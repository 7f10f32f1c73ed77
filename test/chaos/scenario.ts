// One fault scenario's world: a PRIVATE RabbitMQ node (test/support/broker-node.ts), uniquely named
// exchange and queues, a store of its own (a SQLite file in a temp dir, or a fresh PostgreSQL
// database), and every `warren` child it starts. close() tears all of it down, also on failure.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { type BrokerNode, createBrokerNode } from '../support/broker-node.js';
import {
  freePort,
  pgDatabase,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  warren,
  within,
} from '../support/helpers.js';
import { readIds } from '../support/ids.js';
import { USERS } from './knobs.js';

/** How long a `--count` client may run past its planned duration before the scenario fails. */
const CLIENT_GRACE_MS = 10 * 60_000;

export type StoreKind = 'sqlite' | 'postgres';

// Children of every scenario in this process, so even an unexpected exit of the test kills them.
const children = new Set<WarrenProcess>();
process.once('exit', () => {
  for (const p of children)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

/** The last lines a child printed, for failure messages. */
export function tail(p: WarrenProcess | undefined, chars = 3000): string {
  return p ? p.output().slice(-chars) : '(not started)';
}

export class Scenario {
  readonly procs: WarrenProcess[] = [];
  readonly env: Record<string, string>;
  /** Set by close(): exits from then on are the teardown's. */
  closing = false;

  private constructor(
    readonly key: string,
    readonly node: BrokerNode,
    readonly te: TestEnv,
    readonly store: StoreKind,
    readonly databaseUrl: string,
    private readonly dropDb: (() => Promise<void>) | undefined,
    extra: Record<string, string>,
  ) {
    this.env = {
      ...te.env,
      AMQP_URL: node.url,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  /** Starts a private broker node and makes a store; everything named after `key`. */
  static async open(key: string, store: StoreKind, extra: Record<string, string> = {}): Promise<Scenario> {
    const te = testEnv(`chaos_${key}`);
    const node = await createBrokerNode(`warren_chaos_${key}`);
    let db: Awaited<ReturnType<typeof pgDatabase>> | undefined;
    try {
      await node.start();
      if (store === 'postgres') db = await pgDatabase(te.id);
    } catch (err) {
      await node.destroy().catch(() => undefined);
      await db?.drop().catch(() => undefined);
      rmSync(te.dir, { recursive: true, force: true });
      throw err;
    }
    const url = db ? db.url : `sqlite:${te.dbPath}`;
    return new Scenario(key, node, te, store, url, db?.drop, extra);
  }

  get queue(): string {
    return this.te.queue;
  }

  get dbPath(): string {
    return this.te.dbPath;
  }

  spawn(args: string[], extra: Record<string, string> = {}): WarrenProcess {
    const p = warren(args, { ...this.env, ...extra });
    this.procs.push(p);
    children.add(p);
    void p.exited.then(() => children.delete(p));
    return p;
  }

  async analytics(extra: Record<string, string> = {}): Promise<Service> {
    return new Service(this, 'analytics', await freePort(), extra);
  }

  async ingest(extra: Record<string, string> = {}): Promise<Service> {
    return new Service(this, 'ingest', await freePort(), extra);
  }

  /**
   * `warren client --name NAME --rate RATE --count COUNT --ids-out FILE`; done resolves with its
   * "N confirmed", ids() reads the ids it got confirmed.
   */
  client(name: string, count: number, rate = 0): SimClient {
    const idsFile = join(this.te.dir, `${name}.ids`);
    const proc = this.spawn([
      'client',
      '--name',
      name,
      '--rate',
      String(rate),
      '--count',
      String(count),
      '--ids-out',
      idsFile,
      '--users',
      String(USERS),
    ]);
    // Its planned duration (count / rate) and ten minutes more: a client that cannot get its
    // events confirmed fails the scenario naming itself, not the runner's timeout later.
    const deadlineMs = (rate > 0 ? (count / rate) * 1000 : 0) + CLIENT_GRACE_MS;
    const done = within(`client ${name} to get ${count} events confirmed and exit`, deadlineMs, proc.exited)
      .catch((err: Error) => {
        throw new Error(`${err.message}; its last output:\n${tail(proc)}`);
      })
      .then((code) => {
        const m = /(\d+) confirmed\n$/.exec(proc.stdout());
        if (code !== 0 || !m) {
          throw new Error(`client ${name} exited with ${code} and no "N confirmed" line:\n${tail(proc)}`);
        }
        return Number(m[1]);
      });
    done.catch(() => undefined); // awaited by the scenario; no unhandled rejection meanwhile
    return { name, count, proc, done, ids: () => readIds(idsFile) };
  }

  /** Ready messages and consumers of a queue on this scenario's node (a short connection per call). */
  queueState(queue = this.queue): Promise<{ messages: number; consumers: number }> {
    return within(`the state of queue ${queue} on ${this.node.url}`, 30_000, this.checkQueue(queue));
  }

  private async checkQueue(queue: string): Promise<{ messages: number; consumers: number }> {
    const conn = await amqp.connect(this.node.url);
    conn.on('error', () => undefined);
    try {
      const ch = await conn.createChannel();
      const q = await ch.checkQueue(queue);
      return { messages: q.messageCount, consumers: q.consumerCount };
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  /** Publishes raw bodies with confirms on one connection (a client outside Warren). */
  publishRaw(messages: { body: Buffer; messageId?: string }[]): Promise<void> {
    return within(`confirms of ${messages.length} raw publishes`, 60_000, this.publishConfirmed(messages));
  }

  private async publishConfirmed(messages: { body: Buffer; messageId?: string }[]): Promise<void> {
    const conn = await amqp.connect(this.node.url);
    conn.on('error', () => undefined);
    try {
      const ch = await conn.createConfirmChannel();
      for (const m of messages) {
        ch.publish(this.te.exchange, '', m.body, {
          persistent: true,
          ...(m.messageId ? { messageId: m.messageId } : {}),
        });
      }
      await ch.waitForConfirms();
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
    await this.node.destroy().catch(() => undefined);
    await this.dropDb?.().catch(() => undefined);
    // The topology lived on the private node, gone with it; only the temp dir is left.
    rmSync(this.te.dir, { recursive: true, force: true });
  }
}

export interface Crash {
  kind: string;
  port: number;
  code: number | null;
  signal: string | null;
  output: string;
}

export interface SimClient {
  name: string;
  count: number;
  proc: WarrenProcess;
  done: Promise<number>;
  /** The ids it got confirmed (its --ids-out file), once done. */
  ids: () => string[];
}

/** A `warren analytics` or `warren ingest` child on a port of its own, started again at will. */
export class Service {
  proc: WarrenProcess | undefined;
  /** Every process this service ran (the killed ones too), for failure messages. */
  readonly runs: WarrenProcess[] = [];
  /** Exits the test did not cause. */
  readonly crashes: Crash[] = [];
  private expectExit = false;
  private restarting: Promise<void> = Promise.resolve();

  constructor(
    private readonly s: Scenario,
    readonly kind: 'analytics' | 'ingest',
    readonly port: number,
    private readonly extra: Record<string, string>,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  get alive(): boolean {
    const c = this.proc?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Starts the process; with `ready` it waits for /readyz 200 (else only for it to listen). */
  async start(ready = true): Promise<void> {
    await this.restarting;
    this.expectExit = false;
    const portVar = this.kind === 'analytics' ? 'ANALYTICS_PORT' : 'INGEST_PORT';
    // info: a few lines per process, among them why it stopped ("stopping ingest", signal).
    const p = this.s.spawn([this.kind], { LOG_LEVEL: 'info', ...this.extra, [portVar]: String(this.port) });
    this.proc = p;
    this.runs.push(p);
    void p.exited.then((code) => this.exitedOnItsOwn(p, code));
    // A crash while starting is recorded and restarted on the same port (exitedOnItsOwn): the
    // start then waits for the replacement.
    await untilReady(p, this.base, { listening: !ready, timeoutMs: 90_000, failOnExit: false });
  }

  /**
   * A process that exits when the test did not stop it has crashed: that is recorded (the row's
   * "manual restarts", which must be 0) and it is started again, as an operator would, so the
   * scenario still measures what was lost or counted twice.
   */
  private exitedOnItsOwn(p: WarrenProcess, code: number | null): void {
    if (this.expectExit || this.proc !== p || this.s.closing) return;
    this.crashes.push({
      kind: this.kind,
      port: this.port,
      code,
      signal: p.child.signalCode,
      output: tail(p, 2500),
    });
    process.stderr.write(
      `chaos: ${this.kind} on ${this.port} exited by itself (${code}):\n${tail(p, 2500)}\n`,
    );
    this.restarting = this.start().catch((err: Error) => {
      this.crashes.push({ kind: this.kind, port: this.port, code: null, signal: null, output: err.message });
    });
  }

  async kill9(): Promise<void> {
    await this.restarting;
    const p = this.proc;
    if (!p) return;
    this.expectExit = true;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** SIGTERM and the exit code (SIGKILL after 60 s: a stop that hangs is a failure, returned as null). */
  async stop(): Promise<number | null> {
    await this.restarting;
    const p = this.proc;
    if (!p || !this.alive) return p?.child.exitCode ?? null;
    this.expectExit = true;
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
    const code = await p.exited;
    clearTimeout(timer);
    return code;
  }

  /** The kernel's peak resident set size of the running process (VmHWM), in MB. */
  peakRssMb(): number | undefined {
    if (!this.pid || !this.alive) return undefined;
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  }
}
