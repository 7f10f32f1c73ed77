// The benchmark's own world: a temp directory, exchange/queue names no one else uses, stores of
// its own (SQLite files in the directory, or PostgreSQL databases created on a server and dropped
// after), the settings its children get, and the clean-up that removes all of it (queues,
// exchanges, files, databases) even when a stage fails. It never touches the configured
// EXCHANGE/QUEUE or DATABASE_URL's database.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, deadLetterNames } from '../config.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { controlQueueName, declare } from '../topology.js';
import { connectBroker } from './util.js';

export interface Names {
  exchange: string;
  queue: string;
  auditQueue: string;
  topicPattern: string;
}

/** Where the run's stores live: SQLite files, or databases on this PostgreSQL server (its URL). */
export type StoreKind = { kind: 'sqlite' } | { kind: 'postgres'; serverUrl: string };

export class BenchEnv {
  readonly id = `warren_bench_${randomBytes(4).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), `${this.id}-`));
  /** Which repetition runs (--repeat): each gets stores of its own. */
  run = 1;
  private readonly declared: Names[] = [];
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly databases: string[] = [];

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly store: StoreKind = { kind: 'sqlite' },
  ) {}

  /**
   * A new, empty store for one part of this repetition, as a DATABASE_URL: a SQLite file in the
   * run's directory, or a database created on the PostgreSQL server (dropped at clean-up).
   */
  async storeUrl(part: string): Promise<string> {
    const name = `${part}-${this.run}`;
    if (this.store.kind === 'sqlite') return `sqlite:${join(this.dir, `${name}.db`)}`;
    const db = `${this.id}_${name}`.replace(/[^a-z0-9_]/g, '_');
    await this.admin(`CREATE DATABASE "${db}"`);
    this.databases.push(db);
    const url = new URL(this.store.serverUrl);
    url.pathname = `/${db}`;
    return url.toString();
  }

  /** Runs one statement on the PostgreSQL server's own database (create and drop databases). */
  private async admin(sql: string): Promise<void> {
    if (this.store.kind !== 'postgres') return;
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: this.store.serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  }

  /** Fresh names for one part of the run, e.g. names("ceiling"). */
  names(part: string): Names {
    const base = `${this.id}.${part}`;
    return {
      exchange: `${base}.eventos`,
      queue: `${base}.cola`,
      auditQueue: `${base}.auditoria`,
      // The broker's MQTT/STOMP traffic must never be routed into the benchmark's exchanges.
      topicPattern: `${base}.#`,
    };
  }

  /** The config an in-process part (publisher, client) uses for these names. */
  configFor(n: Names): Config {
    return { ...this.config, ...n, audit: false };
  }

  /** Declares the topology of these names (same arguments as the real one) and remembers it for clean-up. */
  async declare(n: Names): Promise<void> {
    this.track(n);
    const conn = await connectBroker(this.config.amqpUrls[0]!);
    try {
      const ch = await conn.createChannel();
      await declare(ch, this.configFor(n));
      await ch.close();
    } finally {
      await conn.close();
    }
  }

  /** Remembers names a child will declare, so clean-up deletes them. */
  track(n: Names): void {
    if (!this.declared.includes(n)) this.declared.push(n);
  }

  /** Environment of a warren child working on these names; extra gives its DATABASE_URL (storeUrl). */
  childEnv(n: Names, extra: Record<string, string> & { DATABASE_URL: string }): Record<string, string> {
    return {
      AMQP_URL: this.config.amqpUrls.join(','),
      EXCHANGE: n.exchange,
      QUEUE: n.queue,
      AUDIT_QUEUE: n.auditQueue,
      TOPIC_PATTERN: n.topicPattern,
      AUDIT: 'false',
      HOST: '127.0.0.1',
      API_KEYS_FILE: join(this.dir, 'keys.json'),
      AUDIT_DIR: join(this.dir, 'audit'),
      STACK_DIR: join(this.dir, 'stack'),
      RATE_LIMIT: '0',
      // A retention pass in the middle of a measurement would only add noise.
      RETENTION_INTERVAL_S: '0',
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  /** Registers something to close at the end (children, connections), closed in reverse order. */
  onCleanup(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  /** Stops what the run started and deletes its queues; keepFiles leaves the logs and stores on disk. */
  async cleanup(keepFiles = false): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) {
      await fn().catch((err) => this.log.warn({ err: describe(err) }, 'bench clean-up step failed'));
    }
    await this.deleteTopology().catch((err) =>
      this.log.warn(
        { err: describe(err) },
        `could not delete the benchmark's queues (${this.id}.*); delete them in the management UI`,
      ),
    );
    for (const db of this.databases.splice(0)) {
      // FORCE ends sessions a killed child may have left behind (PostgreSQL 13+).
      await this.admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch((err) =>
        this.log.warn(
          { err: describe(err) },
          `could not drop the benchmark's database ${db}; drop it by hand`,
        ),
      );
    }
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }

  private async deleteTopology(): Promise<void> {
    if (this.declared.length === 0) return;
    const conn = await connectBroker(this.config.amqpUrls[0]!);
    try {
      for (const n of this.declared) {
        const { dlx, dlq } = deadLetterNames(n);
        for (const q of [n.queue, dlq, controlQueueName(n), n.auditQueue]) {
          const ch = await conn.createChannel();
          await ch.deleteQueue(q).catch(() => undefined);
          await ch.close().catch(() => undefined);
        }
        for (const x of [n.exchange, dlx]) {
          const ch = await conn.createChannel();
          await ch.deleteExchange(x).catch(() => undefined);
          await ch.close().catch(() => undefined);
        }
      }
    } finally {
      await conn.close();
    }
  }
}
