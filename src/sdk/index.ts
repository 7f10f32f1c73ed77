// Warren's SDK: one client, two transports.
//
//   import { createClient } from 'warren/sdk';
//   const warren = createClient({ transport: 'http', url: 'http://127.0.0.1:5046', cliente: 'web' });
//   warren.track('click');
//   await warren.close(); // resolves once every event is confirmed
//
// Over HTTP it posts batches to the ingest gateway (202 = the broker has them); over AMQP it
// publishes straight to the exchange with publisher confirms.
import { type AmqpTransportOptions, amqpTransport } from './amqp.js';
import { WarrenClient } from './client.js';
import { SdkError } from './errors.js';
import { type HttpTransportOptions, httpTransport } from './http.js';
import type { ClientOptions } from './options.js';
import type { RetryInfo } from './transport.js';

// The route that serves the browser snippet; the stack registers it on the ingest gateway.
export { defaultSnippetPath, registerSnippet } from './browser/route.js';
export { WarrenClient } from './client.js';
export { BufferFullError, RejectedError, SdkError, type SdkErrorCode } from './errors.js';
export type { ClientOptions, ClientStats, TrackOptions } from './options.js';
export { readSpool } from './spool.js';
export type { RetryInfo, SdkEvent } from './transport.js';
export type { AmqpTransportOptions, HttpTransportOptions };

export type HttpClientOptions = ClientOptions & HttpTransportOptions & { transport: 'http' };
export type AmqpClientOptions = ClientOptions & AmqpTransportOptions & { transport: 'amqp'; cliente: string };
export type CreateClientOptions = HttpClientOptions | AmqpClientOptions;

/** The gateway takes at most 1,000 events per request (CONTRACT.md, POST /events). */
const HTTP_MAX_BATCH = 1000;

export function createClient(opts: CreateClientOptions): WarrenClient {
  let client: WarrenClient | undefined;
  const onRetry = (info: RetryInfo) => client?.emit('retry', info);
  if (opts.transport === 'http') {
    if (!/^https?:\/\/\S+$/.test(opts.url ?? '')) {
      throw new SdkError(
        'invalid_options',
        `url must be the gateway's http(s):// base URL; got ${JSON.stringify(opts.url)}`,
      );
    }
    const batchSize = opts.batchSize ?? 500;
    if (batchSize < 1 || batchSize > HTTP_MAX_BATCH) {
      throw new SdkError(
        'invalid_options',
        `batchSize must be 1-${HTTP_MAX_BATCH} over HTTP; got ${batchSize}`,
      );
    }
    client = new WarrenClient(httpTransport(opts, onRetry), { ...opts, batchSize });
    return client;
  }
  if (opts.transport === 'amqp') {
    if (!opts.cliente) throw new SdkError('invalid_options', 'cliente is required with the AMQP transport');
    client = new WarrenClient(amqpTransport(opts), { ...opts, batchSize: opts.batchSize ?? 250 });
    return client;
  }
  throw new SdkError(
    'invalid_options',
    `transport must be 'http' or 'amqp'; got ${JSON.stringify((opts as { transport?: unknown }).transport)}`,
  );
}
