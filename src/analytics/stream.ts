// GET /api/v1/stream: Server-Sent Events, one `batch` message per committed batch. The messages
// are written from the consumer's thread, so the stream is bounded: at most STREAM_MAX open per
// instance (503 past it) and STREAM_MAX_PER_ADDRESS per client address (429), and a reader that
// does not read is dropped once STREAM_MAX_BUFFER_BYTES wait for it, never buffered without limit
// (https://nodejs.org/api/stream.html#writablewritablelength).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AnalyticsHandler, BatchCommitted } from './consumer.js';

export interface StreamOptions {
  /** STREAM_MAX: open streams per instance. */
  max: number;
  /** STREAM_MAX_PER_ADDRESS: open streams per client address. */
  maxPerAddress: number;
  /** STREAM_MAX_BUFFER_BYTES: bytes written but not yet taken by a reader before it is dropped. */
  maxBufferBytes: number;
}

export const DEFAULT_STREAMS: StreamOptions = { max: 256, maxPerAddress: 16, maxBufferBytes: 1024 * 1024 };

const PING_MS = 15_000;

export interface Streams {
  /** Open streams now. */
  readonly open: number;
  /** Readers dropped for not reading since the start. */
  readonly dropped: number;
}

/** Refuses a new stream past STREAM_MAX (503) or past STREAM_MAX_PER_ADDRESS for its address (429). */
function admit(opts: StreamOptions, open: number, ofAddress: number): void {
  if (open >= opts.max) {
    throw new WarrenError(
      'overloaded',
      `This analytics instance has ${opts.max} event streams open (STREAM_MAX); retry later.`,
      { status: 503, retryAfterS: 5 },
    );
  }
  if (ofAddress >= opts.maxPerAddress) {
    throw new WarrenError(
      'rate_limited',
      `This address has ${opts.maxPerAddress} event streams open (STREAM_MAX_PER_ADDRESS); close one first.`,
      { status: 429, retryAfterS: 5 },
    );
  }
}

/**
 * Writes one `batch` message per committed batch to res, and a ping every 15 s, until res closes;
 * a reader with more than maxBufferBytes waiting is dropped (onDrop) instead of buffered.
 */
function serveBatches(
  res: ServerResponse,
  handler: AnalyticsHandler,
  maxBufferBytes: number,
  on: { drop: (buffered: number) => void; close: () => void },
): void {
  let closed = false;
  const write = (chunk: string) => {
    if (closed) return;
    if (res.writableLength + chunk.length > maxBufferBytes) {
      on.drop(res.writableLength);
      res.destroy();
      return;
    }
    res.write(chunk);
  };
  const send = (b: BatchCommitted) => write(`event: batch\ndata: ${JSON.stringify(b)}\n\n`);
  const ping = setInterval(() => write(': ping\n\n'), PING_MS);
  handler.on('batch', send);
  res.on('close', () => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    handler.off('batch', send);
    on.close();
  });
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  write('retry: 1000\n\n');
}

export function installStream(
  app: FastifyInstance,
  handler: AnalyticsHandler,
  opts: StreamOptions,
  log: Logger,
): Streams {
  const perAddress = new Map<string, number>();
  const state = { open: 0, dropped: 0 };

  function open(req: FastifyRequest, reply: FastifyReply): void {
    const address = req.ip;
    admit(opts, state.open, perAddress.get(address) ?? 0);
    state.open++;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    reply.hijack();
    serveBatches(reply.raw, handler, opts.maxBufferBytes, {
      drop: (buffered) => {
        state.dropped++;
        log.warn(
          { address, buffered },
          'dropping an event stream reader that does not read (STREAM_MAX_BUFFER_BYTES)',
        );
      },
      close: () => {
        state.open--;
        const n = (perAddress.get(address) ?? 1) - 1;
        if (n > 0) perAddress.set(address, n);
        else perAddress.delete(address);
      },
    });
  }

  app.get('/api/v1/stream', async (req, reply) => open(req, reply));

  return {
    get open() {
      return state.open;
    },
    get dropped() {
      return state.dropped;
    },
  };
}
