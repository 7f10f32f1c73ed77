// One AMQP connection that keeps itself up: tries each configured node in turn, backs off,
// and runs every registered setup (topology, channels) again after each reconnect.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { ChannelModel as Connection } from 'amqplib';
import { describe, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import * as amqp from './amqp.js';

export type Setup = (conn: Connection) => Promise<void>;

export interface BrokerConnectionOptions {
  urls: string[];
  log: Logger;
  /** Shown in the broker's connection list. */
  name: string;
  heartbeatS?: number;
}

/** Hides the password of an AMQP URL for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * amqplib's muxer writes each frame run (one message: method, header and body) to the socket on
 * its own: one syscall and one TCP segment per message, which the broker then reads one by one.
 * A batch of publishes is muxed in one synchronous run, so corking the socket at its first write
 * and uncorking on the next tick sends the run as one writev. Back-pressure is unchanged: a
 * corked socket's write() still returns false past its high-water mark.
 */
export function coalesceWrites(conn: Connection): void {
  const socket = (conn as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  if (!socket || typeof socket.cork !== 'function') return;
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

export class BrokerConnection extends EventEmitter {
  private conn: Connection | undefined;
  private readonly setups: Setup[] = [];
  private closing = false;
  private attempt = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private downSince: number | undefined = Date.now();
  private warned = false;

  constructor(private readonly opts: BrokerConnectionOptions) {
    super();
  }

  get connected(): boolean {
    return this.conn !== undefined;
  }

  get connection(): Connection | undefined {
    return this.conn;
  }

  /** Registers a setup run on every (re)connect, in registration order. */
  onConnect(setup: Setup): void {
    this.setups.push(setup);
    if (this.conn) void this.runSetup(this.conn, setup);
  }

  start(): void {
    this.closing = false;
    void this.connect();
  }

  /** Resolves once connected and set up, or rejects after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.conn) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('connected', ok);
        const at = this.opts.urls.map(redact).join(', ');
        reject(
          new WarrenError(
            'broker_unavailable',
            `RabbitMQ not reachable at ${at}; start it (\`rabbitmq-server -detached\`) or set AMQP_URL`,
          ),
        );
      }, timeoutMs);
      const ok = () => {
        clearTimeout(t);
        resolve();
      };
      this.once('connected', ok);
    });
  }

  private async runSetup(conn: Connection, setup: Setup): Promise<void> {
    try {
      await setup(conn);
    } catch (err) {
      this.opts.log.error({ err: describe(err) }, 'broker setup failed; reconnecting');
      await conn.close().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    const url = this.opts.urls[this.attempt % this.opts.urls.length]!;
    this.attempt++;
    let conn: Connection;
    try {
      conn = await amqp.connect(url, {
        heartbeat: this.opts.heartbeatS ?? 10,
        clientProperties: { connection_name: this.opts.name },
        // Frames go out at once (amqplib leaves Nagle on); coalesceWrites batches them instead.
        noDelay: true,
      });
    } catch (err) {
      this.onFailure(url, err);
      return;
    }
    if (this.closing) {
      await conn.close().catch(() => undefined);
      return;
    }
    coalesceWrites(conn);
    conn.on('error', (err) => this.opts.log.warn({ err: describe(err) }, 'broker connection error'));
    conn.on('close', () => this.onClose(conn));
    conn.on('blocked', (reason) =>
      this.opts.log.warn({ reason }, 'broker blocked publishing (resource alarm)'),
    );
    conn.on('unblocked', () => this.opts.log.info('broker unblocked publishing'));
    try {
      for (const setup of this.setups) await setup(conn);
    } catch (err) {
      // A failed setup (declare mismatch, connection cut mid-setup) is one more failed attempt:
      // close this connection and try again after the backoff, never give up.
      this.opts.log.error({ err: describe(err) }, 'broker setup failed; retrying');
      await conn.close().catch(() => undefined);
      this.onFailure(url, err);
      return;
    }
    // close() came while the setups ran: it saw no connection to close, so this one is closed
    // here (kept, it held the process open with its heartbeat).
    if (this.closing) {
      await conn.close().catch(() => undefined);
      return;
    }
    this.conn = conn;
    const downMs = this.downSince === undefined ? 0 : Date.now() - this.downSince;
    this.downSince = undefined;
    this.warned = false;
    this.failures = 0;
    this.opts.log.info({ url: redact(url), downMs }, 'connected to RabbitMQ');
    this.emit('connected', conn);
  }

  private onFailure(url: string, err: unknown): void {
    this.failures++;
    const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures, 6)) * (0.8 + Math.random() * 0.4);
    if (!this.warned) {
      this.warned = true;
      this.opts.log.warn(
        { url: redact(url), err: describe(err) },
        'RabbitMQ is not reachable; retrying in the background (start it with `rabbitmq-server -detached` or set AMQP_URL)',
      );
    } else {
      this.opts.log.debug({ url: redact(url), err: describe(err), delay }, 'still waiting for RabbitMQ');
    }
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private onClose(conn: Connection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.downSince = Date.now();
    this.emit('disconnected');
    if (this.closing) return;
    this.opts.log.warn('lost the RabbitMQ connection; reconnecting');
    // The next attempt goes to the next node, so a cluster fails over at once.
    this.timer = setTimeout(() => void this.connect(), 100);
  }

  /**
   * Starts over on a new connection (topology declared again, every channel reopened). Used when a
   * channel closed while its connection stayed up: a channel error (e.g. an exchange or queue was
   * deleted) or a consumer cancelled by the broker. Only the connection `conn` is reset, once.
   */
  reset(conn: Connection, reason: string): void {
    if (this.closing || this.conn !== conn) return;
    this.opts.log.warn({ reason }, 'reconnecting to RabbitMQ to recover a closed channel');
    conn.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await conn.close().catch(() => undefined);
  }
}
