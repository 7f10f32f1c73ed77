// The SDK's client: track() checks and stamps an event (id UUID v7, timestamp) and returns at
// once; events are cut into batches by size, bytes and time; a few batches are in flight at a
// time; flush() and close() settle only when every event is confirmed. The local buffer is
// bounded in events and bytes: when it is full track() throws BufferFullError (never a silent drop).
import { EventEmitter } from 'node:events';
import { parse, RULES, reason, USUARIO_RE } from '../event.js';
import { newId } from '../id.js';
import { BufferFullError, combineRejections, RejectedError, SdkError } from './errors.js';
import type { ClientOptions, ClientStats, TrackOptions } from './options.js';
import { Spool } from './spool.js';
import type { RetryInfo, SdkEvent, Transport } from './transport.js';

interface Batch {
  seq: number;
  events: SdkEvent[];
  bytes: number;
}

type ClientEvents = {
  /** A batch the server confirmed: its size and its events' ids. */
  confirmed: [{ events: number; ids: string[] }];
  retry: [RetryInfo];
  error: [SdkError];
};

export class WarrenClient extends EventEmitter<ClientEvents> {
  private buffer: SdkEvent[] = [];
  private bufferBytes = 0;
  private readonly queue: Batch[] = [];
  private inflight = 0;
  private held = { events: 0, bytes: 0 };
  private readonly max: { events: number; bytes: number };
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  /** Batches formed and not yet settled (queued or in flight), by sequence number. */
  private readonly unsettled = new Set<number>();
  private closed = false;
  private shut = false;
  private rejections: RejectedError[] = [];
  private waiters: (() => void)[] = [];
  private readonly abort = new AbortController();
  private readonly spool: Spool | undefined;
  private readonly counts = { tracked: 0, confirmed: 0, rejected: 0 };
  /** identify()'s actor, added to every event tracked while set. */
  private usuario: string | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly opts: ClientOptions & { batchSize: number },
  ) {
    super();
    this.max = { events: opts.maxBufferEvents ?? 10_000, bytes: opts.maxBufferBytes ?? 8 * 1024 * 1024 };
    if (opts.spoolFile) {
      this.spool = new Spool(opts.spoolFile);
      // What a previous run left unconfirmed goes first, with its ids; it counts as held.
      for (const b of this.spool.recover()) {
        const bytes = b.events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
        this.held.events += b.events.length;
        this.held.bytes += bytes;
        this.seq = b.seq;
        this.enqueue(b.seq, b.events, bytes);
      }
    }
  }

  get stats(): ClientStats {
    return { ...this.counts, pending: this.held.events };
  }

  /** Takes one event; returns its id. Throws SdkError (invalid_event, closed) or BufferFullError. */
  /**
   * The actor (user, device or session id: 1-128 printable characters) of the events tracked from
   * now on, for unique-user counts; undefined: none (events count as usual and add no user).
   * Throws SdkError invalid_event when it breaks the rule.
   */
  identify(usuario: string | undefined): void {
    if (usuario !== undefined && !USUARIO_RE.test(usuario)) {
      throw new SdkError('invalid_event', `identify(): usuario must be ${RULES.usuario}`);
    }
    this.usuario = usuario;
  }

  track(evento: string, props: TrackOptions = {}): string {
    if (this.closed) throw new SdkError('closed', 'track() after close(): create a new client');
    const cliente = props.cliente ?? this.opts.cliente;
    if (cliente === undefined && this.transport.kind === 'amqp') {
      throw new SdkError('invalid_event', 'cliente is required over AMQP: set it in createClient or track()');
    }
    const ts = props.timestamp ?? new Date();
    const usuario = props.usuario === null ? undefined : (props.usuario ?? this.usuario);
    const event: SdkEvent = {
      id: props.id ?? newId(),
      ...(cliente === undefined ? {} : { cliente }),
      evento,
      timestamp: typeof ts === 'string' ? ts : ts.toISOString(),
      ...(usuario === undefined ? {} : { usuario }),
    };
    // Checked here with the pipeline's own schema, so a bad name fails in the caller's hands.
    const r = parse({ cliente: 'unset', ...event });
    if (!r.ok) throw new SdkError('invalid_event', `the event was not tracked: ${reason(r.problems)}`);
    // UTF-8 bytes (a usuario may be in any script), +1 for the comma between events.
    const bytes = Buffer.byteLength(JSON.stringify(event)) + 1;
    if (this.held.events + 1 > this.max.events) throw new BufferFullError('events', this.held, this.max);
    if (this.held.bytes + bytes > this.max.bytes) throw new BufferFullError('bytes', this.held, this.max);
    this.held.events++;
    this.held.bytes += bytes;
    this.counts.tracked++;
    this.buffer.push(event);
    this.bufferBytes += bytes;
    if (this.buffer.length >= this.opts.batchSize || this.bufferBytes >= this.maxBatchBytes) this.cut();
    else this.timer ??= setTimeout(() => this.cut(), this.opts.flushIntervalMs ?? 1000);
    return event.id;
  }

  private get maxBatchBytes(): number {
    return this.opts.maxBatchBytes ?? 512 * 1024;
  }

  /** Resolves when track() would take `events` more (the buffer drained far enough). */
  async waitForSpace(events = 1): Promise<void> {
    const fits = () => this.held.events + events <= this.max.events && this.held.bytes < this.max.bytes;
    while (!fits()) {
      if (this.closed) throw new SdkError('closed', 'waitForSpace() after close()');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Forms a batch of what is buffered (spooled first when spooling), and sends what it can. */
  private cut(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const events = this.buffer;
    this.buffer = [];
    const bytes = this.bufferBytes;
    this.bufferBytes = 0;
    const seq = ++this.seq;
    this.spooling(() => this.spool?.add(seq, events));
    this.enqueue(seq, events, bytes);
  }

  private enqueue(seq: number, events: SdkEvent[], bytes: number): void {
    this.unsettled.add(seq);
    this.queue.push({ seq, events, bytes });
    this.pump();
  }

  private pump(): void {
    while (this.inflight < (this.opts.concurrency ?? 4) && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.inflight++;
      this.transport.send(batch.events, this.abort.signal).then(
        () => this.settled(batch),
        (err: unknown) => this.settled(batch, err),
      );
    }
  }

  private settled(batch: Batch, err?: unknown): void {
    this.inflight--;
    if (this.abort.signal.aborted) return; // closing with a timeout: the spool keeps the batch
    // Bookkeeping first: a listener that throws must not leave the buffer counted as full.
    this.spooling(() => this.spool?.done(batch.seq));
    this.unsettled.delete(batch.seq);
    this.held.events -= batch.events.length;
    this.held.bytes -= batch.bytes;
    let rejected: RejectedError | undefined;
    if (err === undefined) this.counts.confirmed += batch.events.length;
    else {
      rejected =
        err instanceof RejectedError
          ? err
          : new RejectedError(0, 'internal', `sending failed: ${(err as Error).message}`, batch.events);
      this.counts.rejected += batch.events.length;
      this.rejections.push(rejected);
    }
    this.pump();
    for (const w of this.waiters.splice(0)) w();
    if (rejected) this.report(rejected);
    else this.emit('confirmed', { events: batch.events.length, ids: batch.events.map((e) => e.id) });
  }

  /** A spool that cannot be written costs durability, not delivery: say so and go on. */
  private spooling(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.report(
        new SdkError('spool', `could not write the spool file: ${(err as Error).message}`, { cause: err }),
      );
    }
  }

  /** To 'error' listeners when there are any; flush() and close() report refusals either way. */
  private report(err: SdkError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private get idle(): boolean {
    return this.buffer.length === 0 && this.queue.length === 0 && this.inflight === 0;
  }

  /**
   * Sends what is buffered and resolves once every event tracked so far is confirmed. Rejects with
   * RejectedError when batches were refused since the last flush, or with code timeout after
   * timeoutMs (sending goes on).
   */
  async flush(timeoutMs?: number): Promise<void> {
    this.cut();
    // Only what is tracked so far: events tracked meanwhile do not keep this flush waiting.
    const upTo = this.seq;
    const waiting = () => [...this.unsettled].some((s) => s <= upTo);
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    while (waiting()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new SdkError(
          'timeout',
          `${this.held.events} events are still unconfirmed after ${timeoutMs} ms (server slow or unreachable)` +
            (this.spool ? `; they stay in ${this.spool.path}` : ''),
        );
      }
      await new Promise<void>((r) => {
        const t = Number.isFinite(left) ? setTimeout(r, left) : undefined;
        this.waiters.push(() => {
          if (t) clearTimeout(t);
          r();
        });
      });
    }
    const errors = this.rejections.splice(0);
    if (errors.length > 0) throw combineRejections(errors);
  }

  /**
   * Stops taking events and resolves once everything is confirmed (then closes the transport).
   * With timeoutMs it gives up after that long: what is unconfirmed stays in the spool file (when
   * spooling) for the next start, and close rejects with code timeout naming how many.
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.closed = true;
    try {
      await this.flush(opts.timeoutMs);
    } catch (err) {
      if (err instanceof SdkError && err.code === 'timeout') this.abort.abort(err);
      throw err;
    } finally {
      for (const w of this.waiters.splice(0)) w();
      if (!this.shut && (this.idle || this.abort.signal.aborted)) {
        this.shut = true;
        await this.transport.close();
        this.spool?.close();
      }
    }
  }
}
