// The SDK's errors: each has a `code` a program can branch on and a message that names the cause
// and the fix. They are not the server's WarrenError (that one maps onto HTTP answers).
import type { SdkEvent } from './transport.js';

export type SdkErrorCode =
  | 'invalid_options'
  | 'invalid_event'
  | 'buffer_full'
  | 'rejected'
  | 'closed'
  | 'timeout'
  | 'spool';

export class SdkError extends Error {
  readonly code: SdkErrorCode;
  constructor(code: SdkErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'SdkError';
    this.code = code;
  }
}

/** track() found the local buffer full: the event was NOT taken; the caller decides what to do. */
export class BufferFullError extends SdkError {
  constructor(
    readonly limit: 'events' | 'bytes',
    held: { events: number; bytes: number },
    max: { events: number; bytes: number },
  ) {
    super(
      'buffer_full',
      `the event was not tracked: the local buffer is full (${held.events}/${max.events} events, ` +
        `${held.bytes}/${max.bytes} bytes waiting for the server to confirm); the server is slow or ` +
        'unreachable. Wait with `await client.waitForSpace()` and track again, or raise maxBufferEvents/maxBufferBytes.',
    );
    this.name = 'BufferFullError';
  }
}

/** The server refused a batch for good (400, 401, 403, 413, …): retrying would not help. */
export class RejectedError extends SdkError {
  constructor(
    /** HTTP status, or 0 when the refusal did not come from HTTP. */
    readonly status: number,
    /** The server's error code from the JSON error body (`invalid_event`, `unauthorized`, …). */
    readonly serverCode: string,
    message: string,
    /** The events of the refused batch (none of them was published). */
    readonly events: SdkEvent[],
    /** The server's `details` (each bad index and field for a 400). */
    readonly details: unknown[] = [],
  ) {
    super('rejected', message);
    this.name = 'RejectedError';
  }
}

/** What flush() and close() reject with when batches were refused since the last flush. */
export function combineRejections(errors: RejectedError[]): RejectedError {
  if (errors.length === 1) return errors[0]!;
  const first = errors[0]!;
  const events = errors.flatMap((e) => e.events);
  return new RejectedError(
    first.status,
    first.serverCode,
    `${errors.length} batches (${events.length} events) were refused by the server; the first: ${first.message}`,
    events,
    errors.flatMap((e) => e.details),
  );
}
